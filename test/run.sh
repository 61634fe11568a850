#!/usr/bin/env bash
# test/run.sh: build pgcdc_drasi and run every test suite.
#
#   bash test/run.sh
#
# Run it as root, or as a user who may use sudo (it then runs itself through
# sudo), on a fresh Debian bookworm machine or in CI.  It installs the
# dependencies (scripts/install-deps.sh), builds the extension with
# "make WERROR=1" in a scratch copy of the tree owned by the postgres OS
# user (PostgreSQL does not run as root), installs it into a private copy
# of PostgreSQL in the scratch directory (so the system's PostgreSQL is left
# alone, and several runs on one machine never see each other's build),
# then runs as postgres
#
#   regress  make installcheck      pg_regress suites test/sql/*.sql
#   pgtap    make pgtapcheck        pgTAP files test/pgtap/*.sql (test/pgtap.sh)
#   tap      make prove_installcheck  Perl TAP tests test/t/*.pl, one file at a
#            time, after "npm ci" in test/node (the client of 022_node_client)
#
# and ends with one line "N passed, M failed" (suites / test files).  Exits
# non-zero if anything failed.  The make targets also work by hand: see
# "Tests" in README.md.
#
# By default it runs all of this on every supported PostgreSQL in turn (the
# CI matrix): 15 (Debian bookworm's package), 17 and 18 (built from Debian's
# source packages by scripts/install-pg.sh into /var/cache/pgcdc_drasi,
# cached; 18 with --enable-cassert, so PostgreSQL's own Asserts run under
# the whole suite).  The two builds run in the background while 15's suites
# run.  The last line sums the three runs.
#
# On 17 and 18 the pg_upgrade tests need older versions with the extension
# as well: test/t/060_pg_upgrade.pl upgrades from a 15 (bookworm's
# packages of a pinned minor release, scripts/install-pg15-old.sh; passed
# as PGCDC_OLD_INSTALL), test/t/061_pg_upgrade_slots.pl, on 18, from the 17
# built here (PGCDC_OLD17_INSTALL).
#
# Environment:
#   PG_VERSION=15|17|18|all       run on one version only (default all); 17 and
#                                 18 are built first when not cached (about
#                                 10 minutes each); 18 is the cassert build
#   TEST_ONLY=regress|pgtap|tap   run only that stage (build + install always run)
#   TEST_FILTER=<regex>           run only pgTAP / Perl TAP files whose name matches
#   KEEP_TMP=1                    keep the scratch directory (logs, data dirs)
#   SCRATCH_ROOT=<dir>            where the scratch directory is made (default /tmp)
#   ARTIFACTS_DIR=<dir>           copy logs of the run there (useful in CI)
#   PGCDC_CFLAGS                  extra compiler flags (e.g. -DUSE_ASSERT_CHECKING)
#   PG_TEST_TIMEOUT_DEFAULT       PostgreSQL::Test timeout in seconds (default 120)
#   PGCDC_TEST_BIG_ROWS           rows of the large transaction in 002/003 (default 200000)
#   TAP_FILE_TIMEOUT              seconds before one TAP file is killed (default 600)
#   PGTAP_FILE_TIMEOUT            same for one pgTAP file (default 300)
#   REGRESS_TIMEOUT               same for make installcheck (default 600)
#   SUITE_TIMEOUT                 budget of the whole run in seconds (default 4500)
#   PG_HOME=<prefix>              test against PostgreSQL installed under that
#                                 prefix (built from source) instead of Debian's 15
#                                 (implies one version)
#   TEST_AS_USER=1                do not become root: skip dependency installation
#                                 (done already) and run everything as the
#                                 current user

set -uo pipefail

# The whole script is one group, so bash reads all of it before it runs
# any of it: editing this file (a checkout) during a run leaves the run alone.
{
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "${TEST_AS_USER:-0}" != 1 ]; then
	. "$REPO/scripts/as-root.sh"
	as_root "TEST_ONLY TEST_FILTER KEEP_TMP SCRATCH_ROOT ARTIFACTS_DIR PGCDC_CFLAGS PG_HOME PG_VERSION PG_TEST_TIMEOUT_DEFAULT
		PGCDC_TEST_BIG_ROWS PG_TEST_NOCLEAN TAP_FILE_TIMEOUT PGTAP_FILE_TIMEOUT REGRESS_TIMEOUT
		SUITE_TIMEOUT" "${BASH_SOURCE[0]}" "$@"
