#!/usr/bin/env bash
#
# bench/targets.sh: delivery targets against the peer that bounds them, in
# one run: the Redis target's delivery rate beside redis-benchmark's
# pipelined XADD rate for entries of the same size, and the commit-to-Redis
# latency at 200 transactions per second.
#
#   bash bench/targets.sh                    # RUNS=3 SCALE=1
#   RUNS=1 SCALE=0.1 bash bench/targets.sh   # quick run
#
# Like bench/run.sh it runs as root (or through sudo), installs what it
# needs, builds and installs the extension, and starts a throwaway cluster
# and a redis-server (appendonly yes, appendfsync always: the setting the
# README asks for) on unix sockets in a mktemp directory, removed on exit.
# bench/node/targets.js measures; the medians are printed and written to
# bench/results/targets.md (every sample: targets.json).  Nothing here is
# pass/fail.
#
# Environment: RUNS=3 SCALE=1 LATENCY_TPS=200 LATENCY_SECONDS=5 BATCH=500
#   RESULTS_DIR (bench/results) SKIP_DEPS=1 (reruns) KEEP=1 (keep scratch)

set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
PG_CONFIG=$PGBIN/pg_config
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
		[[ -S $WORK/redis.sock ]] && redis-cli -s "$WORK/redis.sock" shutdown nosave >/dev/null 2>&1
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

. "$REPO/scripts/as-root.sh"
as_root "RUNS SCALE LATENCY_TPS LATENCY_SECONDS BATCH RESULTS_DIR SKIP_DEPS KEEP" "${BASH_SOURCE[0]}" "$@"

RUNS=${RUNS:-3}
SCALE=${SCALE:-1}
RESULTS_DIR=${RESULTS_DIR:-$BENCH/results}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "SCALE must be a positive number"

heading "Dependencies"
if [[ ${SKIP_DEPS:-0} == 1 ]]; then
	echo "skipped (SKIP_DEPS=1)"
else
	bash "$REPO/scripts/install-deps.sh"
	extra=()
	command -v node >/dev/null 2>&1 || extra+=(nodejs)
	command -v npm >/dev/null 2>&1 || extra+=(npm)
	[[ -x $PGBIN/pgbench ]] || extra+=(postgresql-contrib-15)
	if [[ ${#extra[@]} -gt 0 ]]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${extra[@]}"
	fi
	(cd "$BENCH/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
[[ -d $BENCH/node/node_modules/redis ]] || die "bench/node/node_modules is missing: run without SKIP_DEPS=1"
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || die "redis-server/redis-benchmark not found"

heading "Building and installing pgcdc_drasi"
env -u PROFILE -u RUNS -u SCALE make -C "$REPO" -s PG_CONFIG="$PG_CONFIG"
env -u PROFILE -u RUNS -u SCALE make -C "$REPO" -s install PG_CONFIG="$PG_CONFIG" >/dev/null

heading "Throwaway cluster and redis-server"
WORK=$(mktemp -d /tmp/pgcdc_bench_targets.XXXXXX)
chown postgres: "$WORK"
chmod 700 "$WORK"
cd "$WORK"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres \
	-E UTF8 --locale=C.UTF-8 --no-instructions >/dev/null
cat >>"$WORK/data/postgresql.conf" <<CONF

# pgcdc_drasi target benchmark: PostgreSQL defaults except
wal_level = logical
shared_buffers = 1GB
synchronous_commit = on
shared_preload_libraries = 'pgcdc_drasi'
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
CONF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
mkdir "$WORK/redis"
redis-server --port 0 --unixsocket "$WORK/redis.sock" --unixsocketperm 777 --dir "$WORK/redis" \
	--appendonly yes --appendfsync always --save '' --daemonize yes \
	--pidfile "$WORK/redis/redis.pid" --logfile "$WORK/redis/redis.log"
for _ in $(seq 1 100); do
	redis-cli -s "$WORK/redis.sock" ping >/dev/null 2>&1 && break
	sleep 0.1
done
echo "cluster $WORK/data, redis $WORK/redis.sock"

MACHINE=$(
	printf 'date: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	printf 'CPU: %s, nproc %s\n' "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(nproc)"
	printf 'memory: %s\n' "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	printf 'PostgreSQL: %s; %s\n' "$("$PGBIN/postgres" --version)" "$(redis-server --version | cut -d' ' -f1-3)"
	printf 'pgcdc_drasi: git %s\n' "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
)
printf '%s\n' "$MACHINE"

heading "Benchmark (RUNS=$RUNS SCALE=$SCALE)"
BENCH_SOCKDIR=$WORK BENCH_PORT=$PORT BENCH_PGBIN=$PGBIN BENCH_WORK=$WORK BENCH_RESULTS=$RESULTS_DIR \
BENCH_REDIS_SOCK=$WORK/redis.sock BENCH_MACHINE=$MACHINE RUNS=$RUNS SCALE=$SCALE \
	node "$BENCH/node/targets.js"
echo
echo "bench: written $RESULTS_DIR/targets.md and targets.json"
