#!/usr/bin/env bash
#
# demo/run.sh: end-to-end demonstration of pgcdc_drasi.
#
#   bash demo/run.sh
#
# Run it as root, or as a user who may use sudo (it then runs itself through
# sudo), on a fresh Debian bookworm machine.  It installs the build
# dependencies, builds and installs the extension, starts a throwaway
# PostgreSQL 15 cluster in a temporary directory (unix socket only, no TCP),
# and walks through the story:
#
#   1. create the extension, three tables, a publication and a source;
#   2. one multi-row transaction, an update, a key change, a delete and a
#      TRUNCATE; wait_for_catchup; print the queued events and the status;
#   3. a NOTIFY listener, a durable consumer, and a Redis target: a real
#      redis-server (unix socket in the temporary directory) receives the
#      events in the stream layout Drasi's platform source reads;
#   4. 20 bulk transactions, then an immediate (crash) restart of the server
#      while the worker is busy; more changes; wait_for_catchup; check that
#      every change is in the queue exactly once and in commit order, and
#      in the Redis stream exactly once too.
#
# The cluster is stopped and its directory removed on exit, whatever happens.
# Set PGCDC_DEMO_SKIP_DEPS=1 to skip scripts/install-deps.sh on reruns.

set -euo pipefail

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
BINDIR=/usr/lib/postgresql/15/bin
PORT=5432
DB=shop
SOURCE=orders-db

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=

heading()
{
	printf '\n==== %s ====\n\n' "$*"
}

die()
{
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

cleanup()
{
	local rc=$?

	trap - EXIT
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ $rc -ne 0 && -f $WORK/server.log ]]; then
			printf '\n---- last 40 lines of the server log ----\n' >&2
			tail -n 40 "$WORK/server.log" >&2 || true
		fi
		if [[ -S $WORK/redis.sock ]]; then
			redis-cli -s "$WORK/redis.sock" shutdown nosave >/dev/null 2>&1 || true
		fi
		if [[ -f $WORK/data/postmaster.pid ]]; then
			runuser -u postgres -- "$BINDIR/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 ||
				runuser -u postgres -- "$BINDIR/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 ||
				true
		fi
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# psql as postgres over the cluster's socket.  Extra arguments go to psql;
# the SQL comes on standard input.
sql()
{
	runuser -u postgres -- "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -P pager=off \
		-h "$WORK" -p "$PORT" -d "$DB" "$@"
}

# Like sql, but echoes every statement before its result.
story()
{
	sql --echo-all
}

pg_ctl()
{
	runuser -u postgres -- "$BINDIR/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" "$@"
}

# Root (or a sudoer: the script then runs itself again through sudo).
. "$REPO/scripts/as-root.sh"
as_root "PGCDC_DEMO_SKIP_DEPS" "${BASH_SOURCE[0]}" "$@"

heading "Installing dependencies (scripts/install-deps.sh)"
if [[ ${PGCDC_DEMO_SKIP_DEPS:-0} == 1 ]]; then
	echo "skipped (PGCDC_DEMO_SKIP_DEPS=1)"
else
	[[ -f $REPO/scripts/install-deps.sh ]] || die "missing $REPO/scripts/install-deps.sh"
	bash "$REPO/scripts/install-deps.sh"
fi
[[ -x $PG_CONFIG ]] || die "$PG_CONFIG not found: is postgresql-server-dev-15 installed?"
id postgres >/dev/null 2>&1 || die "no postgres user: is postgresql-15 installed?"

heading "Building and installing pgcdc_drasi"
make -C "$REPO" PG_CONFIG="$PG_CONFIG"
make -C "$REPO" install PG_CONFIG="$PG_CONFIG"

heading "Starting a throwaway cluster"
WORK=$(mktemp -d /tmp/pgcdc_drasi_demo.XXXXXX)
chown postgres: "$WORK"
chmod 700 "$WORK"
cd "$WORK"	# postgres must be able to read the working directory
runuser -u postgres -- "$BINDIR/initdb" -D "$WORK/data" -A trust -U postgres \
	-E UTF8 --locale=C.UTF-8 --no-instructions >/dev/null
cat >>"$WORK/data/postgresql.conf" <<EOF

# pgcdc_drasi demo
wal_level = logical
shared_preload_libraries = 'pgcdc_drasi'
unix_socket_directories = '$WORK'
listen_addresses = ''
port = $PORT
EOF
pg_ctl -w start >/dev/null
echo "data directory $WORK/data, socket $WORK, log $WORK/server.log"
runuser -u postgres -- "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d postgres \
	-c "CREATE DATABASE $DB"
sql -c "SELECT pid, backend_type FROM pg_stat_activity WHERE backend_type LIKE 'pgcdc_drasi%' ORDER BY 2"