fi

# --------------------------------------------------------------------------
# The matrix: this script once per version, the sums at the end
# --------------------------------------------------------------------------
PG_VERSION=${PG_VERSION:-all}
[ -n "${PG_HOME:-}" ] && [ "$PG_VERSION" = all ] && PG_VERSION=custom
case "$PG_VERSION" in
	all|15|17|18|custom) ;;
	*) echo "test/run.sh: PG_VERSION must be 15, 17, 18 or all (got '$PG_VERSION')" >&2; exit 2 ;;
esac

# Build (or find cached) the PostgreSQL of a version; prints its prefix.
pg_prefix() {
	case "$1" in
		17) bash "$REPO/scripts/install-pg.sh" 17 ;;
		18) bash "$REPO/scripts/install-pg.sh" 18 --cassert ;;
	esac
}

# The failing assertions of a run's log (a "not ok" line and the "#" lines
# after it, a timeout, a failed regress test), at most 30 per failed item:
# printed again in the matrix summary, at the end of the output.
failure_digest() {
	awk '/^(PASS|FAIL): / {
			if ($1 == "FAIL:") {
				print $2 ":"
				for (i = 1; i <= n && i <= 30; i++) print "  " buf[i]
			}
			n = 0; indiag = 0; next
		}
		/^not ok / || /killed after/ || /\.\.\. *(FAILED|failed)/ { buf[++n] = $0; indiag = 1; next }
		indiag && /^#/ { buf[++n] = $0; next }
		{ indiag = 0 }' "$1"
}

if [ "$PG_VERSION" = all ]; then
	MATRIX_START=$(date +%s)
	MATRIX_LOG=$(mktemp -d /tmp/pgcdc_drasi_matrix.XXXXXX)
	# Packages first, for all versions: apt must not run twice at once.
	if [ "$(id -u)" -eq 0 ]; then
		bash "$REPO/scripts/install-deps.sh" || { echo "dependency installation failed" >&2; echo "0 passed, 1 failed"; exit 1; }
	fi
	# The builds of 17 and 18 (skipped when cached) overlap with 15's suites.
	( pg_prefix 17 && pg_prefix 18 ) > "$MATRIX_LOG/build.out" 2> "$MATRIX_LOG/build.err" &
	BUILD_PID=$!
	total_pass=0 total_fail=0 lines=()
	for v in 15 17 18; do
		vstart=$(date +%s)
		if [ "$v" != 15 ] && [ -n "${BUILD_PID:-}" ]; then
			printf '\n=== waiting for the builds of PostgreSQL 17 and 18\n'
			if ! wait "$BUILD_PID"; then
				cat "$MATRIX_LOG/build.err"
				echo "test/run.sh: building PostgreSQL failed"
			fi
			sed 's/^/build: /' "$MATRIX_LOG/build.err" | grep -E 'ready|cached|failed' || true
			BUILD_PID=
		fi
		printf '\n##### PostgreSQL %s\n' "$v"
		PG_VERSION=$v bash "${BASH_SOURCE[0]}" "$@" 2>&1 | tee "$MATRIX_LOG/run$v.log"
		summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$MATRIX_LOG/run$v.log" | tail -n 1)
		[ -n "$summary" ] || summary="0 passed, 1 failed"
		p=${summary%% passed*}
		f=${summary#*passed, }
		f=${f%% failed*}
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		lines+=("PostgreSQL $v: $summary in $(( ($(date +%s) - vstart) / 60 )) min")
		while IFS= read -r l; do lines+=("  $l"); done < <(grep -A1000 '^failed: ' "$MATRIX_LOG/run$v.log" | grep -E '^failed: ' || true)
		# What failed, in the summary too: CI shows only the end of the output.
		while IFS= read -r l; do lines+=("    $l"); done < <(failure_digest "$MATRIX_LOG/run$v.log")
	done
	rm -rf "$MATRIX_LOG"
	printf '\n=== matrix summary (%d min)\n' $(( ($(date +%s) - MATRIX_START) / 60 ))
	printf '%s\n' "${lines[@]}"
	echo "$total_pass passed, $total_fail failed"
	[ "$total_fail" -eq 0 ]
	exit $?
fi

if [ "$PG_VERSION" = 17 ] || [ "$PG_VERSION" = 18 ]; then
	PG_HOME=$(pg_prefix "$PG_VERSION") || { echo "test/run.sh: building PostgreSQL $PG_VERSION failed" >&2; echo "0 passed, 1 failed"; exit 1; }
fi

# The system's PostgreSQL builds the extension (its headers); the tests run
# the private copy of it that the extension is installed into (see below).
# PG_HOME=<prefix> tests against a PostgreSQL built from source into its own
# prefix instead (bin/, lib/, share/ under one directory).
if [ -n "${PG_HOME:-}" ]; then
	SYS_PGDIR=$PG_HOME
	SYS_PGSHARE=
	PGBIN=$PG_HOME/bin
else
	SYS_PGDIR=/usr/lib/postgresql/15
	SYS_PGSHARE=/usr/share/postgresql/15
	PGBIN=$SYS_PGDIR/bin
fi
PG_CONFIG=$PGBIN/pg_config
# One pgTAP port per major version, so runs on two versions can overlap.
PGTAP_PORT=$((54300 + $("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')))
PG_REGRESS_BIN=$("$PG_CONFIG" --pgxs | sed 's|/src/makefiles/pgxs.mk$||')/src/test/regress/pg_regress

TEST_ONLY=${TEST_ONLY:-}
TEST_FILTER=${TEST_FILTER:-}
TAP_FILE_TIMEOUT=${TAP_FILE_TIMEOUT:-600}
REGRESS_TIMEOUT=${REGRESS_TIMEOUT:-600}
PGTAP_FILE_TIMEOUT=${PGTAP_FILE_TIMEOUT:-300}
# Whole-run budget: what is still running when it is used up is killed, and
# what has not started yet is counted as failed (CI stops jobs at 90 min).
SUITE_TIMEOUT=${SUITE_TIMEOUT:-4500}
SUITE_DEADLINE=$(($(date +%s) + SUITE_TIMEOUT))

case "$TEST_ONLY" in
	''|regress|pgtap|tap) ;;
	*) echo "test/run.sh: TEST_ONLY must be regress, pgtap or tap (got '$TEST_ONLY')" >&2; exit 2 ;;
esac

PASSED=0
FAILED=0
FAILED_NAMES=()
SCRATCH=
BUILD=

say() { printf '\n=== %s\n' "$*"; }
record_pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
record_fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); echo "FAIL: $1"; }

