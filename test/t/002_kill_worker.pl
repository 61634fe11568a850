# 002_kill_worker.pl: kill -9 of the source worker while it publishes a large
# transaction loses and duplicates nothing.
#
# Many small transactions, a large single transaction (PGCDC_TEST_BIG_ROWS
# rows, default 200000) and a concurrent one-row-per-transaction writer are
# committed; the worker is killed with SIGKILL while it is publishing the
# large transaction (the postmaster then reinitializes, which also kills the
# writer), and once more while it republishes after the restart.  Afterwards
# the queue must hold every committed change exactly once, in commit order.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $source = 'kill-worker';
my $big = big_rows();
my $node = cdc_node('kill_worker', restart_after_crash => 1);

my $pid = crash_fixture($node, $source, 'kill_pub');

# Many small transactions.
small_transactions($node,
	insert => [ 1, 200, 0 ],
	update => [ 1, 50, 1 ],
	delete => [ 151, 200 ]);

# A concurrent writer, one row per transaction, until the crash stops it;
# the large transaction, then small ones queued behind it.
my ($writer, $lsn_before) = start_big_transaction($node, $big, "repeat('x', 20)");
small_transactions($node, insert => [ 201, 300, 2 ]);

# Kill the worker while it publishes the large transaction.
wait_mid_big($node, $source, $lsn_before);
$pid = wait_streaming($node, $source, desc => 'worker streaming before the kill');
is( $node->safe_psql('postgres',
		"SELECT backend_type FROM pg_stat_activity WHERE pid = $pid"),
	'pgcdc_drasi source',
	'the pid from pgcdc_drasi.status is the source worker');
kill9_and_wait_reinit($node, $pid);
my $ticks = stop_tick_writer($node, $writer);
note("tick writer committed $ticks rows");

# Kill it again while it republishes, if it has not finished yet.
my $pid2 = wait_streaming($node, $source, not_pid => $pid,
	desc => 'worker restarted after kill -9');
if (queue_count($node, $source, "element_id LIKE 'big:%'") < $big)
{
	wait_mid_publication($node, $source, $lsn_before, max_seconds => 20);
	my $victim = wait_streaming($node, $source,
		desc => 'worker streaming before the second kill');
	kill9_and_wait_reinit($node, $victim);
	$pid2 = wait_streaming($node, $source, not_pid => $victim,
		desc => 'worker restarted after second kill -9');
}
else
{
	note('large transaction already published after the first restart');
}

# More small transactions after recovery.
small_transactions($node, insert => [ 301, 350, 3 ]);

catchup($node, $source, desc => 'caught up after kill -9');

check_crash_queue(
	$node, $source, $big, $ticks,
	[ 'small', 1,   200, 'i' ],
	[ 'small', 1,   50,  'u' ],
	[ 'small', 151, 200, 'd' ],
	[ 'small', 201, 300, 'i' ],
	[ 'small', 301, 350, 'i' ]);
is( $node->safe_psql(
		'postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events e,
       (SELECT min(seq) AS lo, max(seq) AS hi FROM pgcdc_drasi.events
         WHERE source_id = '$source' AND element_id LIKE 'big:%') b
 WHERE e.source_id = '$source' AND e.seq BETWEEN b.lo AND b.hi
   AND e.element_id NOT LIKE 'big:%'}),
	'0',
	'the large transaction is contiguous in the queue');
is( $node->safe_psql(
		'postgres',
		"SELECT count(DISTINCT xid) FROM pgcdc_drasi.events WHERE source_id = '$source' AND element_id LIKE 'big:%'"
	),
	'1',
	'the large transaction has one xid');
check_invariants($node, $source, 'after kill -9 of the worker');

$node->stop;
done_testing();
