#!/usr/bin/env bash
# test/pgtap.sh: run pgTAP files on a throwaway cluster (make pgtapcheck).
#
#   bash test/pgtap.sh test/pgtap/000_smoke.sql [more files ...]
#
# Starts a cluster with test/regress.conf (the library preloaded) in
# $PGTAP_TMP, gives each file a fresh database with pgtap created, runs
# it with pg_prove, and stops the cluster.  Prints "PASS: pgtap/<name>" or
# "FAIL: pgtap/<name>" per file (test/run.sh counts these lines, and shows
# the end of the server log after a failure).  Exits non-zero if anything
# failed.  Needs the extension and pgTAP installed, and a user that may run
# a server (not root).
#
# Environment:
#   PGBIN               PostgreSQL binaries (default: pg_config --bindir, else
#                       /usr/lib/postgresql/15/bin)
#   PGTAP_TMP           cluster directory (default test/tmp_check/pgtap; emptied
#                       first); server log in $PGTAP_TMP/server.log
#   PGTAP_PORT          port of the cluster (default 54329; it listens only on
#                       a socket in a private directory)
#   PGTAP_FILE_TIMEOUT  seconds before one file is killed (default 300)
#   PGTAP_DEADLINE      epoch seconds after which no file starts and running
#                       ones are killed (test/run.sh's SUITE_TIMEOUT)

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${PGBIN:-}" ]; then
	PGBIN=$(pg_config --bindir 2>/dev/null) || PGBIN=/usr/lib/postgresql/15/bin
fi
PGTAP_TMP=${PGTAP_TMP:-$HERE/tmp_check/pgtap}
PORT=${PGTAP_PORT:-54329}
FILE_TIMEOUT=${PGTAP_FILE_TIMEOUT:-300}
DEADLINE=${PGTAP_DEADLINE:-}

if [ "$#" -eq 0 ]; then
	echo "usage: test/pgtap.sh file.sql ..." >&2
	exit 2
fi
if [ "$(id -u)" -eq 0 ]; then
	echo "test/pgtap.sh: PostgreSQL does not run as root; run it as the postgres user (or use test/run.sh)" >&2
	exit 2
fi

FAILED=0
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $1"; }

# The socket lives in a short private directory (socket paths are limited
# to about 100 bytes, checkouts can be deep).
SOCK=$(mktemp -d "${TMPDIR:-/tmp}/pgtap_sock.XXXXXX") || exit 1
DATA=$PGTAP_TMP/data
stop_cluster() {
	if [ -f "$DATA/postmaster.pid" ]; then
		"$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 120 stop >/dev/null 2>&1 ||
			"$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$SOCK"
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$PGTAP_TMP"
mkdir -p "$PGTAP_TMP"
if ! "$PGBIN/initdb" -A trust -U postgres -N -D "$DATA" >"$PGTAP_TMP/initdb.log" 2>&1; then
	cat "$PGTAP_TMP/initdb.log"
	fail "pgtap (initdb)"
	exit 1
fi
{
	cat "$HERE/regress.conf"
	printf '%s\n' "unix_socket_directories = '$SOCK'" "listen_addresses = ''" \
		"port = $PORT" "max_connections = 50"
} >>"$DATA/postgresql.conf"
if ! "$PGBIN/pg_ctl" -D "$DATA" -l "$PGTAP_TMP/server.log" -w -t 120 start; then
	tail -n 100 "$PGTAP_TMP/server.log"
	fail "pgtap (cluster start)"
	exit 1
fi

conn=(-h "$SOCK" -p "$PORT" -U postgres)
i=0
for f in "$@"; do
	i=$((i + 1))
	base=$(basename "$f" .sql)
	db="pgtap_${i}_$(echo "$base" | tr -c 'A-Za-z0-9_\n' '_')"
	db=${db:0:60}
	limit=$FILE_TIMEOUT
	if [ -n "$DEADLINE" ]; then
		left=$((DEADLINE - $(date +%s)))
		if [ "$left" -le 0 ]; then
			fail "pgtap/$base (not run: SUITE_TIMEOUT used up)"
			continue
		fi
		[ "$left" -lt "$limit" ] && limit=$left
	fi
	echo "--- $base (database $db)"
	if ! "$PGBIN/createdb" "${conn[@]}" "$db" ||
		! "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -d "$db" -c 'CREATE EXTENSION pgtap'; then
		fail "pgtap/$base (setup)"
		continue
	fi
	PATH="$PGBIN:$PATH" timeout -k 10 "$limit" pg_prove --verbose --nocolor "${conn[@]}" -d "$db" "$f"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "PASS: pgtap/$base"
	else
		{ [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && echo "pgtap/$base: killed after ${limit}s"
		fail "pgtap/$base"
	fi
	"$PGBIN/dropdb" "${conn[@]}" --if-exists "$db" >/dev/null 2>&1 || true
done

echo "pgtap: $# files, $FAILED failed"
[ "$FAILED" -eq 0 ] || echo "server log: $PGTAP_TMP/server.log"
[ "$FAILED" -eq 0 ]