heading "Extension, tables, publication"
story <<'SQL'
CREATE EXTENSION pgcdc_drasi;

-- A table in another schema: ids are qualified (crm.customers:7), the label is not.
CREATE SCHEMA crm;
CREATE TABLE crm.customers (
	id		integer PRIMARY KEY,
	name	text NOT NULL,
	vip		boolean NOT NULL DEFAULT false
);

CREATE TABLE orders (
	id			bigint PRIMARY KEY,
	customer_id	integer NOT NULL,
	status		text NOT NULL,
	amount		numeric(20,2) NOT NULL,
	details		jsonb
);

-- A composite key: values are joined with _ (and a _ inside a value is escaped).
CREATE TABLE order_lines (
	order_id	bigint,
	sku			text,
	qty			integer NOT NULL,
	PRIMARY KEY (order_id, sku)
);

-- No key at all: REPLICA IDENTITY FULL gives each row a hash id.
CREATE TABLE page_views (page text, referrer text);
ALTER TABLE page_views REPLICA IDENTITY FULL;

-- Rows that exist before the source: the initial snapshot publishes them.
CREATE TABLE products (sku text PRIMARY KEY, price numeric(10,2) NOT NULL);
INSERT INTO products SELECT 'P-' || g, g % 1000 + 0.99 FROM generate_series(1, 200000) g;
INSERT INTO crm.customers VALUES (5, 'Grace Hopper', false);

CREATE PUBLICATION drasi_publication
	FOR TABLE crm.customers, orders, order_lines, page_views, products;
SQL

heading "Creating the source: the worker takes the initial snapshot, then streams"
story <<SQL
SELECT pgcdc_drasi.create_source('$SOURCE', publication => 'drasi_publication');
SQL
echo "Snapshot progress (pgcdc_drasi.status), polled until the source streams:"
for _ in $(seq 1 600); do
	line=$(sql -At -c "SELECT state || '  ' || coalesce(snapshot_table || ': ' || snapshot_rows_done || ' of about ' || snapshot_rows_total || ' rows', '') FROM pgcdc_drasi.status WHERE source_id = '$SOURCE'")
	echo "  $line"
	case "$line" in streaming*) break ;; esac
	sleep 0.3
