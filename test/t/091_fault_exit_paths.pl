# 091_fault_exit_paths.pl: an error while the shared lock is held, and a
# launcher that exits while a worker it registered is starting, never
# wedge the cluster's sources (fault injection).
#
#   1. A source worker raises an ERROR while it holds pgcdc_shared->lock,
#      outside a transaction ("source_connected"): the exit callback must
#      release the lock before it takes it again.
#   2. The same inside run_source ("source_origin"): the worker's error
#      handler must release it before recording the error.
#   3. The launcher raises an ERROR while it holds the lock
#      ("launcher_locked"), right after marking the source "starting":
#      its exit callback must release the lock, and the next launcher
#      must clear the flag nobody will clear otherwise.
#   4. The launcher exits right after registering a source worker
#      ("launcher_registered"), and that worker dies before attaching
#      ("source_start"): the entry stays marked "starting" with nobody
#      holding its handle; the next launcher must clear the flag.
#
# After each fault is removed, the source must stream again.  Every query
# is bounded in time: a process waiting for a wedged LWLock cannot be
# cancelled, so a wedge shows as a timeout, not as a hung test, and the
# test ends at the first part that does not recover.
#
# PostgreSQL itself releases LWLocks in shmem_exit() before the exit
# callbacks run in the releases tested here (15.20, 18), so part 1 and
# the lock half of part 3 guard our exit callbacks only where it does
# not; part 2 (an error handler inside the process, which shmem_exit does
# not reach) and the stale flag of parts 3 and 4 fail without our fixes.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;
use PgcdcFault;

my $node = cdc_node('exits');
unless (fault_available($node))
{
	$node->stop;
	plan skip_all => 'pgcdc_drasi.debug_fault needs a build with -DUSE_ASSERT_CHECKING';
}
$node->safe_psql(
	'postgres', q{
CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION t_pub FOR TABLE t;
});
create_source($node, 's', 't_pub');
my $pid = wait_streaming($node, 's');

# Make a new worker start (the old one stops), with $fault in effect.
sub restart_with_fault
{
	my ($fault) = @_;
	my ($ok) = timed_query($node, "SELECT pgcdc_drasi.pause_source('s')", 30);
	set_fault($node, $fault);
	# The launcher takes the reload at its next round.
	sleep(1);
	($ok) = timed_query($node, "SELECT pgcdc_drasi.resume_source('s')", 30) if $ok;
	return $ok;
}

# Remove the fault; the source must stream again, and rows flow.
sub recovers
{
	my ($part, $n) = @_;
	set_fault($node, '');
	my $ok = wait_streaming_within($node, 's', 60);
	ok($ok, "($part) the source streams again after the fault is removed");
	unless ($ok)
	{
		# Wedged: every later part would only wait for the same lock.
		$node->stop('immediate');
		done_testing();
		exit 1;
	}
	($ok) = timed_query($node, "INSERT INTO t VALUES ($n)", 30);
	my $seen;
	for (1 .. 300)
	{
		($ok, $seen) = timed_query($node,
			"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 's' AND element_id = 't:$n'", 10);
		last if $seen eq '1';
		select(undef, undef, undef, 0.1);
	}
	is($seen, '1', "($part) a new row is published");
	return;
}

my $offset;

# 1. ERROR with the lock held, outside a transaction, in a source worker
$offset = -s $node->logfile;
ok(restart_with_fault('source_connected:error'), '(1) source paused and resumed');
ok(wait_for_log($node, qr/fault injected at "source_connected"/, $offset, 30),
	'(1) the new worker raised the error with the lock held');
recovers(1, 1);

# 2. ERROR with the lock held inside run_source (the worker's error handler)
$offset = -s $node->logfile;
ok(restart_with_fault('source_origin:error'), '(2) source paused and resumed');
ok(wait_for_log($node, qr/fault injected at "source_origin"/, $offset, 30),
	'(2) the new worker raised the error with the lock held');
my ($ok, $err) = timed_query($node,
	"SELECT last_error FROM pgcdc_drasi.status WHERE source_id = 's'", 30);
like($err, qr/fault injected at "source_origin"/, '(2) the error is recorded in the status');
recovers(2, 2);

# 3. ERROR with the lock held in the launcher
$offset = -s $node->logfile;
ok(restart_with_fault('launcher_locked:error'), '(3) source paused and resumed');
ok(wait_for_log($node, qr/fault injected at "launcher_locked"/, $offset, 30),
	'(3) the launcher raised the error with the lock held');
recovers(3, 3);

# 4. The launcher exits after registering a worker that dies before attaching
$offset = -s $node->logfile;
ok(restart_with_fault('launcher_registered:error,source_start:error'),
	'(4) source paused and resumed');
ok(wait_for_log($node, qr/fault injected at "launcher_registered"/, $offset, 30),
	'(4) the launcher exited after registering the worker');
ok(wait_for_log($node, qr/fault injected at "source_start"/, $offset, 30),
	'(4) the worker died before attaching');
recovers(4, 4);

$node->stop('immediate');
done_testing();
