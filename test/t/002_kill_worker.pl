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

$node->safe_psql(
	'postgres', q{
CREATE TABLE small(id int PRIMARY KEY, v int);
CREATE TABLE big(id int PRIMARY KEY, pad text);
CREATE TABLE ticks(id int PRIMARY KEY);
CREATE PUBLICATION kill_pub FOR TABLE small, big, ticks;
});
create_source($node, $source, 'kill_pub');
my $pid = wait_streaming($node, $source, desc => 'worker streaming');

# Many small transactions (psql sends each statement as its own transaction).
my $sql = '';
$sql .= "INSERT INTO small VALUES ($_, 0);\n" for 1 .. 200;
$sql .= "UPDATE small SET v = 1 WHERE id = $_;\n" for 1 .. 50;
$sql .= "DELETE FROM small WHERE id = $_;\n" for 151 .. 200;
$node->safe_psql('postgres', $sql);

# A concurrent writer, one row per transaction, until the crash stops it.
my $writer = start_tick_writer($node, 'ticks', 6000, 0.01);

# The large transaction, then small ones queued behind it.
my $lsn_before = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres',
	"INSERT INTO big SELECT g, repeat('x', 20) FROM generate_series(1, $big) g");
$sql = '';
$sql .= "INSERT INTO small VALUES ($_, 2);\n" for 201 .. 300;
$node->safe_psql('postgres', $sql);

# Kill the worker while it publishes the large transaction.
my $mid = wait_mid_publication($node, $source, $lsn_before);
note("worker observed mid-publication: " . ($mid ? 'yes' : 'no'));
note("events of the large transaction committed to the queue before the kill: "
	  . queue_count($node, $source, "element_id LIKE 'big:%'"));
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
$sql = '';
$sql .= "INSERT INTO small VALUES ($_, 3);\n" for 301 .. 350;
$node->safe_psql('postgres', $sql);

catchup($node, $source, desc => 'caught up after kill -9');

check_queue($node, $source, expected_sql([ 'big', 1, $big, 'i' ]),
	'large transaction', filter => "element_id LIKE 'big:%'");
check_queue(
	$node, $source,
	expected_sql(
		[ 'small', 1,   200, 'i' ],
		[ 'small', 1,   50,  'u' ],
		[ 'small', 151, 200, 'd' ],
		[ 'small', 201, 300, 'i' ],
		[ 'small', 301, 350, 'i' ]),
	'small transactions',
	filter => "element_id LIKE 'small:%'");
check_queue(
	$node, $source,
	q{SELECT row_number() OVER (ORDER BY id) AS n, 'ticks:' || id || ':i' AS v FROM ticks},
	'concurrent writer', filter => "element_id LIKE 'ticks:%'");
is(queue_count($node, $source),
	$big + 200 + 50 + 50 + 100 + 50 + $ticks,
	'nothing else in the queue');
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
