#!/usr/bin/env bash
# The PostgreSQL 15 that test/t/060_pg_upgrade.pl upgrades from when the
# suites run on 17 or 18 (test/run.sh): Debian bookworm's binary packages of
# one pinned minor release, unpacked (not installed) into a prefix of our
# own, next to the builds of scripts/install-pg.sh.
#
#   scripts/install-pg15-old.sh   -> prints the root of the unpacked tree,
#                                    e.g. /var/cache/pgcdc_drasi/pg15-old
#                                    (usr/lib/postgresql/15/bin, usr/share/...,
#                                    usr/include/... under it)
#
# Why not the system's 15: a minor release can store catalog contents that
# only newer majors of its own release round (or later) can restore.
# Debian's 15.20 keeps a column option "pg_attver" on every column, and the
# 17.11 and 18.6 that scripts/install-pg.sh builds (the newest whose
# sources Debian serves) refuse it while pg_upgrade restores the schema
# (ERROR: unrecognized parameter "pg_attver"), for any table at all.  15.18
# predates that option.  Once the 17 and 18 builds are of 15.20's round or
# later, the pin can move up.
#
# The packages (server, client, server headers: the extension is built
# against the very release it runs on) come through the system's apt
# sources, whose signed indexes apt checks every file against; dpkg -x
# unpacks them.  Cached with a stamp: a rerun prints the prefix without
# touching the network.  Needs root the first time.
#
# Environment:
#   PGCDC_CACHE_DIR     cache root (default /var/cache/pgcdc_drasi)
#   PG15_OLD_VERSION    the Debian version to unpack (default below)
set -euo pipefail

VERSION=${PG15_OLD_VERSION:-15.18-0+deb12u1}
PACKAGES=(postgresql-15 postgresql-client-15 postgresql-server-dev-15)

die() { echo "install-pg15-old.sh: $*" >&2; exit 1; }
note() { echo "install-pg15-old.sh: $*" >&2; }

CACHE=${PGCDC_CACHE_DIR:-/var/cache/pgcdc_drasi}
PREFIX=$CACHE/pg15-old
STAMP=$PREFIX/.pgcdc_build

if [ -f "$STAMP" ] && [ "$(head -n 1 "$STAMP")" = "postgresql-15 $VERSION" ]; then
	note "pg15-old cached ($(head -n 1 "$STAMP"))"
	echo "$PREFIX"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "postgresql-15 $VERSION is not unpacked in $PREFIX yet (run as root once)"

WORK=$(mktemp -d "$CACHE/pg15-old.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
specs=()
for p in "${PACKAGES[@]}"; do specs+=("$p=$VERSION"); done
if ! apt-get -o APT::Sandbox::User=root download -qq "${specs[@]}" >&2 2>download.err; then
	note "not in the apt index; updating it once"
	apt-get update -qq >&2
	apt-get -o APT::Sandbox::User=root download -qq "${specs[@]}" >&2 2>download.err ||
		{ cat download.err >&2; die "cannot download ${specs[*]}"; }
fi

mkdir root
for deb in ./*.deb; do
	dpkg -x "$deb" root
done
[ -x root/usr/lib/postgresql/15/bin/postgres ] && [ -x root/usr/lib/postgresql/15/bin/pg_config ] ||
	die "the packages did not unpack into usr/lib/postgresql/15"

rm -rf "$PREFIX"
mv root "$PREFIX"
chmod -R a+rX "$PREFIX"
printf 'postgresql-15 %s\n' "$VERSION" > "$STAMP"
note "pg15-old ready: postgresql-15 $VERSION"
echo "$PREFIX"