if [ "$(id -u)" -eq 0 ]; then
	AS_ROOT=1
	TEST_USER=postgres
else
	AS_ROOT=0
	TEST_USER=$(id -un)
fi

# Run a command as the test user with a clean, explicit environment.
as_pg() {
	local envs=(
		PATH="$PGBIN:/usr/local/bin:/usr/bin:/bin"
		LANG=C.UTF-8
		PG_REGRESS="$PG_REGRESS_BIN"
		PG_TEST_TIMEOUT_DEFAULT="${PG_TEST_TIMEOUT_DEFAULT:-120}"
	)
	# Temporary files and socket directories (File::Temp, pg_regress) go into
	# the scratch directory, so nothing is left in /tmp even after a kill.
	[ -n "$SCRATCH" ] && [ -d "$SCRATCH/tmp" ] && envs+=(TMPDIR="$SCRATCH/tmp")
	[ -n "${PGCDC_TEST_BIG_ROWS:-}" ] && envs+=(PGCDC_TEST_BIG_ROWS="$PGCDC_TEST_BIG_ROWS")
	[ -n "${PG_TEST_NOCLEAN:-}" ] && envs+=(PG_TEST_NOCLEAN="$PG_TEST_NOCLEAN")
	[ -n "${PGCDC_OLD_INSTALL:-}" ] && envs+=(PGCDC_OLD_INSTALL="$PGCDC_OLD_INSTALL")
	[ -n "${PGCDC_OLD17_INSTALL:-}" ] && envs+=(PGCDC_OLD17_INSTALL="$PGCDC_OLD17_INSTALL")
	if [ "$AS_ROOT" -eq 1 ]; then
		runuser -u postgres -- env -i HOME=/var/lib/postgresql USER=postgres LOGNAME=postgres "${envs[@]}" "$@"
	else
		env -i HOME="$HOME" USER="$TEST_USER" LOGNAME="$TEST_USER" "${envs[@]}" "$@"
	fi
}

# make in the scratch copy, as the test user.
pg_make() { as_pg make --no-print-directory -C "$BUILD" PG_CONFIG="$PG_CONFIG" "$@"; }

