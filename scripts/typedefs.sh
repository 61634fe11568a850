#!/usr/bin/env bash
# Regenerate typedefs.list, the names of every typedef that pgcdc_drasi's own
# sources declare, one a line and sorted.  pgindent (scripts/pgindent.sh,
# "make indent") needs each type name in its list to lay out declarations and
# casts of that type correctly; PostgreSQL's own names come from its list.
#
#   scripts/typedefs.sh            rewrite typedefs.list from the .c and .h
#                                  files under src/
#   scripts/typedefs.sh --check    exit 1 (and show the difference) when
#                                  typedefs.list is not up to date
#   scripts/typedefs.sh --print    print the list, change nothing
#
# The names are read from the sources: "typedef ... Name;" (also across
# lines, as in "typedef struct X { ... } Name;") and function pointer types
# "typedef ret (*Name) (...);".  A type that has to be in the list but is not
# declared by a typedef in src/ (none today) goes into typedefs.extra.list,
# whose lines are merged in as they are.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode="write"
case "${1:-}" in
	"") ;;
	--check) mode=check ;;
	--print) mode=print ;;
	*)
		echo "usage: $0 [--check|--print]" >&2
		exit 2
		;;
esac

mapfile -t sources < <(find src -name '*.[ch]' | LC_ALL=C sort)

generate()
{
	perl -e '
		use strict;
		use warnings;
		my %names;
		for my $file (@ARGV)
		{
			open(my $fh, "<", $file) or die "cannot open $file: $!\n";
			local $/;
			my $src = <$fh>;
			close($fh);
			# comments, string and character literals, preprocessor lines
			# (one pass, so that each is recognized where it starts)
			$src =~ s{/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27}
					 {substr($&, 0, 1) eq "/" ? " " : "0"}gse;
			$src =~ s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}gm;
			while ($src =~ /\btypedef\b/g)
			{
				my $pos = pos($src);
				my $depth = 0;
				my $end;
				for (my $i = $pos; $i < length($src); $i++)
				{
					my $c = substr($src, $i, 1);
					if ($c eq "{" || $c eq "(") { $depth++; }
					elsif ($c eq "}" || $c eq ")") { $depth--; }
					elsif ($c eq ";" && $depth == 0) { $end = $i; last; }
				}
				die "$file: unterminated typedef\n" unless defined $end;
				my $decl = substr($src, $pos, $end - $pos);
				pos($src) = $end;
				if ($decl =~ /\(\s*\*\s*([A-Za-z_]\w*)\s*\)/)
				{
					$names{$1} = 1;		# function pointer type
				}
				else
				{
					$decl =~ s/\s*(\[[^\]]*\]\s*)*$//;	# array types
					$decl =~ /([A-Za-z_]\w*)$/
					  or die "$file: no name in typedef \"$decl\"\n";
					$names{$1} = 1;
				}
			}
		}
		print "$_\n" for sort keys %names;
	' "${sources[@]}"
	if [ -f typedefs.extra.list ]; then
		grep -v -e '^#' -e '^[[:space:]]*$' typedefs.extra.list
	fi
}

list=$(generate | LC_ALL=C sort -u)

case "$mode" in
	print)
		printf '%s\n' "$list"
		;;
	write)
		printf '%s\n' "$list" >typedefs.list
		echo "typedefs: typedefs.list has $(wc -l <typedefs.list) names"
		;;
	check)
		if ! diff -u typedefs.list <(printf '%s\n' "$list"); then
			echo "typedefs: typedefs.list is out of date; run \"make typedefs\"" >&2
			exit 1
		fi
		echo "typedefs: typedefs.list is up to date"
		;;
esac
