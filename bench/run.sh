#!/usr/bin/env bash
#
# bench/run.sh: throughput, writer overhead, latency and memory of
# pgcdc_drasi, compared with PostgreSQL's own logical replication consumers.
#
#   bash bench/run.sh                     # default: RUNS=3 SCALE=1
#   RUNS=1 SCALE=0.1 bash bench/run.sh    # quick run
#
# Run as root on Debian bookworm, or as a user who may use sudo (it then
# runs itself through sudo, keeping the variables below).  It installs what
# it needs (scripts/install-deps.sh, Node.js + the npm package pg from
# bench/node/package-lock.json, linux-perf if PERF=1), builds and installs
# the extension, creates a throwaway cluster in a mktemp directory (unix
# socket only; PostgreSQL defaults except the settings below) and removes it
# on exit, whatever happens.  bench/node/bench.js does the measuring: see the
# comment at its top.  The median table is printed and written to
# bench/results/latest.md (every sample: bench/results/latest.json).
#
# Environment:
#   RUNS=3            repetitions of the whole set (medians are reported)
#   SCALE=1           multiplies the workload sizes (W1 1,000,000 inserts,
#                     W2 100,000 transactions, W3 200,000 updates)
#   CONCURRENT_W2=1   0 skips W2 in concurrent mode (saves 3-4 min per run)
#   LATENCY_TPS=200 LATENCY_SECONDS=5
#   PERF=0            1: after the runs, one more W1 drain of the queue sink
#                     under perf (worker + its walsender); top functions go
#                     into the report.  RUNS=0 PERF=1 profiles only.
#   PHASES=0          1: after the runs, when the first change of W1 reaches
#                     pg_recvlogical with protocol 1 and with streaming.
#   PG_VERSION=15     15: Debian's packages; 17 or 18: built from Debian's
#                     source packages by scripts/install-pg.sh (without
#                     assertions) into /var/cache/pgcdc_drasi, cached
#   RESULTS_DIR=...   where latest.md / latest.json go (default bench/results)
#   SKIP_DEPS=1       skip package installation (reruns)
#   KEEP=1            keep the scratch directory (server log) on exit
#
# Nothing here is pass/fail: the exit status is non-zero only when the
# benchmark could not measure (error, timeout, wrong number of changes).

set -euo pipefail

PG_VERSION=${PG_VERSION:-15}
PORT=5432
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
WORK=

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
heading() { printf '\n==== %s ====\n\n' "$*"; }

cleanup()
{
	local rc=$?

	trap - EXIT
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ $rc -ne 0 && -f $WORK/server.log ]]; then
			printf '\n---- last 40 lines of the server log ----\n' >&2
			tail -n 40 "$WORK/server.log" >&2 || true
		fi
		if [[ -f $WORK/data/postmaster.pid ]]; then
			runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
				runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 ||
				true
		fi
		if [[ ${KEEP:-0} == 1 ]]; then
			echo "bench: kept $WORK" >&2
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Root (or a sudoer: the script then runs itself again through sudo).
. "$REPO/scripts/as-root.sh"
as_root "PG_VERSION RUNS SCALE CONCURRENT_W2 LATENCY_TPS LATENCY_SECONDS PERF PHASES RESULTS_DIR SKIP_DEPS KEEP" "${BASH_SOURCE[0]}" "$@"

RUNS=${RUNS:-3}
SCALE=${SCALE:-1}
PERF=${PERF:-0}
PHASES=${PHASES:-0}
RESULTS_DIR=${RESULTS_DIR:-$BENCH/results}
[[ $RUNS =~ ^[0-9]+$ ]] || die "RUNS must be a non-negative integer"
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "SCALE must be a positive number"

case "$PG_VERSION" in
	15) PGBIN=/usr/lib/postgresql/15/bin ;;
	17 | 18) PGBIN= ;;	# after the dependencies: scripts/install-pg.sh
	*) die "PG_VERSION must be 15, 17 or 18 (got '$PG_VERSION')" ;;
esac

heading "Dependencies"
if [[ ${SKIP_DEPS:-0} == 1 ]]; then
	echo "skipped (SKIP_DEPS=1)"
