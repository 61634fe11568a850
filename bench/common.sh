# bench/common.sh: what bench/run.sh and bench/targets.sh share, sourced
# by them after they set REPO and BENCH: messages, the exit handler that
# stops and removes the throwaway cluster, the dependencies, PostgreSQL of
# the chosen version, building and installing the extension, the cluster,
# and the description of the machine that goes into every report.
#
# Variables a script sets before calling these: PG_VERSION (15, 17, 18),
# PORT; these functions set PGBIN, PG_CONFIG, WORK and MACHINE.  A script
# may define bench_cleanup_extra, which the exit handler calls first.

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
heading() { printf '\n==== %s ====\n\n' "$*"; }

WORK=

# Exit handler: stop the cluster (fast, then immediate), show the end of
# its log when the script failed, remove the scratch directory unless
# KEEP=1.
bench_cleanup()
{
	local rc=$?

	trap - EXIT
	if declare -F bench_cleanup_extra >/dev/null; then
		bench_cleanup_extra || true
	fi
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
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Packages (scripts/install-deps.sh, Node.js, pgbench for 15, and the
# extra Debian packages given as arguments), then the npm packages pinned
# by bench/node/package-lock.json; SKIP_DEPS=1 skips it all.
bench_dependencies()
{
	local extra=("$@")

	heading "Dependencies"
	if [[ ${SKIP_DEPS:-0} == 1 ]]; then
		echo "skipped (SKIP_DEPS=1)"
	else
		bash "$REPO/scripts/install-deps.sh"
		command -v node >/dev/null 2>&1 || extra+=(nodejs)
		command -v npm >/dev/null 2>&1 || extra+=(npm)
		[[ $PG_VERSION != 15 || -x /usr/lib/postgresql/15/bin/pgbench ]] || extra+=(postgresql-contrib-15)
		if [[ ${#extra[@]} -gt 0 ]]; then
			echo "installing ${extra[*]}"
			DEBIAN_FRONTEND=noninteractive apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${extra[@]}"
		fi
		[[ $(node -p 'process.versions.node.split(".")[0]') -ge 18 ]] ||
			die "Node.js >= 18 needed (found $(node --version))"
		(cd "$BENCH/node" && npm ci --no-audit --no-fund --loglevel=error)
	fi
	[[ -d $BENCH/node/node_modules/pg ]] || die "bench/node/node_modules is missing: run without SKIP_DEPS=1"
}

# PGBIN and PG_CONFIG of PG_VERSION: 15 is Debian's; 17 and 18 are built
# by scripts/install-pg.sh (without assertions: they are far too slow for
# timings) into /var/cache/pgcdc_drasi, once.
bench_postgres()
{
	case "$PG_VERSION" in
		15) PGBIN=/usr/lib/postgresql/15/bin ;;
		17 | 18)
			heading "PostgreSQL $PG_VERSION (scripts/install-pg.sh, cached)"
			PGBIN=$(bash "$REPO/scripts/install-pg.sh" "$PG_VERSION")/bin
			;;
		*) die "PG_VERSION must be 15, 17 or 18 (got '$PG_VERSION')" ;;
	esac
	PG_CONFIG=$PGBIN/pg_config
	[[ -x $PGBIN/pgbench && -x $PGBIN/pg_recvlogical ]] || die "pgbench/pg_recvlogical not found in $PGBIN"
}

# Build from clean (objects of another version may be in the tree) and
# install.  PGXS reads some variables from the environment (PROFILE, for
# one): keep the benchmarks' own out.
#
# EXTENSION_TREE=<dir> builds the extension from another checkout (an older
# commit, for a before/after comparison with the same benchmark code).
bench_build()
{
	local tree=${EXTENSION_TREE:-$REPO}

	heading "Building and installing pgcdc_drasi from $tree"
	env -u PERF -u PROFILE -u RUNS -u SCALE make -C "$tree" -s clean PG_CONFIG="$PG_CONFIG"
	env -u PERF -u PROFILE -u RUNS -u SCALE make -C "$tree" -s PG_CONFIG="$PG_CONFIG"
	env -u PERF -u PROFILE -u RUNS -u SCALE make -C "$tree" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# A throwaway cluster in a mktemp directory, unix socket only, PostgreSQL's
# defaults except the settings below and the lines given on stdin.
bench_cluster()
{
	heading "Throwaway cluster"
	WORK=$(mktemp -d /tmp/pgcdc_bench.XXXXXX)
	chown postgres: "$WORK"
	chmod 700 "$WORK"
	cd "$WORK"
	runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres \
		-E UTF8 --locale=C.UTF-8 --no-instructions >/dev/null
	{
		printf '\n# pgcdc_drasi benchmark: PostgreSQL defaults except\n'
		printf "wal_level = logical\nshared_buffers = 1GB\nsynchronous_commit = on\n"
		printf "shared_preload_libraries = 'pgcdc_drasi'\nlisten_addresses = ''\n"
		printf "unix_socket_directories = '%s'\nport = %s\n" "$WORK" "$PORT"
		cat
	} >>"$WORK/data/postgresql.conf"
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
	echo "data directory $WORK/data, socket $WORK, log $WORK/server.log"
}

# MACHINE: what a report says of the machine and of what was measured.
bench_machine()
{
	MACHINE=$(
		printf 'date: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
		printf 'CPU: %s, nproc %s\n' "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(nproc)"
		printf 'memory: %s\n' "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
		printf 'kernel: %s\n' "$(uname -sr)"
		printf 'OS: Debian %s\n' "$(cat /etc/debian_version 2>/dev/null || echo '?')"
		printf 'PostgreSQL: %s\n' "$("$PGBIN/postgres" --version)"
		printf 'Node.js: %s, pg %s\n' "$(node --version)" "$(node -p "require('$BENCH/node/node_modules/pg/package.json').version")"
		printf 'pgcdc_drasi: git %s%s, sha256 of src/*.[ch] %s, of the installed library %s\n' \
			"$(git -C "${EXTENSION_TREE:-$REPO}" rev-parse --short HEAD 2>/dev/null || echo '?')" \
			"$(git -C "${EXTENSION_TREE:-$REPO}" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')" \
			"$(cat "${EXTENSION_TREE:-$REPO}"/src/*.c "${EXTENSION_TREE:-$REPO}"/src/*.h | sha256sum | cut -c1-12)" \
			"$(sha256sum "$("$PG_CONFIG" --pkglibdir)/pgcdc_drasi.so" | cut -c1-12)"
	)
	printf '%s\n' "$MACHINE"
}
