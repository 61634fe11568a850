#!/usr/bin/env bash
# Build PostgreSQL 17 or 18 from Debian's source package into a prefix of
# our own, with what the test suites need (TAP support, libxml, the contrib
# modules the tests use, pgTAP's SQL files from Debian's postgresql-15-pgtap).
# PostgreSQL 15 is Debian bookworm's binary package and needs nothing from
# here.
#
#   scripts/install-pg.sh 17            -> prints the prefix, e.g.
#                                          /var/cache/pgcdc_drasi/pg17
#   scripts/install-pg.sh 18 --cassert  -> .../pg18-cassert (assertions on)
#
# Everything goes to stderr except the last line: the prefix (bin/, lib/,
# share/ under it; use it as PG_HOME=<prefix> with test/run.sh).
#
# Idempotent and cached: a prefix that was built completely carries a stamp
# file (.pgcdc_build) and a rerun prints it without touching the network.
# PG_REFRESH=1 rebuilds (e.g. for a new minor release).
#
# Where the sources come from, nothing outside Debian's archive:
#   - a private apt state ($CACHE/apt: its own sources list and lists
#     directory, the system's apt configuration is not touched) with deb-src
#     entries for trixie (postgresql-17) and sid (postgresql-18), signed by
#     debian-archive-keyring; "apt-get source --download-only" checks the
#     files against the signed Sources index; each listed version is tried,
#     newest first;
#   - when that fails (the mirror can list a version whose files are not
#     there yet: trixie listed 17.12 while its files answered 404), the
#     pinned version below is fetched from the pool by name and its .dsc
#     signature is checked against debian-keyring (a Debian developer's
#     signature; dpkg-source --require-valid-signature).
# dpkg-source then checks the tarballs against the .dsc's checksums.  The
# upstream tree is built without Debian's patches (they move files to
# Debian's per-version directories, which a private prefix does not want).
#
# Needs root for the build dependencies (bison, flex, libxml2-dev, ...); the
# build itself runs as the invoking user.  Takes about 9 minutes for 17 and
# 11 for 18 on 2 cores.
#
# Environment:
#   PGCDC_CACHE_DIR   cache root (default /var/cache/pgcdc_drasi)
#   PG_REFRESH=1      rebuild even when the stamp is there
#   MAKE_JOBS         parallel make jobs (default: number of CPUs)
set -euo pipefail

# One group, read whole before it runs: editing the file during a build
# leaves the build alone.
{
# Known good versions in the pool, used when the index's version cannot be
# fetched.  Both .dsc files are signed by Christoph Berg (checked here with
# gpgv and bookworm's debian-keyring).
declare -A FALLBACK=([17]=17.11-0+deb13u1 [18]=18.6-3)
# Contrib modules the test suites create.
CONTRIB=(citext pg_walinspect test_decoding)
BUILD_DEPS=(bison flex libxml2-dev zlib1g-dev pkg-config dpkg-dev gpgv
	libipc-run-perl perl make gcc libc6-dev postgresql-15-pgtap)

die() { echo "install-pg.sh: $*" >&2; exit 1; }
note() { echo "install-pg.sh: $*" >&2; }

[ $# -ge 1 ] || die "usage: scripts/install-pg.sh 17|18 [--cassert]"
MAJOR=$1
CASSERT=0
[ "${2:-}" = --cassert ] && CASSERT=1
case "$MAJOR" in
	17|18) ;;
	15) die "PostgreSQL 15 is Debian bookworm's package (scripts/install-deps.sh); nothing to build" ;;
	*) die "PostgreSQL $MAJOR is not built by this script (17 or 18)" ;;
esac

CACHE=${PGCDC_CACHE_DIR:-/var/cache/pgcdc_drasi}
NAME=pg$MAJOR
[ "$CASSERT" = 1 ] && NAME=$NAME-cassert
PREFIX=$CACHE/$NAME
STAMP=$PREFIX/.pgcdc_build

# Cached when built completely and every contrib module of the list is in.
complete()
{
	local c
	[ -f "$STAMP" ] || return 1
	for c in "${CONTRIB[@]}"; do
		[ -f "$PREFIX/share/postgresql/extension/$c.control" ] ||
			[ -f "$PREFIX/lib/postgresql/$c.so" ] || return 1
	done
}
if complete && [ "${PG_REFRESH:-0}" != 1 ]; then
	note "$NAME cached ($(head -n 1 "$STAMP"))"
	echo "$PREFIX"
	exit 0
fi

