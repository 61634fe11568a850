#!/usr/bin/env bash
#
# bench/w1_phases.sh: how long the walsender works on W1 (one transaction
# of 1,000,000 INSERTs) before it sends its first change, with protocol 1
# (decode and spill, send after the commit) and with protocol 2 and
# streaming = on.  docs/design.md, section 22, quotes its output.
#
#   sudo bash bench/w1_phases.sh        # after bench/run.sh installed the tools
#
# Throwaway cluster in a mktemp directory with the benchmark's settings,
# removed on exit.  pg_recvlogical writes into a pipe whose reader notes
# the time of the first byte and discards the rest.  Not pass/fail.

set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
[[ $(id -u) -eq 0 ]] || { echo "run as root: sudo bash bench/w1_phases.sh" >&2; exit 1; }
W=$(mktemp -d /tmp/pgcdc_phases.XXXXXX)
chown postgres: "$W"
cleanup()
{
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT

runuser -u postgres -- "$PGBIN/initdb" -D "$W/data" -A trust -U postgres -E UTF8 \
	--locale=C.UTF-8 --no-instructions >/dev/null
cat >>"$W/data/postgresql.conf" <<EOC
wal_level = logical
shared_buffers = 1GB
synchronous_commit = on
listen_addresses = ''
unix_socket_directories = '$W'
port = 5433
EOC
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/data" -l "$W/server.log" -w start >/dev/null
psql() { "$PGBIN/psql" -X -q -At -h "$W" -p 5433 -U postgres "$@"; }
psql -c "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int, amount numeric(12,2),
								status text, created_at timestamptz, note text)" \
	 -c "CREATE PUBLICATION pub FOR TABLE orders"

for proto in "proto_version=1" "proto_version=2 streaming=on"; do
	psql -c "TRUNCATE orders"
	psql -c "SELECT pg_create_logical_replication_slot('phases', 'pgoutput')" >/dev/null
	psql -c "INSERT INTO orders (id, customer_id, amount, status, created_at, note)
			 SELECT g, g % 10000 + 1, (g % 100000) / 100.0, 'new',
					timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', 'note ' || md5(g::text)
			 FROM generate_series(1, 1000000) AS g"
	end=$(psql -c "SELECT pg_current_wal_lsn()")
	opts=()
	for o in $proto; do opts+=(-o "$o"); done
	start=$(date +%s.%N)
	runuser -u postgres -- "$PGBIN/pg_recvlogical" -h "$W" -p 5433 -U postgres -d postgres \
		-S phases --start -E "$end" -f - -o publication_names=pub "${opts[@]}" |
		{ head -c 1 >/dev/null; date +%s.%N >"$W/first"; cat >/dev/null; }
	done_at=$(date +%s.%N)
	printf '%-28s first change after %5.2f s, all %5.2f s\n' "$proto" \
		"$(echo "$(cat "$W/first") - $start" | bc)" "$(echo "$done_at - $start" | bc)"
	psql -c "SELECT pg_drop_replication_slot('phases')" >/dev/null
done
