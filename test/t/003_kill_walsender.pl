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

$node->safe_psql(
	'postgres', q{
CREATE TABLE small(id int PRIMARY KEY, v int);
CREATE TABLE big(id int PRIMARY KEY, pad text);
CREATE TABLE ticks(id int PRIMARY KEY);
CREATE PUBLICATION walsender_pub FOR TABLE small, big, ticks;
});
create_source($node, $source, 'walsender_pub');
my $pid = wait_streaming($node, $source, desc => 'worker streaming');

my $sql = '';
$sql .= "INSERT INTO small VALUES ($_, 0);\n" for 1 .. 100;
$sql .= "UPDATE small SET v = 1 WHERE id = $_;\n" for 1 .. 20;
$sql .= "DELETE FROM small WHERE id = $_;\n" for 81 .. 100;
$node->safe_psql('postgres', $sql);

my $writer = start_tick_writer($node, 'ticks', 6000, 0.01);

my $lsn_before = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres',
	"INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, $big) g");
$sql = '';
$sql .= "INSERT INTO small VALUES ($_, 2);\n" for 101 .. 150;
$node->safe_psql('postgres', $sql);

# Kill the walsender while the worker receives the large transaction.
my $mid = wait_mid_publication($node, $source, $lsn_before);
note("worker observed mid-publication: " . ($mid ? 'yes' : 'no'));
note("events of the large transaction committed to the queue before the kill: "
	  . queue_count($node, $source, "element_id LIKE 'big:%'"));
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
$sql = '';
$sql .= "INSERT INTO small VALUES ($_, 3);\n" for 151 .. 200;
$node->safe_psql('postgres', $sql);
wait_streaming($node, $source, not_pid => $pid2,
	desc => 'worker streaming again after idle walsender kill -9');
catchup($node, $source, desc => 'caught up after second walsender kill -9');

check_queue($node, $source, expected_sql([ 'big', 1, $big, 'i' ]),
	'large transaction', filter => "element_id LIKE 'big:%'");
check_queue(
	$node, $source,
	expected_sql(
		[ 'small', 1,   100, 'i' ],
		[ 'small', 1,   20,  'u' ],
		[ 'small', 81,  100, 'd' ],
		[ 'small', 101, 150, 'i' ],
		[ 'small', 151, 200, 'i' ]),
	'small transactions',
	filter => "element_id LIKE 'small:%'");
check_queue(
	$node, $source,
	q{SELECT row_number() OVER (ORDER BY id) AS n, 'ticks:' || id || ':i' AS v FROM ticks},
	'concurrent writer', filter => "element_id LIKE 'ticks:%'");
is(queue_count($node, $source),
	$big + 100 + 20 + 20 + 50 + 50 + $ticks,
	'nothing else in the queue');
check_invariants($node, $source, 'after kill -9 of the walsender');

$node->stop;
done_testing();