# Build dependencies (root only; a non-root user must have them already).
missing=()
for pkg in "${BUILD_DEPS[@]}"; do
	[ "$(dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]} (run as root once)"
	note "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial" "$CACHE/src"
APT_OPTS=(-o "Dir::Etc::SourceList=$CACHE/apt/sources.list"
	-o Dir::Etc::SourceParts=/nonexistent
	-o "Dir::State::Lists=$CACHE/apt/lists"
	-o "Dir::Cache=$CACHE/apt/cache"
	-o APT::Sandbox::User=root)
cat > "$CACHE/apt/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
EOF

SRCDIR=$CACHE/src/$NAME
rm -rf "$SRCDIR"
mkdir -p "$SRCDIR"
cd "$SRCDIR"

note "updating the private apt index (trixie and sid sources)"
apt-get "${APT_OPTS[@]}" update -qq >&2

# Fetch a source package into the current directory and unpack it into
# ./$pkg; prints the .dsc's file name.  Tries the versions the signed index
# lists, newest first (a mirror can list a version whose files are not
# there yet), then the pinned fallback from the pool with its signature
# checked.
fetch_source()
{
	local pkg=$1 fallback=${2:-} dsc ver
	for ver in $(apt-cache "${APT_OPTS[@]}" showsrc "$pkg" 2>/dev/null |
		sed -n 's/^Version: //p' | sort -ruV); do
		rm -f "${pkg}"_*
		if apt-get "${APT_OPTS[@]}" source --download-only -qq "$pkg=$ver" >&2 2>fetch.err; then
			dsc=${pkg}_${ver#*:}.dsc
			rm -rf "$pkg"
			dpkg-source --skip-patches -x "$dsc" "$pkg" >&2
			echo "$dsc"
			return 0
		fi
		note "$pkg $ver is listed but cannot be fetched ($(grep -m1 -o '404.*' fetch.err || echo error))"
	done
	[ -n "$fallback" ] || { cat fetch.err >&2; die "cannot fetch $pkg"; }
	fetch_pool "$pkg" "$fallback"
}

# Fetch one version of a source package from the pool by name (it need not
# be in the index), check the .dsc's signature against debian-keyring and
# the files against the .dsc, unpack it into ./$pkg; prints the .dsc's name.
fetch_pool()
{
	local pkg=$1 ver=$2 dsc f
	note "$pkg: fetching $ver from the pool"
	rm -f "${pkg}"_*
	if ! [ "$(dpkg-query -W -f '${Status}' debian-keyring 2>/dev/null)" = "install ok installed" ]; then
		[ "$(id -u)" -eq 0 ] || die "debian-keyring is needed to check $pkg $ver (run as root once)"
		apt-get install -y -qq --no-install-recommends debian-keyring >&2
	fi
	local pool=http://deb.debian.org/debian/pool/main/${pkg:0:1}/$pkg
	dsc=${pkg}_${ver}.dsc
	/usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$pool/$dsc" "$dsc" >&2
	gpgv --keyring /usr/share/keyrings/debian-keyring.gpg "$dsc" >&2 ||
		die "$dsc: signature not valid"
	for f in $(awk '/^Files:/ {on = 1; next} /^[^ ]/ {on = 0} on {print $3}' "$dsc"); do
		/usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$pool/$f" "$f" >&2
	done
	rm -rf "$pkg"
	dpkg-source --require-valid-signature --skip-patches -x "$dsc" "$pkg" >&2
	echo "$dsc"
}

case "$MAJOR" in
	17) PKG=postgresql-17 ;;
	18) PKG=postgresql-18 ;;
esac
CONFIGURE=(--prefix="$PREFIX" --enable-tap-tests --enable-debug --with-libxml
	--without-icu --without-readline)
[ "$CASSERT" = 1 ] && CONFIGURE+=(--enable-cassert)
JOBS=${MAKE_JOBS:-$(nproc)}

# The server (its own stamp, so that a failure later does not cost the
# build again).
if [ ! -f "$PREFIX/.pgcdc_server" ] || [ "${PG_REFRESH:-0}" = 1 ]; then
	DSC=$(fetch_source "$PKG" "${FALLBACK[$MAJOR]}")
	VERSION=$(sed -n 's/^Version: //p' "$DSC")
	note "building $PKG $VERSION into $PREFIX"
	rm -rf "$PREFIX"
	cd "$SRCDIR/$PKG"
	./configure "${CONFIGURE[@]}" > configure.log 2>&1 ||
		{ tail -n 40 configure.log >&2; die "configure failed"; }
	make -s -j"$JOBS" > make.log 2>&1 || { tail -n 60 make.log >&2; die "make failed"; }
	make -s install > install.log 2>&1 || { tail -n 40 install.log >&2; die "make install failed"; }
	printf '%s %s%s\nconfigure %s\n' "$PKG" "$VERSION" \
		"$([ "$CASSERT" = 1 ] && echo ' cassert')" "${CONFIGURE[*]}" > "$PREFIX/.pgcdc_server"
	cd "$SRCDIR"
fi
VERSION=$(sed -n "s/^$PKG \([^ ]*\).*/\1/p" "$PREFIX/.pgcdc_server")

# The contrib modules the tests use, built with PGXS against the installed
# server (so a module added to the list later needs no server build), from
# the same source version.
missing_contrib=()
for c in "${CONTRIB[@]}"; do
	[ -f "$PREFIX/share/postgresql/extension/$c.control" ] ||
		[ -f "$PREFIX/lib/postgresql/$c.so" ] || missing_contrib+=("$c")
done
if [ "${#missing_contrib[@]}" -gt 0 ]; then
	if [ ! -d "$SRCDIR/$PKG" ]; then
		cd "$SRCDIR"
		fetch_pool "$PKG" "$VERSION" > /dev/null
	fi
	for c in "${missing_contrib[@]}"; do
		note "building contrib/$c"
		make -s -C "$SRCDIR/$PKG/contrib/$c" USE_PGXS=1 PG_CONFIG="$PREFIX/bin/pg_config" install \
			>> "$SRCDIR/contrib.log" 2>&1 ||
			{ tail -n 40 "$SRCDIR/contrib.log" >&2; die "contrib/$c failed"; }
	done
fi

# pgTAP: it is SQL only (no C library), and the same files serve every
# version from 15 on, so those of Debian's postgresql-15-pgtap are copied.
# (Its source package is not always fetchable from the mirror.)
note "installing pgTAP (from postgresql-15-pgtap) into $PREFIX"
cp /usr/share/postgresql/15/extension/pgtap* "$PREFIX/share/postgresql/extension/" ||
	die "copying pgTAP failed"
PGTAP_VERSION=$(dpkg-query -W -f '${Version}' postgresql-15-pgtap)

{ cat "$PREFIX/.pgcdc_server"; echo "pgtap $PGTAP_VERSION"; } > "$STAMP"
cd "$CACHE"
rm -rf "$SRCDIR"
note "$NAME ready: $(head -n 1 "$STAMP")"
echo "$PREFIX"
exit 0
}
