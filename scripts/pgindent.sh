#!/usr/bin/env bash
# Indent pgcdc_drasi's C sources with PostgreSQL's pgindent ("make indent").
#
#   scripts/pgindent.sh               indent every .c and .h file under src/
#   scripts/pgindent.sh FILE...       indent only these files
#   scripts/pgindent.sh --check [FILE...]
#                                     change nothing; show what indenting would
#                                     change and exit 1 if anything
#
# What it uses, all from Debian's archive:
#   - pg_bsd_indent 2.1.1, package pg-bsd-indent: the indenter that
#     PostgreSQL 15's pgindent requires (installed here when running as root
#     and missing; set PGINDENT=/path/to/pg_bsd_indent to use another copy);
#   - PostgreSQL 15's src/tools/pgindent/pgindent and its typedefs.list, from
#     Debian's source package postgresql-15 (neither is in a binary package).
#     They are fetched once with "apt-get source --download-only", the .dsc's
#     checksums checked with dpkg-dev's Dpkg::Source::Package (apt has already
#     checked the .dsc against the signed Sources index), the two files taken
#     out of the orig tarball, and kept in a cache directory:
#       $PGCDC_CACHE_DIR if set, else /var/cache/pgcdc_drasi as root, else
#       ${XDG_CACHE_HOME:-~/.cache}/pgcdc_drasi (or root's, when only that
#       one is filled)
#     (subdirectory postgresql-15/).  With the cache filled a rerun only
#     indents.  PGINDENT_REFRESH=1 fetches again (e.g. after a new minor
#     release).  Fetching needs a deb-src entry for the postgresql-15 source
#     package; as root, when apt knows none, the script adds
#     /etc/apt/sources.list.d/pgcdc_drasi-src.sources (deb-src, main, this
#     Debian release) and runs apt-get update.
#
# pgindent runs with PostgreSQL's typedefs.list plus ours (typedefs.list at
# the top of the tree).  Ours names every typedef declared under src/; after
# adding, renaming or removing a typedef run "make typedefs"
# (scripts/typedefs.sh) to regenerate it.  Names declared in src/ but missing
# from typedefs.list are still used for this run, with a warning.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
SRC_PACKAGE=postgresql-$PG_MAJOR
INDENT_VERSION=2.1.1
INDENT_PACKAGE=pg-bsd-indent
APT_SOURCES_FILE=/etc/apt/sources.list.d/pgcdc_drasi-src.sources

die()
{
	echo "pgindent.sh: $*" >&2
	exit 1
}

note()
{
	echo "pgindent.sh: $*" >&2
}

is_root()
{
	[ "$(id -u)" -eq 0 ]
}

installed()
{
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

apt_install()
{
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

check=0
if [ "${1:-}" = "--check" ]; then
	check=1
	shift
fi
case "${1:-}" in
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
		exit 0
		;;
	-*) die "unknown option $1 (see $0 --help)" ;;
esac

if [ -n "${PGCDC_CACHE_DIR:-}" ]; then
	CACHE_DIR=$PGCDC_CACHE_DIR
elif is_root; then
	CACHE_DIR=/var/cache/pgcdc_drasi
else
	CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/pgcdc_drasi
	# a user without a cache of their own uses root's, once root filled it
	if [ ! -f "$CACHE_DIR/$SRC_PACKAGE/SOURCE" ] &&
		[ -f "/var/cache/pgcdc_drasi/$SRC_PACKAGE/SOURCE" ] &&
		[ "${PGINDENT_REFRESH:-0}" != 1 ]; then
		CACHE_DIR=/var/cache/pgcdc_drasi
	fi
fi
PG_CACHE=$CACHE_DIR/$SRC_PACKAGE

# --- pg_bsd_indent --------------------------------------------------------

find_indent()
{
	if [ -n "${PGINDENT:-}" ]; then
		[ -x "$PGINDENT" ] || die "PGINDENT=$PGINDENT is not an executable"
		INDENT_BIN=$PGINDENT
		return
	fi
	if ! command -v pg_bsd_indent >/dev/null 2>&1; then
		if ! is_root; then
			die "pg_bsd_indent is not installed; as root run \"apt-get install $INDENT_PACKAGE\" (or \"make indent\" as root), or set PGINDENT=/path/to/pg_bsd_indent"
		fi
		note "installing $INDENT_PACKAGE"
		apt_install "$INDENT_PACKAGE" || {
			apt-get update -qq
			apt_install "$INDENT_PACKAGE"
		} || die "could not install $INDENT_PACKAGE"
	fi
	INDENT_BIN=$(command -v pg_bsd_indent)
}

find_indent
indent_version=$("$INDENT_BIN" --version 2>&1 || true)
case "$indent_version" in
	*" $INDENT_VERSION "*) ;;
	*) die "$INDENT_BIN reports \"$indent_version\"; PostgreSQL $PG_MAJOR's pgindent needs pg_bsd_indent $INDENT_VERSION (Debian package $INDENT_PACKAGE)" ;;
