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
#   PERF_WORKLOAD=W1  the workload PERF=1 drains (W2, W3)
#   PHASES=0          1: after the runs, when the first change of W1 reaches
#                     pg_recvlogical with protocol 1 and with streaming.
#   PG_VERSION=15     15: Debian's packages; 17 or 18: built from Debian's
#                     source packages by scripts/install-pg.sh (without
#                     assertions) into /var/cache/pgcdc_drasi, cached
#   RESULTS_DIR=...   where latest.md / latest.json go (default bench/results)
#   EXTENSION_TREE=.. build the extension from that checkout instead (an
#                     older commit: before/after with the same benchmark)
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
. "$BENCH/common.sh"

# Root (or a sudoer: the script then runs itself again through sudo).
. "$REPO/scripts/as-root.sh"
as_root "PG_VERSION RUNS SCALE CONCURRENT_W2 LATENCY_TPS LATENCY_SECONDS PERF PERF_WORKLOAD PHASES RESULTS_DIR SKIP_DEPS KEEP EXTENSION_TREE" "${BASH_SOURCE[0]}" "$@"

RUNS=${RUNS:-3}
SCALE=${SCALE:-1}
PERF=${PERF:-0}
PHASES=${PHASES:-0}
RESULTS_DIR=${RESULTS_DIR:-$BENCH/results}
[[ $RUNS =~ ^[0-9]+$ ]] || die "RUNS must be a non-negative integer"
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "SCALE must be a positive number"

extra=()
[[ $PERF == 1 ]] && ! command -v perf >/dev/null 2>&1 && extra+=(linux-perf)
bench_dependencies "${extra[@]}"
bench_postgres
bench_build
bench_cluster <<CONF
max_wal_senders = 20
max_replication_slots = 20
max_worker_processes = 32
CONF
bench_machine

heading "Benchmark (RUNS=$RUNS SCALE=$SCALE)"
BENCH_SOCKDIR=$WORK BENCH_PORT=$PORT BENCH_PGBIN=$PGBIN BENCH_WORK=$WORK \
BENCH_SERVER_LOG=$WORK/server.log BENCH_RESULTS=$RESULTS_DIR BENCH_MACHINE=$MACHINE \
RUNS=$RUNS SCALE=$SCALE PERF=$PERF PERF_WORKLOAD=${PERF_WORKLOAD:-W1} PHASES=$PHASES \
	node "$BENCH/node/bench.js"

echo
echo "bench: written $RESULTS_DIR/latest.md and latest.json"