# Stop every postmaster still running from a data directory in the scratch
# tree (a killed prove, pg_prove or pg_regress can leave one behind).
stop_leftover_clusters() {
	[ -n "$SCRATCH" ] && [ -d "$SCRATCH" ] || return 0
	local pidfile
	while IFS= read -r pidfile; do
		as_pg "$PGBIN/pg_ctl" -D "$(dirname "$pidfile")" stop -m immediate -w -t 60 >/dev/null 2>&1 || true
	done < <(find "$SCRATCH" -name postmaster.pid -type f 2>/dev/null)
}

collect_artifacts() {
	[ -n "${ARTIFACTS_DIR:-}" ] && [ -n "$BUILD" ] && [ -d "$BUILD" ] || return 0
	mkdir -p "$ARTIFACTS_DIR" || return 0
	for p in regression.diffs regression.out results tmp_check/log test/tmp_check/log; do
		[ -e "$BUILD/$p" ] && cp -a "$BUILD/$p" "$ARTIFACTS_DIR/$(echo "$p" | tr / _)" 2>/dev/null
	done
	[ -e "$BUILD/test/tmp_check/pgtap/server.log" ] &&
		cp "$BUILD/test/tmp_check/pgtap/server.log" "$ARTIFACTS_DIR/pgtap_server.log"
	return 0
}

# Stop leftover clusters, save artifacts, remove the scratch directory.
remove_scratch() {
	stop_leftover_clusters
	collect_artifacts
	if [ -n "$SCRATCH" ] && [ -d "$SCRATCH" ]; then
		if [ "${KEEP_TMP:-0}" = 1 ]; then
			echo "test/run.sh: kept scratch directory $SCRATCH"
		else
			rm -rf "$SCRATCH"
		fi
	fi
	SCRATCH=
}

