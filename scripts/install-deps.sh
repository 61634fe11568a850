#!/usr/bin/env bash
# Install everything needed to build pgcdc_drasi and run its test suites on
# Debian bookworm.  Idempotent: when every package is already installed it
# returns without touching apt, so reruns are fast.  Run as root.
set -euo pipefail

PACKAGES=(
	postgresql-15
	postgresql-server-dev-15
	postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl
	libipc-run-perl
	# test/t/072_redis_direct.pl decodes some 300,000 events
	libjson-xs-perl
	make
	gcc
	libc6-dev
	perl
	libhiredis-dev
	libcurl4-openssl-dev
	# the HTTPS part of test/t/071_http_target.pl makes a certificate
	openssl
	redis-server
	redis-tools
	# building PostgreSQL 17 and 18 from source (scripts/install-pg.sh) and
	# checking the signature of a source package fetched from the pool
	bison
	flex
	libxml2-dev
	zlib1g-dev
	pkg-config
	dpkg-dev
	gpgv
	debian-keyring
)

# The Node.js client test (test/t/022_node_client.pl, test/node) needs node
# and npm.  A node installed otherwise (e.g. from NodeSource, which bundles
# npm and conflicts with Debian's npm package) is used as it is.
if ! command -v node >/dev/null 2>&1; then
	PACKAGES+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
	PACKAGES+=(npm)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	if ! [ "$(dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ]; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all packages already installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages (${missing[*]}) and not running as root" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}"
echo "install-deps: done"