done
story <<SQL
SELECT pgcdc_drasi.wait_for_catchup('$SOURCE');
SELECT label, count(*) AS snapshot_events
FROM pgcdc_drasi.events
WHERE source_id = '$SOURCE' AND (payload #>> '{metadata,snapshot}')::boolean
GROUP BY label ORDER BY label;
SELECT source_id, publication, slot_name, origin_name, enabled, bootstrap FROM pgcdc_drasi.sources;
SELECT slot_name, plugin, database, confirmed_flush_lsn FROM pg_replication_slots;
SQL

heading "One transaction with six rows"
story <<'SQL'
BEGIN;
INSERT INTO crm.customers VALUES (7, 'Ada Lovelace', true);
INSERT INTO orders VALUES
	(1, 7, 'new', 12.50, '{"channel": "web", "coupon": null}'),
	(2, 7, 'new', 12345678901234567.89, NULL);
INSERT INTO order_lines VALUES (1, 'gift_wrap', 1), (1, 'A-100', 2);
INSERT INTO page_views VALUES ('/checkout', NULL);
COMMIT;
SQL

heading "An update, a key change, a delete and a truncate"
story <<'SQL'
UPDATE orders SET status = 'paid' WHERE id = 1;
UPDATE order_lines SET sku = 'A-200' WHERE order_id = 1 AND sku = 'A-100';
DELETE FROM orders WHERE id = 2;
TRUNCATE order_lines;
SQL

heading "Waiting until the worker has published everything committed so far"
story <<SQL
SELECT pgcdc_drasi.wait_for_catchup('$SOURCE');
SQL

heading "The queue (streamed events; the snapshot's are counted above)"
story <<SQL
SELECT seq, op, label, element_id, lsn, xid, tx_index
FROM pgcdc_drasi.events
WHERE source_id = '$SOURCE' AND payload #> '{metadata,snapshot}' IS NULL
ORDER BY seq;

SELECT seq, op, element_id, jsonb_pretty(payload) AS payload
FROM pgcdc_drasi.events
WHERE source_id = '$SOURCE' AND payload #> '{metadata,snapshot}' IS NULL
ORDER BY seq LIMIT 3;
SQL

heading "NOTIFY and a durable consumer"
story <<SQL
SELECT pgcdc_drasi.alter_source('$SOURCE', sink => 'both');
SELECT pgcdc_drasi.create_consumer('demo-reader', '$SOURCE', start_at => 'latest');
SQL
# A psql session listens on the source's channel while a change commits.
sql -c "LISTEN pgcdc_orders_db" -c "SELECT pg_sleep(2)" > "$WORK/listen.out" 2>&1 &
listener=$!
sleep 0.7
story <<SQL
INSERT INTO crm.customers VALUES (8, 'Katherine Johnson', true);
SELECT pgcdc_drasi.wait_for_catchup('$SOURCE');
SQL
wait "$listener" || true
echo "What the LISTEN session received:"
grep -o 'Asynchronous notification.*' "$WORK/listen.out" | cut -c1-220 || true
story <<SQL
SELECT seq, op, element_id FROM pgcdc_drasi.read('demo-reader', 10);
SELECT pgcdc_drasi.ack('demo-reader', (SELECT max(seq) FROM pgcdc_drasi.read('demo-reader', 10)));
SELECT consumer, acked_seq, last_seq, lag_events FROM pgcdc_drasi.consumer_status;
SQL
echo "(demo-reader stays until the end: retention keeps every event it has not acknowledged,"
echo " which the checks below count)"


heading "Delivering to Redis: the stream Drasi's platform source reads"
mkdir "$WORK/redis"
redis-server --port 0 --unixsocket "$WORK/redis.sock" --unixsocketperm 777 \
	--dir "$WORK/redis" --appendonly yes --appendfsync always --save '' \
	--daemonize yes --pidfile "$WORK/redis/redis.pid" --logfile "$WORK/redis/redis.log"
for _ in $(seq 1 100); do
	[[ -S $WORK/redis.sock ]] && redis-cli -s "$WORK/redis.sock" ping >/dev/null 2>&1 && break
	sleep 0.1
done
echo "redis-server on unix socket $WORK/redis.sock (appendonly, appendfsync always)"
story <<SQL
SELECT pgcdc_drasi.create_target('to-drasi', '$SOURCE', kind => 'redis',
	url => 'unix://$WORK/redis.sock',
	options => '{"stream": "orders-db-changes", "start_at": "latest"}');
INSERT INTO crm.customers VALUES (9, 'Dorothy Vaughan', false);
UPDATE crm.customers SET vip = true WHERE id = 9;
SELECT pgcdc_drasi.wait_for_catchup('$SOURCE');
SQL
wait_target_caught_up()
{
	for _ in $(seq 1 600); do
		[[ $(sql -At -c "SELECT lag_events = 0 AND state = 'streaming' FROM pgcdc_drasi.target_status WHERE target_id = 'to-drasi'") == t ]] && return 0
		sleep 0.2
	done
	sql -c "SELECT * FROM pgcdc_drasi.target_status" >&2
	die "target to-drasi did not catch up"
}
wait_target_caught_up
story <<'SQL'
SELECT target_id, kind, state, delivered_seq, last_seq, lag_events, events_delivered FROM pgcdc_drasi.target_status;
SQL
echo
echo "redis-cli XLEN orders-db-changes:  $(redis-cli -s "$WORK/redis.sock" XLEN orders-db-changes)"
echo "The last entry (id <seq>-0, field data = a CloudEvent whose data array holds the event):"
redis-cli -s "$WORK/redis.sock" --raw XREVRANGE orders-db-changes + - COUNT 1 |
	awk 'NR == 3 { print | "python3 -m json.tool" ; next } { print }'
target_first_seq=$(sql -At -c "SELECT min(seq) FROM pgcdc_drasi.events WHERE source_id = '$SOURCE' AND element_id = 'crm.customers:9'")

heading "Status"
story <<'SQL'
\x on
SELECT * FROM pgcdc_drasi.status;
SQL

heading "Restart safety: 20 transactions of 2,500 rows each, then a crash"
story <<'SQL'
DO $$
BEGIN
	FOR b IN 0..19 LOOP
		INSERT INTO orders (id, customer_id, status, amount)
		SELECT g, 7, 'bulk', g / 100.0
		FROM generate_series(1000 + b * 2500, 1000 + b * 2500 + 2499) AS g;
		COMMIT;
	END LOOP;
END
$$;
SQL
story <<SQL
SELECT count(*) AS events_visible_before_the_crash FROM pgcdc_drasi.events WHERE source_id = '$SOURCE';
SQL
echo
echo "pg_ctl restart -m immediate   (no shutdown checkpoint: crash recovery on start)"
pg_ctl -m immediate -w restart >/dev/null
story <<SQL
SELECT source_id, state, events_published, reconnects FROM pgcdc_drasi.status;
SQL

heading "More changes after the restart"
story <<'SQL'
DO $$
BEGIN
	FOR b IN 0..9 LOOP
		INSERT INTO orders (id, customer_id, status, amount)
		SELECT g, 7, 'after-restart', 1
		FROM generate_series(51000 + b * 100, 51000 + b * 100 + 99) AS g;
		COMMIT;
	END LOOP;
END
$$;
UPDATE orders SET status = 'paid' WHERE id = 1000;
SQL
story <<SQL
SELECT pgcdc_drasi.wait_for_catchup('$SOURCE', '5 min');
SQL

heading "Checking: every change exactly once, in commit order"
story <<SQL
-- Row inserts with id >= 1000 against their insert events.
SELECT (SELECT count(*) FROM orders WHERE id >= 1000) AS rows_in_table,
	   count(*) AS insert_events,
	   count(DISTINCT element_id) AS distinct_element_ids
FROM pgcdc_drasi.events
WHERE source_id = '$SOURCE' AND op = 'i' AND label = 'orders'
  AND (payload #>> '{payload,after,properties,id}')::bigint >= 1000;

-- The same source change written twice would repeat (lsn, tx_index, op, label, element_id).
SELECT count(*) AS events,
	   count(*) - count(DISTINCT (lsn, tx_index, op, label, element_id)) AS duplicates
FROM pgcdc_drasi.events
WHERE source_id = '$SOURCE';

-- seq must follow the source's commit order (lsn), then the order inside each transaction.
SELECT count(*) AS out_of_order
FROM (SELECT lsn, tx_index,
			 lag(lsn) OVER w AS prev_lsn, lag(tx_index) OVER w AS prev_index
	  FROM pgcdc_drasi.events
	  WHERE source_id = '$SOURCE'
	  WINDOW w AS (ORDER BY seq)) AS e
WHERE lsn < prev_lsn OR (lsn = prev_lsn AND tx_index < prev_index);

-- Where the worker resumes after a crash: the origin, not the slot.
SELECT o.external_id AS origin, o.remote_lsn AS origin_progress, s.slot_name, s.confirmed_flush_lsn
FROM pg_replication_origin_status o
JOIN pgcdc_drasi.sources src ON src.origin_name = o.external_id
JOIN pg_replication_slots s ON s.slot_name = src.slot_name;
SQL

sql <<SQL
DO \$\$
DECLARE
	n_rows		bigint;
	n_events	bigint;
	n_ids		bigint;
	n_dups		bigint;
	n_disorder	bigint;
BEGIN
	SELECT count(*) INTO n_rows FROM orders WHERE id >= 1000;
	SELECT count(*), count(DISTINCT element_id) INTO n_events, n_ids
	FROM pgcdc_drasi.events
	WHERE source_id = '$SOURCE' AND op = 'i' AND label = 'orders'
	  AND (payload #>> '{payload,after,properties,id}')::bigint >= 1000;
	SELECT count(*) - count(DISTINCT (lsn, tx_index, op, label, element_id)) INTO n_dups
	FROM pgcdc_drasi.events WHERE source_id = '$SOURCE';
	SELECT count(*) INTO n_disorder
	FROM (SELECT lsn, tx_index, lag(lsn) OVER w AS pl, lag(tx_index) OVER w AS pi
		  FROM pgcdc_drasi.events WHERE source_id = '$SOURCE' WINDOW w AS (ORDER BY seq)) e
	WHERE lsn < pl OR (lsn = pl AND tx_index < pi);

	IF n_rows <> 51000 OR n_events <> n_rows OR n_ids <> n_rows OR n_dups <> 0 OR n_disorder <> 0 THEN
		RAISE EXCEPTION 'restart check failed: % rows, % insert events, % distinct ids, % duplicates, % out of order',
			n_rows, n_events, n_ids, n_dups, n_disorder;
	END IF;
END
\$\$;
SQL

heading "Checking the Redis stream: every event since the target was created, once, in order"
wait_target_caught_up
expected=$(sql -At -c "SELECT string_agg(seq || '-0', ' ' ORDER BY seq) FROM pgcdc_drasi.events WHERE source_id = '$SOURCE' AND seq >= $target_first_seq")
actual=$(redis-cli -s "$WORK/redis.sock" --raw XRANGE orders-db-changes - + | awk 'NR % 3 == 1' | paste -sd ' ')
n_expected=$(wc -w <<<"$expected")
n_actual=$(wc -w <<<"$actual")
echo "events in the queue since the target's first: $n_expected; entries in the stream: $n_actual"
[[ $expected == "$actual" ]] || die "the Redis stream differs from the queue"
echo "the stream's entry ids are exactly the queue's seqs, in order (checked entry by entry)"

story <<'SQL'
\x on
SELECT * FROM pgcdc_drasi.status;
SELECT target_id, state, delivered_seq, last_seq, events_delivered, duplicates_skipped, retries, reconnects FROM pgcdc_drasi.target_status;
SQL

story <<'SQL'
SELECT pgcdc_drasi.drop_consumer('demo-reader');
SQL

heading "Done"
echo "All 51,000 bulk rows are in the queue exactly once, in commit order, across an immediate restart,"
echo "and every event since the target was created is in the Redis stream exactly once, in order."
echo "The cluster is stopped and $WORK removed on exit."