cleanup() {
	local rc=$?
	remove_scratch
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Clean up, then end with the summary line "N passed, M failed".
summary_and_exit() {
	remove_scratch
	say "summary"
	if [ "${#FAILED_NAMES[@]}" -gt 0 ]; then
		printf 'failed: %s\n' "${FAILED_NAMES[@]}"
	fi
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# Print the last lines of a file, with a header.
show_tail() {
	local file=$1 lines=${2:-100}
	[ -f "$file" ] || return 0
	echo "----- tail -n $lines $file"
	tail -n "$lines" "$file"
	echo "----- end of $file"
}

# Same for a server log, leaving out the statements logged by
# log_statement = all (and their continuation lines).
show_server_log() {
	local file=$1 lines=${2:-100}
	[ -f "$file" ] || return 0
	echo "----- last $lines lines of $file (without logged statements)"
	awk '/ LOG:  statement: / { skip = 1; next }
		skip && /^\t/ { next }
		{ skip = 0; print }' "$file" | tail -n "$lines"
	echo "----- end of $file"
}

# Seconds a step may take: its own limit, capped by what is left of the
# suite budget; prints nothing and fails when the budget is used up.
step_timeout() {
	local left=$((SUITE_DEADLINE - $(date +%s)))
	[ "$left" -gt 0 ] || return 1
	[ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

want_stage() { [ -z "$TEST_ONLY" ] || [ "$TEST_ONLY" = "$1" ]; }

# The files of a directory (relative to the tree) that TEST_FILTER lets in.
filtered_files() {
	local dir=$1 ext=$2 f
	shopt -s nullglob
	for f in "$BUILD/$dir"/*."$ext"; do
		[ -z "$TEST_FILTER" ] || [[ "$(basename "$f")" =~ $TEST_FILTER ]] || continue
		echo "$dir/$(basename "$f")"
	done
	shopt -u nullglob
}

# --------------------------------------------------------------------------
# Dependencies, scratch copy, build, install
# --------------------------------------------------------------------------
say "dependencies"
if [ "$AS_ROOT" -eq 1 ]; then
	bash "$REPO/scripts/install-deps.sh" || { echo "dependency installation failed" >&2; record_fail build; summary_and_exit; }
else
	echo "not root: skipping dependency installation"
fi

mkdir -p "${SCRATCH_ROOT:-/tmp}"
SCRATCH=$(mktemp -d "${SCRATCH_ROOT:-/tmp}/pgcdc_drasi_test.XXXXXX") || { record_fail build; summary_and_exit; }
chmod 755 "$SCRATCH"
BUILD=$SCRATCH/src
mkdir "$BUILD" "$SCRATCH/tmp"
tar -C "$REPO" \
	--exclude=./.git --exclude=./tmp_check --exclude=./results --exclude=./log \
	--exclude=./regression.diffs --exclude=./regression.out --exclude=./test/tmp_check \
	--exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude=./test/node/node_modules \
	-cf - . | tar -C "$BUILD" -xf -
[ "$AS_ROOT" -eq 1 ] && chown -R postgres:postgres "$SCRATCH"

MAKE_VARS=(WERROR=1)
[ -n "${PGCDC_CFLAGS:-}" ] && MAKE_VARS+=(PGCDC_CFLAGS="$PGCDC_CFLAGS")

say "build (make ${MAKE_VARS[*]}) in $BUILD"
if ! pg_make "${MAKE_VARS[@]}"; then
	record_fail build
	summary_and_exit
fi

# PostgreSQL finds its share and library directories relative to its
# binaries, so a copy of the installation is a working installation of its
# own; pg_config of the copy points "make install" into it.
say "install into a private copy of PostgreSQL in $SCRATCH/pg"
PRIV=$SCRATCH/pg
if ! as_pg mkdir -p "$PRIV$(dirname "$SYS_PGDIR")" ||
	! as_pg cp -a "$SYS_PGDIR" "$PRIV$(dirname "$SYS_PGDIR")/" ||
	{ [ -n "$SYS_PGSHARE" ] && { ! as_pg mkdir -p "$PRIV$(dirname "$SYS_PGSHARE")" ||
		! as_pg cp -a "$SYS_PGSHARE" "$PRIV$(dirname "$SYS_PGSHARE")/"; }; }; then
	record_fail install
	summary_and_exit
fi
PGBIN=$PRIV$SYS_PGDIR/bin
PG_CONFIG=$PGBIN/pg_config
PG_REGRESS_BIN=$PRIV$PG_REGRESS_BIN
if [ "$(as_pg "$PG_CONFIG" --bindir)" != "$PGBIN" ] ||
	! pg_make install "${MAKE_VARS[@]}"; then
	record_fail install
	summary_and_exit
fi

# On a newer PostgreSQL, the pg_upgrade test (test/t/060_pg_upgrade.pl)
# needs an older one too: Debian bookworm's 15, of the minor release that
# scripts/install-pg15-old.sh unpacks (the current one stores catalog
# contents the 17 and 18 built here cannot restore; see there).  Build the
# extension against it (its own headers) and install it into a private copy
# of it.  The TAP tests find it in PGCDC_OLD_INSTALL (the directory holding
# its bin/).
if [ -n "${PG_HOME:-}" ] && want_stage tap &&
	{ [ -z "$TEST_FILTER" ] || [[ 060_pg_upgrade.pl =~ $TEST_FILTER ]]; }; then
	OLD_BUILD=$SCRATCH/src15
	OLD_PRIV=$SCRATCH/pg15
	say "the old version for the pg_upgrade test: PostgreSQL 15 with the extension in $OLD_PRIV"
	if OLD_ROOT=$(bash "$REPO/scripts/install-pg15-old.sh") &&
		as_pg cp -a "$BUILD" "$OLD_BUILD" &&
		as_pg make --no-print-directory -s -C "$OLD_BUILD" clean >/dev/null &&
		as_pg mkdir -p "$OLD_PRIV/usr/lib/postgresql" "$OLD_PRIV/usr/share/postgresql" \
			"$OLD_PRIV/usr/include/postgresql" &&
		as_pg cp -a "$OLD_ROOT/usr/lib/postgresql/15" "$OLD_PRIV/usr/lib/postgresql/" &&
		as_pg cp -a "$OLD_ROOT/usr/share/postgresql/15" "$OLD_PRIV/usr/share/postgresql/" &&
		as_pg cp -a "$OLD_ROOT/usr/include/postgresql/15" "$OLD_PRIV/usr/include/postgresql/" &&
		as_pg make --no-print-directory -s -C "$OLD_BUILD" "${MAKE_VARS[@]}" \
			PG_CONFIG="$OLD_PRIV/usr/lib/postgresql/15/bin/pg_config" all install >/dev/null; then
		export PGCDC_OLD_INSTALL=$OLD_PRIV/usr/lib/postgresql/15
		echo "PGCDC_OLD_INSTALL=$PGCDC_OLD_INSTALL ($("$PGCDC_OLD_INSTALL/bin/pg_config" --version))"
	else
		record_fail "install (PostgreSQL 15 for the pg_upgrade test)"
	fi
fi

# On 18, test/t/061_pg_upgrade_slots.pl upgrades from 17, where pg_upgrade
# carries logical slots: build the extension against the 17 of
# scripts/install-pg.sh too (when it is built; the matrix builds it before
# 18) and install it into a private copy of it, PGCDC_OLD17_INSTALL.
if [ -n "${PG_HOME:-}" ] && want_stage tap &&
	[ "$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')" = 18 ] &&
	{ [ -z "$TEST_FILTER" ] || [[ 061_pg_upgrade_slots.pl =~ $TEST_FILTER ]]; }; then
	PG17_CACHE=${PGCDC_CACHE_DIR:-/var/cache/pgcdc_drasi}/pg17
	if [ -f "$PG17_CACHE/.pgcdc_build" ]; then
		OLD17_BUILD=$SCRATCH/src17
		OLD17_PRIV=$SCRATCH/pg17
		say "the old version for the pg_upgrade test of slots: PostgreSQL 17 with the extension in $OLD17_PRIV"
		if as_pg cp -a "$BUILD" "$OLD17_BUILD" &&
			as_pg make --no-print-directory -s -C "$OLD17_BUILD" clean >/dev/null &&
			as_pg mkdir -p "$OLD17_PRIV" &&
			as_pg cp -a "$PG17_CACHE/." "$OLD17_PRIV/" &&
			as_pg make --no-print-directory -s -C "$OLD17_BUILD" "${MAKE_VARS[@]}" \
				PG_CONFIG="$PG17_CACHE/bin/pg_config" all &&
			as_pg make --no-print-directory -s -C "$OLD17_BUILD" "${MAKE_VARS[@]}" \
				PG_CONFIG="$OLD17_PRIV/bin/pg_config" install; then
			export PGCDC_OLD17_INSTALL=$OLD17_PRIV
			echo "PGCDC_OLD17_INSTALL=$PGCDC_OLD17_INSTALL ($("$PGCDC_OLD17_INSTALL/bin/pg_config" --version))"
		else
			record_fail "install (PostgreSQL 17 for the pg_upgrade test of slots)"
		fi
	else
		echo "PostgreSQL 17 is not built ($PG17_CACHE): 061_pg_upgrade_slots will skip (scripts/install-pg.sh 17)"
	fi
fi

# --------------------------------------------------------------------------
# Stage regress: make installcheck (temp instance from REGRESS_OPTS)
# --------------------------------------------------------------------------
run_regress() {
	say "stage regress: make installcheck"
	if ! compgen -G "$BUILD/test/sql/*.sql" >/dev/null; then
		echo "no pg_regress tests (test/sql/*.sql): skipped"
		return 0
	fi
	local log=$SCRATCH/regress.log rc limit
	if ! limit=$(step_timeout "$REGRESS_TIMEOUT"); then
		record_fail "regress (not run: SUITE_TIMEOUT used up)"
		return 0
	fi
	as_pg timeout -k 30 "$limit" make --no-print-directory -C "$BUILD" installcheck PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	{ [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && echo "regress: killed after ${limit}s"

	# pg_regress prints "test name ... ok" up to 15 and TAP lines
	# ("ok 1 - name", "not ok 2 - name") from 16 on.
	local n_ok n_fail old_ok old_fail tap_ok tap_fail
	old_ok='^(test )?[[:space:]]*[^[:space:]]+[[:space:]]+\.\.\. ok'
	old_fail='^(test )?[[:space:]]*[^[:space:]]+[[:space:]]+\.\.\. (FAILED|failed)'
	tap_ok='^ok [0-9]+[[:space:]]+- '
	tap_fail='^not ok [0-9]+[[:space:]]+- '
	n_ok=$(grep -cE "$old_ok|$tap_ok" "$log")
	n_fail=$(grep -cE "$old_fail|$tap_fail" "$log")
	PASSED=$((PASSED + n_ok))
	if [ "$n_fail" -gt 0 ]; then
		FAILED=$((FAILED + n_fail))
		while IFS= read -r name; do FAILED_NAMES+=("regress/$name"); done < <(
			grep -E "$old_fail|$tap_fail" "$log" |
				sed -E -e 's/^not ok [0-9]+[[:space:]]+- ([^[:space:]]+).*/\1/' \
					-e 's/^(test )?[[:space:]]*([^[:space:]]+) .*/\2/')
	elif [ "$rc" -ne 0 ]; then
		record_fail "regress (make installcheck exited $rc)"
	fi
	if [ "$rc" -ne 0 ]; then
		if [ -f "$BUILD/regression.diffs" ]; then
			echo "----- regression.diffs"
			cat "$BUILD/regression.diffs"
			echo "----- end of regression.diffs"
		fi
		show_server_log "$BUILD/tmp_check/log/postmaster.log" 100
	fi
	echo "regress: $n_ok passed, $n_fail failed (make exit $rc)"
}

# --------------------------------------------------------------------------
# Stage pgtap: make pgtapcheck (test/pgtap.sh prints PASS:/FAIL: per file)
# --------------------------------------------------------------------------
run_pgtap() {
	say "stage pgtap: make pgtapcheck"
	local files log=$SCRATCH/pgtap.log rc limit n_ok n_fail
	files=$(filtered_files test/pgtap sql)
	if [ -z "$files" ]; then
		echo "no pgTAP files: skipped"
		return 0
	fi
	# Each file has its own timeout; the make as a whole gets the rest of the
	# suite budget (plus time to stop the cluster).
	if ! limit=$(step_timeout "$SUITE_TIMEOUT"); then
		record_fail "pgtap (not run: SUITE_TIMEOUT used up)"
		return 0
	fi
	as_pg timeout -k 30 "$((limit + 150))" make --no-print-directory -C "$BUILD" pgtapcheck \
		PG_CONFIG="$PG_CONFIG" PGTAP_TESTS="$(echo $files)" PGTAP_PORT="$PGTAP_PORT" \
		PGTAP_FILE_TIMEOUT="$PGTAP_FILE_TIMEOUT" PGTAP_DEADLINE="$SUITE_DEADLINE" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	n_ok=$(grep -c '^PASS: ' "$log")
	n_fail=$(grep -c '^FAIL: ' "$log")
	PASSED=$((PASSED + n_ok))
	FAILED=$((FAILED + n_fail))
	while IFS= read -r name; do FAILED_NAMES+=("$name"); done < <(sed -n 's/^FAIL: //p' "$log")
	[ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ] && record_fail "pgtap (make pgtapcheck exited $rc)"
	[ "$rc" -ne 0 ] && show_server_log "$BUILD/test/tmp_check/pgtap/server.log" 150
	echo "pgtap: $n_ok passed, $n_fail failed (make exit $rc)"
}

# --------------------------------------------------------------------------
# Stage tap: make prove_installcheck, one file at a time (own timeout each)
# --------------------------------------------------------------------------
run_tap() {
	say "stage tap: make prove_installcheck"
	local files f base rc l limit logdir=$BUILD/test/tmp_check/log
	files=$(filtered_files test/t pl)
	if [ -z "$files" ]; then
		echo "no Perl TAP tests: skipped"
		return 0
	fi
	# The Node.js client test needs node-postgres: install the locked versions.
	if [ -f "$BUILD/test/node/package-lock.json" ]; then
		echo "--- npm ci (test/node)"
		if ! (cd "$BUILD/test/node" && as_pg timeout -k 10 300 npm ci --no-audit --no-fund); then
			record_fail "tap/npm ci (test/node)"
		fi
	fi
	for f in $files; do
		base=$(basename "$f" .pl)
		echo "--- $base"
		if ! limit=$(step_timeout "$TAP_FILE_TIMEOUT"); then
			record_fail "tap/$base (not run: SUITE_TIMEOUT used up)"
			continue
		fi
		as_pg timeout -k 30 "$limit" make --no-print-directory -C "$BUILD" prove_installcheck \
			PG_CONFIG="$PG_CONFIG" PROVE_TESTS="$f" PROVE_FLAGS="--verbose --timer --nocolor" TAP_KEEP_TMP=1
		rc=$?
		if [ "$rc" -eq 0 ]; then
			record_pass "tap/$base"
		else
			{ [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && echo "tap/$base: killed after ${limit}s"
			record_fail "tap/$base"
			show_tail "$logdir/regress_log_$base" 200
			for l in "$logdir/${base}"_*.log; do show_server_log "$l" 150; done
		fi
		stop_leftover_clusters
	done
}

want_stage regress && { run_regress; stop_leftover_clusters; }
want_stage pgtap && { run_pgtap; stop_leftover_clusters; }
want_stage tap && run_tap

summary_and_exit
}
