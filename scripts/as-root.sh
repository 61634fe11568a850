# scripts/as-root.sh: sourced by the scripts that must run as root
# (test/run.sh, demo/run.sh, bench/run.sh), which then call
#
#   as_root "VARIABLES TO KEEP" "$script" "$@"
#
# As root it returns at once (sudo is not needed, nor used).  Otherwise it
# re-executes "bash $script $@" through sudo, passing on those of the named
# environment variables that are set (sudo resets the environment), or,
# when sudo is not installed, exits with a message that says what to do.

as_root()
{
	local keep_names=$1 script=$2 name
	shift 2
	[ "$(id -u)" -eq 0 ] && return 0

	local keep=()
	for name in $keep_names; do
		[ -n "${!name+set}" ] && keep+=("$name=${!name}")
	done
	script=$(cd "$(dirname "$script")" && pwd)/$(basename "$script")
	local me
	me=$(basename "$(dirname "$script")")/$(basename "$script")
	if command -v sudo >/dev/null 2>&1; then
		echo "$me: not root, running it through sudo" >&2
		exec sudo -- env "${keep[@]}" bash "$script" "$@"
	fi
	echo "$me: must run as root (it installs packages and runs PostgreSQL as the postgres user)," >&2
	echo "and sudo is not installed.  Run it as root, for instance: su -c 'bash $script'" >&2
	exit 1
}