esac

# --- pgindent and PostgreSQL's typedefs.list, cached --------------------------

need_root_for()
{
	is_root || die "$1 is needed to fetch pgindent and typedefs.list (not cached in $PG_CACHE yet) and this is not root; run \"make indent\" once as root, or $2"
}

ensure_deb_src()
{
	if [ -n "$(apt-cache showsrc "$SRC_PACKAGE" 2>/dev/null | sed -n 's/^Version: //p')" ]; then
		return
	fi
	need_root_for "a deb-src entry for $SRC_PACKAGE" "add a deb-src line for Debian's main archive to apt's sources and run apt-get update"
	local codename
	# shellcheck disable=SC1091
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "cannot tell this Debian release's codename from /etc/os-release"
	note "adding $APT_SOURCES_FILE (deb-src $codename main) and running apt-get update"
	cat >"$APT_SOURCES_FILE" <<EOF
# pgcdc_drasi: Debian source packages (scripts/pgindent.sh takes PostgreSQL's
# pgindent and typedefs.list from the $SRC_PACKAGE source package)
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	apt-get update -qq
	[ -n "$(apt-cache showsrc "$SRC_PACKAGE" 2>/dev/null | sed -n 's/^Version: //p')" ] ||
		die "apt still knows no source package $SRC_PACKAGE after adding $APT_SOURCES_FILE"
}

