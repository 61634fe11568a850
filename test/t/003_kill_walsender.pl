# 003_kill_walsender.pl: kill -9 of the walsender serving the source worker
# (application_name 'pgcdc_drasi:<source>') in the middle of a large
# transaction loses and duplicates nothing.
#
# The postmaster reinitializes after the SIGKILL (restart_after_crash = on),
# which takes the worker and a concurrent writer down too.  A second kill of
# the walsender while idle follows.  The queue must end up holding every
# committed change exactly once, in commit order.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $source = 'kill-walsender';
my $big = big_rows();
my $node = cdc_node('kill_walsender', restart_after_crash => 1);

my $pid = crash_fixture($node, $source, 'walsender_pub');

small_transactions($node,
	insert => [ 1, 100, 0 ],
	update => [ 1, 20, 1 ],
	delete => [ 81, 100 ]);
my ($writer, $lsn_before) = start_big_transaction($node, $big, 'md5(g::text)');
small_transactions($node, insert => [ 101, 150, 2 ]);

# Kill the walsender while the worker receives the large transaction.
wait_mid_big($node, $source, $lsn_before);
my $ws = walsender_pid($node, $source);
like($ws, qr/^\d+$/, 'walsender of the source found by application_name');
$pid = source_pid($node, $source);
kill9_and_wait_reinit($node, $ws);
my $ticks = stop_tick_writer($node, $writer);
note("tick writer committed $ticks rows");

my $pid2 = wait_streaming($node, $source, not_pid => $pid,
	desc => 'worker streaming again after walsender kill -9');
isnt(walsender_pid($node, $source), $ws, 'a new walsender');

catchup($node, $source, desc => 'caught up after walsender kill -9');

# Second round: kill the walsender while idle, then commit more.
$ws = walsender_pid($node, $source);
kill9_and_wait_reinit($node, $ws);
small_transactions($node, insert => [ 151, 200, 3 ]);
wait_streaming($node, $source, not_pid => $pid2,
	desc => 'worker streaming again after idle walsender kill -9');
catchup($node, $source, desc => 'caught up after second walsender kill -9');

check_crash_queue(
	$node, $source, $big, $ticks,
	[ 'small', 1,   100, 'i' ],
	[ 'small', 1,   20,  'u' ],
	[ 'small', 81,  100, 'd' ],
	[ 'small', 101, 150, 'i' ],
	[ 'small', 151, 200, 'i' ]);
check_invariants($node, $source, 'after kill -9 of the walsender');

$node->stop;
done_testing();