else
	bash "$REPO/scripts/install-deps.sh"
	extra=()
	command -v node >/dev/null 2>&1 || extra+=(nodejs)
	command -v npm >/dev/null 2>&1 || extra+=(npm)
	[[ $PERF == 1 ]] && ! command -v perf >/dev/null 2>&1 && extra+=(linux-perf)
	[[ $PG_VERSION != 15 || -x $PGBIN/pgbench ]] || extra+=(postgresql-contrib-15)
	if [[ ${#extra[@]} -gt 0 ]]; then
		echo "installing ${extra[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${extra[@]}"
	fi
	node_major=$(node -p 'process.versions.node.split(".")[0]')
	[[ $node_major -ge 18 ]] || die "Node.js >= 18 needed (found $(node --version))"
	(cd "$BENCH/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ -z $PGBIN ]]; then
	heading "PostgreSQL $PG_VERSION (scripts/install-pg.sh, cached)"
	PGBIN=$(bash "$REPO/scripts/install-pg.sh" "$PG_VERSION")/bin
fi
PG_CONFIG=$PGBIN/pg_config
[[ -d $BENCH/node/node_modules/pg ]] || die "bench/node/node_modules is missing: run without SKIP_DEPS=1"
[[ -x $PGBIN/pgbench && -x $PGBIN/pg_recvlogical ]] || die "pgbench/pg_recvlogical not found in $PGBIN"

heading "Building and installing pgcdc_drasi"
# PGXS reads some variables from the environment (PROFILE, for one): keep ours out.
# Objects of another version may be in the tree: build from clean.
env -u PERF -u PROFILE -u RUNS -u SCALE make -C "$REPO" -s clean PG_CONFIG="$PG_CONFIG"
env -u PERF -u PROFILE -u RUNS -u SCALE make -C "$REPO" -s PG_CONFIG="$PG_CONFIG"
env -u PERF -u PROFILE -u RUNS -u SCALE make -C "$REPO" -s install PG_CONFIG="$PG_CONFIG" >/dev/null

heading "Throwaway cluster"
WORK=$(mktemp -d /tmp/pgcdc_bench.XXXXXX)
chown postgres: "$WORK"
chmod 700 "$WORK"
cd "$WORK"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres \
	-E UTF8 --locale=C.UTF-8 --no-instructions >/dev/null
cat >>"$WORK/data/postgresql.conf" <<EOF

# pgcdc_drasi benchmark: PostgreSQL defaults except
wal_level = logical
shared_buffers = 1GB
synchronous_commit = on
shared_preload_libraries = 'pgcdc_drasi'
max_wal_senders = 20
max_replication_slots = 20
max_worker_processes = 32
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
EOF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
echo "data directory $WORK/data, socket $WORK, log $WORK/server.log"

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
MACHINE=$(
	printf 'date: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	printf 'CPU: %s, nproc %s\n' "$cpu_model" "$(nproc)"
	printf 'memory: %s\n' "$mem_total"
	printf 'kernel: %s\n' "$(uname -sr)"
	printf 'OS: Debian %s\n' "$(cat /etc/debian_version 2>/dev/null || echo '?')"
	printf 'PostgreSQL: %s\n' "$("$PGBIN/postgres" --version)"
	printf 'Node.js: %s, pg %s\n' "$(node --version)" "$(node -p "require('$BENCH/node/node_modules/pg/package.json').version")"
	printf 'pgcdc_drasi: git %s%s, sha256 of src/*.[ch] %s, of the installed library %s\n' \
		"$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')" \
		"$(cat "$REPO"/src/*.c "$REPO"/src/*.h | sha256sum | cut -c1-12)" \
		"$(sha256sum "$("$PG_CONFIG" --pkglibdir)/pgcdc_drasi.so" | cut -c1-12)"
)
printf '%s\n' "$MACHINE"

heading "Benchmark (RUNS=$RUNS SCALE=$SCALE)"
BENCH_SOCKDIR=$WORK BENCH_PORT=$PORT BENCH_PGBIN=$PGBIN BENCH_WORK=$WORK \
BENCH_SERVER_LOG=$WORK/server.log BENCH_RESULTS=$RESULTS_DIR BENCH_MACHINE=$MACHINE \
RUNS=$RUNS SCALE=$SCALE PERF=$PERF PHASES=$PHASES \
	node "$BENCH/node/bench.js"

echo
echo "bench: written $RESULTS_DIR/latest.md and latest.json"
