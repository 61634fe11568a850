#!/usr/bin/env bash
#
# bench/http.sh: delivery rate of an HTTP target (drasi-http format, batch
# endpoint) to the local receiver of the tests (test/node/http_receiver.js,
# run with --quiet: it checks each event and keeps counts only).
#
#   PGBIN=<bin dir of a PostgreSQL with pgcdc_drasi installed> bash bench/http.sh
#
# Without PGBIN it uses the newest private installation left by
#   PG_VERSION=15 KEEP_TMP=1 SCRATCH_ROOT=<dir> bash test/run.sh ...
# under SCRATCH_ROOT (default /tmp).  It makes a throwaway cluster in a
# mktemp directory (removed on exit), queues EVENTS events (default
# 100,000: one-row inserts in transactions of 1,000 rows) with no target,
# then creates a target with start_at "earliest" and times how long it
# takes to deliver them all, for each batch size in BATCH_SIZES (default
# "100 500 1000").  Nothing here is pass/fail.  As root it runs the
# cluster as the postgres OS user.
set -euo pipefail

EVENTS=${EVENTS:-100000}
BATCH_SIZES=${BATCH_SIZES:-"100 500 1000"}
HERE=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${PGBIN:-}" ]; then
	inst=$(ls -dt "${SCRATCH_ROOT:-/tmp}"/pgcdc_drasi_test.*/pg/usr/lib/postgresql/*/bin 2>/dev/null | head -1 || true)
	[ -n "$inst" ] || { echo "bench/http.sh: set PGBIN (no kept test installation found)" >&2; exit 1; }
	PGBIN=$inst
fi
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	as_pg=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/pgcdc_http_bench.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
port=$((20000 + RANDOM % 20000))
hport=$((port + 1))
recv_pid=
cleanup()
{
	[ -n "$recv_pid" ] && kill "$recv_pid" 2>/dev/null || true
	"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

"${as_pg[@]}" "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
cat >>"$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
wal_level = logical
shared_preload_libraries = 'pgcdc_drasi'
max_worker_processes = 16
EOF
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
psql()
{
	"${as_pg[@]}" "$PGBIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"
}

node "$HERE/test/node/http_receiver.js" "$hport" bench --quiet >"$dir/receiver.log" 2>&1 &
recv_pid=$!
sleep 1

psql <<EOF
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE bench_t (id bigint PRIMARY KEY, name text, amount numeric, status text);
CREATE PUBLICATION bench_pub FOR TABLE bench_t;
SELECT pgcdc_drasi.create_source('bench', 'bench_pub', bootstrap => false);
-- keeps every event queued for the next batch size (retention)
SELECT pgcdc_drasi.create_consumer('keep', 'bench');
EOF
for _ in $(seq 1 100); do
	[ "$(psql -c "SELECT state FROM pgcdc_drasi.status WHERE source_id = 'bench'")" = streaming ] && break
	sleep 0.2
done
for ((i = 0; i < EVENTS; i += 1000)); do
	echo "INSERT INTO bench_t SELECT g, 'name ' || g, g * 1.5, 'new' FROM generate_series($((i + 1)), $((i + 1000))) g;"
done | psql
psql -c "SELECT pgcdc_drasi.wait_for_catchup('bench')" >/dev/null
last=$(psql -c "SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'bench'")
echo "bench/http.sh: $last events queued; PostgreSQL $("$PGBIN/pg_config" --version), $(nproc) cores"

for bs in $BATCH_SIZES; do
	curl -s -XPOST "http://127.0.0.1:$hport/_control/clear" >/dev/null
	start=$(date +%s.%N)
	psql -c "SELECT pgcdc_drasi.create_target('b$bs', 'bench', kind => 'http',
		url => 'http://127.0.0.1:$hport/sources/bench/events',
		options => '{\"format\": \"drasi-http\", \"batch_size\": $bs}')" >/dev/null
	until [ "$(psql -c "SELECT delivered_seq FROM pgcdc_drasi.target_status WHERE target_id = 'b$bs'")" = "$last" ]; do
		sleep 0.05
	done
	end=$(date +%s.%N)
	got=$(curl -s "http://127.0.0.1:$hport/_stats")
	psql -c "SELECT pgcdc_drasi.drop_target('b$bs')" >/dev/null
	awk -v n="$last" -v s="$start" -v e="$end" -v bs="$bs" -v got="$got" \
		'BEGIN { printf "batch_size %5d: %d events in %.2f s = %.0f events/s (receiver: %s)\n", bs, n, e - s, n / (e - s), got }'
done
