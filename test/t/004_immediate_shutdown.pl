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

$node->safe_psql(
	'postgres', q{
CREATE TABLE small(id int PRIMARY KEY, v int);
CREATE TABLE big(id int PRIMARY KEY, pad text);
CREATE TABLE ticks(id int PRIMARY KEY);
CREATE PUBLICATION immediate_pub FOR TABLE small, big, ticks;
});
create_source($node, $source, 'immediate_pub');
my $pid = wait_streaming($node, $source, desc => 'worker streaming');

my $sql = '';
$sql .= "INSERT INTO small VALUES ($_, 0);\n" for 1 .. 100;
$sql .= "UPDATE small SET v = 1 WHERE id = $_;\n" for 1 .. 20;
$sql .= "DELETE FROM small WHERE id = $_;\n" for 91 .. 100;
$node->safe_psql('postgres', $sql);

my $writer = start_tick_writer($node, 'ticks', 6000, 0.01);

my $lsn_before = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres',
	"INSERT INTO big SELECT g, repeat('y', 30) FROM generate_series(1, $big) g");
$node->safe_psql('postgres', 'UPDATE small SET v = 2 WHERE id = 50');

# Round 1: immediate shutdown while the large transaction is being published.
my $mid = wait_mid_publication($node, $source, $lsn_before);
note("worker observed mid-publication: " . ($mid ? 'yes' : 'no'));
note("events of the large transaction committed to the queue before the kill: "
	  . queue_count($node, $source, "element_id LIKE 'big:%'"));
$node->stop('immediate');
finish_tick_writer($writer);
$node->start;

$sql = '';
$sql .= "INSERT INTO small VALUES ($_, 3);\n" for 101 .. 130;
$node->safe_psql('postgres', $sql);
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

check_queue($node, $source, expected_sql([ 'big', 1, $big, 'i' ]),
	'large transaction', filter => "element_id LIKE 'big:%'");
check_queue(
	$node, $source,
	expected_sql(
		[ 'small', 1,   100, 'i' ],
		[ 'small', 1,   20,  'u' ],
		[ 'small', 91,  100, 'd' ],
		'small:50:u',
		[ 'small', 101, 130, 'i' ],
		'small:1:d',
		'small:131:i'),
	'small transactions',
	filter => "element_id LIKE 'small:%'");
check_queue(
	$node, $source,
	q{SELECT row_number() OVER (ORDER BY id) AS n, 'ticks:' || id || ':i' AS v FROM ticks},
	'concurrent writer', filter => "element_id LIKE 'ticks:%'");
is(queue_count($node, $source),
	$big + 100 + 20 + 10 + 1 + 30 + 1 + 1 + $ticks,
	'nothing else in the queue');
check_invariants($node, $source, 'after immediate shutdowns');

$node->stop;
done_testing();

