# test/t/PgcdcFault.pm: helpers of the tests that inject faults
# (pgcdc_drasi.debug_fault, defined only by assertion-enabled builds).

=pod

=head1 NAME

PgcdcFault - fault injection helpers for the pgcdc_drasi Perl TAP tests

=head1 SYNOPSIS

  use PgcdcFault;

  plan skip_all => 'needs a build with -DUSE_ASSERT_CHECKING'
    unless fault_available($node);
  set_fault($node, 'source_connected:error');
  my ($ok, $out) = timed_query($node, 'SELECT 1', 30);

=cut

package PgcdcFault;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(
  fault_available
  set_fault
  timed_query
  wait_for_log
  wait_streaming_within
);

# Does the library define pgcdc_drasi.debug_fault (an assertion-enabled build)?
sub fault_available
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_settings WHERE name = 'pgcdc_drasi.debug_fault'") eq '1';
}

# Set pgcdc_drasi.debug_fault for every process (ALTER SYSTEM, reload).
# ALTER SYSTEM takes none of our locks, so it works even when a test has
# wedged them.
sub set_fault
{
	my ($node, $value) = @_;
	my ($ok) = timed_query($node,
		"ALTER SYSTEM SET pgcdc_drasi.debug_fault = '$value'", 30);
	die "could not set pgcdc_drasi.debug_fault" unless $ok;
	$node->reload;
	return;
}

# Run $sql, giving up after $secs seconds (a query that waits on a wedged
# LWLock cannot be cancelled).  Returns (finished without error, stdout).
sub timed_query
{
	my ($node, $sql, $secs) = @_;
	my ($stdout, $stderr, $timed_out);
	my $ret = $node->psql(
		'postgres', $sql,
		stdout => \$stdout,
		stderr => \$stderr,
		timeout => $secs,
		timed_out => \$timed_out);
	return (!$timed_out && defined $ret && $ret == 0, $stdout // '');
}

# Wait until the server log, from offset $from on, matches $re.
sub wait_for_log
{
	my ($node, $re, $from, $secs) = @_;
	for (1 .. $secs * 10)
	{
		return 1 if slurp_file($node->logfile, $from) =~ $re;
		usleep(100_000);
	}
	return 0;
}

# Wait (at most $secs seconds, every query bounded) until source $source
# streams with a worker other than $not_pid.
sub wait_streaming_within
{
	my ($node, $source, $secs, $not_pid) = @_;
	my $deadline = time() + $secs;
	my $extra = defined $not_pid ? " AND pid <> $not_pid" : '';
	while (time() < $deadline)
	{
		my ($ok, $out) = timed_query($node,
			"SELECT count(*) FROM pgcdc_drasi.status WHERE source_id = '$source'"
			  . " AND state = 'streaming'$extra", 10);
		return 1 if $ok && $out eq '1';
		usleep(200_000);
	}
	return 0;
}

1;
