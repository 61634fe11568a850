#!/usr/bin/env bash
#
# bench/targets.sh: delivery targets beside the peers that bound them, in
# one run: the Redis target's delivery rate beside redis-benchmark's
# pipelined XADD rate for entries of the same size, the commit-to-Redis
# latency at 200 transactions per second, and the HTTP target's delivery
# rate to the local receiver of the tests (test/node/http_receiver.js,
# which implements Drasi's HTTP source contract) for several batch sizes.
#
#   bash bench/targets.sh                    # RUNS=3 SCALE=1
#   RUNS=1 SCALE=0.1 bash bench/targets.sh   # quick run
#
# Like bench/run.sh (whose helpers are in bench/common.sh) it runs as root
# (or through sudo), installs what it needs, builds and installs the
# extension, and starts a throwaway cluster, a redis-server (appendonly
# yes, appendfsync always: the setting the README asks for) on unix
# sockets and the HTTP receiver on a local port, all removed on exit.
# bench/node/targets.js measures; the medians are printed and written to
# bench/results/targets.md (every sample: targets.json).  Nothing here is
# pass/fail.
#
# Environment: RUNS=3 SCALE=1 LATENCY_TPS=200 LATENCY_SECONDS=5 BATCH=500
#   HTTP_BATCHES="100 500 1000" PG_VERSION=15 (17, 18) RESULTS_DIR
#   (bench/results) SKIP_DEPS=1 (reruns) KEEP=1 (keep the scratch directory)
#   REDIS_APPENDFSYNC=always (everysec, no: what Redis's fsyncs cost)

set -euo pipefail

PG_VERSION=${PG_VERSION:-15}
PORT=5432
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
. "$BENCH/common.sh"
RECEIVER_PID=

bench_cleanup_extra()
{
	[[ -n $RECEIVER_PID ]] && kill "$RECEIVER_PID" 2>/dev/null
	[[ -n $WORK && -S $WORK/redis.sock ]] && redis-cli -s "$WORK/redis.sock" shutdown nosave >/dev/null 2>&1
	return 0
}

. "$REPO/scripts/as-root.sh"
as_root "PG_VERSION REDIS_APPENDFSYNC RUNS SCALE LATENCY_TPS LATENCY_SECONDS BATCH HTTP_BATCHES RESULTS_DIR SKIP_DEPS KEEP EXTENSION_TREE" "${BASH_SOURCE[0]}" "$@"

RUNS=${RUNS:-3}
SCALE=${SCALE:-1}
REDIS_APPENDFSYNC=${REDIS_APPENDFSYNC:-always}
[[ $REDIS_APPENDFSYNC =~ ^(always|everysec|no)$ ]] || die "REDIS_APPENDFSYNC must be always, everysec or no"
RESULTS_DIR=${RESULTS_DIR:-$BENCH/results}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "SCALE must be a positive number"

bench_dependencies
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
	die "redis-server/redis-benchmark not found (scripts/install-deps.sh installs them)"
[[ -d $BENCH/node/node_modules/redis ]] || die "bench/node/node_modules is missing: run without SKIP_DEPS=1"
bench_postgres
bench_build
bench_cluster </dev/null

heading "redis-server and the HTTP receiver"
mkdir "$WORK/redis"
redis-server --port 0 --unixsocket "$WORK/redis.sock" --unixsocketperm 777 --dir "$WORK/redis" \
	--appendonly yes --appendfsync "$REDIS_APPENDFSYNC" --save '' --daemonize yes \
	--pidfile "$WORK/redis/redis.pid" --logfile "$WORK/redis/redis.log"
for _ in $(seq 1 100); do
	redis-cli -s "$WORK/redis.sock" ping >/dev/null 2>&1 && break
	sleep 0.1
done
HTTP_PORT=$((20000 + RANDOM % 20000))
node "$REPO/test/node/http_receiver.js" "$HTTP_PORT" bt --quiet >"$WORK/receiver.log" 2>&1 &
RECEIVER_PID=$!
for _ in $(seq 1 100); do
	curl -sf "http://127.0.0.1:$HTTP_PORT/_stats" >/dev/null 2>&1 && break
	sleep 0.1
done
echo "redis $WORK/redis.sock ($(redis-server --version | cut -d' ' -f3)), HTTP receiver on port $HTTP_PORT"
bench_machine

heading "Benchmark (RUNS=$RUNS SCALE=$SCALE)"
BENCH_SOCKDIR=$WORK BENCH_PORT=$PORT BENCH_PGBIN=$PGBIN BENCH_WORK=$WORK BENCH_RESULTS=$RESULTS_DIR \
BENCH_REDIS_SOCK=$WORK/redis.sock BENCH_HTTP_PORT=$HTTP_PORT BENCH_MACHINE=$MACHINE RUNS=$RUNS SCALE=$SCALE \
	REDIS_APPENDFSYNC=$REDIS_APPENDFSYNC \
	node "$BENCH/node/targets.js"
echo
echo "bench: written $RESULTS_DIR/targets.md and targets.json"
