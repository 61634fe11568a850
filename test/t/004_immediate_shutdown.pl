# 004_immediate_shutdown.pl: an immediate shutdown (crash recovery at the next
# start) during streaming loses and duplicates nothing.
#
# Round 1 stops the server immediately while the worker publishes a large
# transaction and a concurrent writer commits one row per transaction; round
# 2 stops it immediately while idle.  Changes are also committed right after
# each start, before the worker is back.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $source = 'immediate';
my $big = int(big_rows() / 4) || 1;
my $node = cdc_node('immediate');

my $pid = crash_fixture($node, $source, 'immediate_pub');

small_transactions($node,
	insert => [ 1, 100, 0 ],
	update => [ 1, 20, 1 ],
	delete => [ 91, 100 ]);
my ($writer, $lsn_before) = start_big_transaction($node, $big, "repeat('y', 30)");
small_transactions($node, update => [ 50, 50, 2 ]);

# Round 1: immediate shutdown while the large transaction is being published.
wait_mid_big($node, $source, $lsn_before);
$node->stop('immediate');
finish_tick_writer($writer);
$node->start;

small_transactions($node, insert => [ 101, 130, 3 ]);
my $ticks = $node->safe_psql('postgres', 'SELECT count(*) FROM ticks');
note("tick writer committed $ticks rows");

my $pid2 = wait_streaming($node, $source, not_pid => $pid,
	desc => 'worker back after immediate shutdown');
catchup($node, $source, desc => 'caught up after immediate shutdown');

# Round 2: immediate shutdown while idle.
$node->stop('immediate');
$node->start;
$node->safe_psql('postgres', 'DELETE FROM small WHERE id = 1');
wait_streaming($node, $source, not_pid => $pid2,
	desc => 'worker back after idle immediate shutdown');
$node->safe_psql('postgres', 'INSERT INTO small VALUES (131, 4)');
catchup($node, $source, desc => 'caught up after idle immediate shutdown');

check_crash_queue(
	$node, $source, $big, $ticks,
	[ 'small', 1,   100, 'i' ],
	[ 'small', 1,   20,  'u' ],
	[ 'small', 91,  100, 'd' ],
	'small:50:u',
	[ 'small', 101, 130, 'i' ],
	'small:1:d',
	'small:131:i');
check_invariants($node, $source, 'after immediate shutdowns');

$node->stop;
done_testing();