fetch_pgindent()
{
	if ! installed dpkg-dev; then
		need_root_for "dpkg-dev (to check the source package)" "install dpkg-dev"
		note "installing dpkg-dev"
		apt_install dpkg-dev || die "could not install dpkg-dev"
	fi
	ensure_deb_src

	mkdir -p "$CACHE_DIR" || die "cannot create cache directory $CACHE_DIR"
	local work
	work=$(mktemp -d "$CACHE_DIR/fetch.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" EXIT
	chmod 755 "$work"

	# Newest version first; a version whose files the mirror does not have
	# (say, a deb-src entry for a security suite) falls back to the next.
	local versions version got=
	versions=$(apt-cache showsrc "$SRC_PACKAGE" | sed -n 's/^Version: //p' | sort -u -r -V)
	for version in $versions; do
		note "fetching source package $SRC_PACKAGE=$version"
		if (cd "$work" && apt-get source --download-only -qq "$SRC_PACKAGE=$version" >download.log 2>&1); then
			got=$version
			break
		fi
		sed -n 's/^E: /  /p' "$work/download.log" >&2
		find "$work" -mindepth 1 -maxdepth 1 ! -name download.log -exec rm -rf {} +
	done
	[ -n "$got" ] || die "could not download source package $SRC_PACKAGE (versions tried: $(tr '\n' ' ' <<<"$versions"))"

	local dsc
	dsc=$(find "$work" -maxdepth 1 -name "${SRC_PACKAGE}_*.dsc" | head -n 1)
	[ -n "$dsc" ] || die "no .dsc for $SRC_PACKAGE downloaded"
	perl -MDpkg::Source::Package -e '
		my $p = Dpkg::Source::Package->new(filename => $ARGV[0]);
		$p->check_checksums();
	' "$dsc" || die "checksums of $dsc do not match its files"

	local orig debian_tar
	orig=$(find "$work" -maxdepth 1 -name "${SRC_PACKAGE}_*.orig.tar.*" ! -name '*.asc' | head -n 1)
	debian_tar=$(find "$work" -maxdepth 1 -name "${SRC_PACKAGE}_*.debian.tar.*" | head -n 1)
	[ -n "$orig" ] || die "no orig tarball in $SRC_PACKAGE=$got"

	# Only the two files are extracted.  Debian's patches must not touch
	# them (they do not as of 15.18); if one ever does, stop rather than
	# use an unpatched copy.
	if [ -n "$debian_tar" ] &&
		tar -xOf "$debian_tar" --wildcards 'debian/patches/*' 2>/dev/null |
		grep -q '^+++ .*src/tools/pgindent/'; then
		die "a Debian patch in $SRC_PACKAGE=$got changes src/tools/pgindent; this script takes the files from the orig tarball only"
	fi
	mkdir "$work/x"
	tar -xf "$orig" -C "$work/x" --wildcards --no-wildcards-match-slash \
		'*/src/tools/pgindent/pgindent' '*/src/tools/pgindent/typedefs.list' ||
		die "cannot extract src/tools/pgindent from $orig"

	mkdir "$work/out"
	cp "$work"/x/*/src/tools/pgindent/pgindent "$work"/x/*/src/tools/pgindent/typedefs.list "$work/out/"
	chmod 755 "$work/out/pgindent"
	chmod 644 "$work/out/typedefs.list"
	{
		echo "source package: $SRC_PACKAGE $got (Debian archive)"
		echo "files: src/tools/pgindent/pgindent src/tools/pgindent/typedefs.list"
		echo "dsc sha256: $(sha256sum "$dsc" | cut -d' ' -f1)"
		echo "fetched: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	} >"$work/out/SOURCE"
	rm -rf "$PG_CACHE"
	mv "$work/out" "$PG_CACHE"
	rm -rf "$work"
	trap - EXIT
	note "cached pgindent and typedefs.list of $SRC_PACKAGE $got in $PG_CACHE"
}

if [ "${PGINDENT_REFRESH:-0}" = 1 ] || [ ! -f "$PG_CACHE/SOURCE" ] ||
	[ ! -x "$PG_CACHE/pgindent" ] || [ ! -s "$PG_CACHE/typedefs.list" ]; then
	fetch_pgindent
fi

# shellcheck disable=SC2016
wanted=$(sed -n 's/^my \$INDENT_VERSION = "\(.*\)";.*/\1/p' "$PG_CACHE/pgindent")
[ "$wanted" = "$INDENT_VERSION" ] ||
	die "the cached pgindent ($PG_CACHE/pgindent) wants pg_bsd_indent \"$wanted\", this script uses $INDENT_VERSION"

# --- run ----------------------------------------------------------------------

# Files as absolute paths; names shown relative to the top of the tree.
if [ $# -gt 0 ]; then
	files=()
	for f in "$@"; do
		[ -f "$f" ] || die "no such file: $f"
		files+=("$(realpath "$f")")
	done
else
	mapfile -t files < <(find "$ROOT/src" -name '*.[ch]' | LC_ALL=C sort)
	[ ${#files[@]} -gt 0 ] || die "no .c or .h files under $ROOT/src"
fi
cd "$ROOT"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Our names: typedefs.list, plus any typedef in src/ it does not list yet.
ours=$("$ROOT/scripts/typedefs.sh" --print)
if [ -f typedefs.list ]; then
	missing=$(LC_ALL=C comm -13 <(LC_ALL=C sort -u typedefs.list) <(printf '%s\n' "$ours"))
	if [ -n "$missing" ]; then
		note "warning: typedefs.list lacks $(tr '\n' ' ' <<<"$missing"); run \"make typedefs\""
	fi
else
	note "warning: no typedefs.list; run \"make typedefs\""
fi
cat "$PG_CACHE/typedefs.list" >"$tmp/typedefs.list"
[ -f typedefs.list ] && grep -v '^[[:space:]]*$' typedefs.list >>"$tmp/typedefs.list"
printf '%s\n' "$ours" >>"$tmp/typedefs.list"

# pgindent rewrites the files it is given, and keeps its temporary files in
# the current directory: run it in $tmp, on copies when only checking.
targets=()
for i in "${!files[@]}"; do
	if [ "$check" = 1 ]; then
		mkdir -p "$tmp/copy/$i"
		cp "${files[$i]}" "$tmp/copy/$i/"
		targets+=("$tmp/copy/$i/$(basename "${files[$i]}")")
	else
		targets+=("${files[$i]}")
	fi
done

(cd "$tmp" && PGINDENT="$INDENT_BIN" perl "$PG_CACHE/pgindent" \
	--typedefs="$tmp/typedefs.list" "${targets[@]}") 2>"$tmp/errors" || {
	cat "$tmp/errors" >&2
	die "pgindent failed"
}
if [ -s "$tmp/errors" ]; then
	sed "s|$ROOT/||" "$tmp/errors" >&2
	die "pg_bsd_indent could not parse the files named above and left them as they were (\"Unbalanced parens\" is usually a compound literal among a call's arguments, f(x, (Oid[]) {...}): declare the array first)"
fi

if [ "$check" = 1 ]; then
	for i in "${!files[@]}"; do
		name=$(realpath --relative-base="$ROOT" "${files[$i]}")
		diff -u --label "a/$name" --label "b/$name" "${files[$i]}" "${targets[$i]}" || true
	done >"$tmp/diff"
	if [ -s "$tmp/diff" ]; then
		cat "$tmp/diff"
		note "checked ${#files[@]} file(s): indenting would change the files above (run \"make indent\")"
		exit 1
	fi
	note "checked ${#files[@]} file(s): all indented"
else
	note "indented ${#files[@]} file(s) with $(sed -n 's/^source package: //p' "$PG_CACHE/SOURCE")'s pgindent and $indent_version"
fi
