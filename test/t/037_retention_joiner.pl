# 037_retention_joiner.pl: retention never removes events a consumer being
# created still needs.
#
# Consumer a reads and acknowledges continuously while consumer b is
# created with bootstrap in a REPEATABLE READ transaction that stays open
# for 30 s.  b's row is invisible to the worker meanwhile; b still needs
# every event its snapshot does not show, so retention must not remove the
# events a acknowledged.  Once b has committed and acknowledged too, the
# queue is emptied.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $node = cdc_node('retention_joiner');
$node->safe_psql(
	'postgres', q{
CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION t_pub FOR TABLE t;
INSERT INTO t SELECT generate_series(1, 100);
});
create_source($node, 'j', 't_pub');
wait_streaming($node, 'j');
$node->safe_psql('postgres', "INSERT INTO t SELECT generate_series(101, 110)");
catchup($node, 'j');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.create_consumer('a', 'j', 'earliest')");

# a acknowledges everything published so far.
sub ack_a
{
	$node->safe_psql('postgres', q{
SELECT pgcdc_drasi.ack('a', max(seq)) FROM pgcdc_drasi.read('a', 1000000) HAVING max(seq) IS NOT NULL});
	return;
}
ack_a();

my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$bg->query_safe("SELECT pgcdc_drasi.create_consumer('b', 'j', bootstrap => true)");
is($bg->query_safe("SELECT count(*) FROM pgcdc_drasi.bootstrap('j')"),
	'110', 'b: bootstrap() returns the 110 rows of its snapshot');

my $id = 110;
my $end = time() + 30;
while (time() < $end)
{
	$id++;
	$node->safe_psql('postgres', "INSERT INTO t VALUES ($id)");
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('j', '60s')");
	ack_a();
	usleep(100_000);
}
my $new = $id - 110;
note("$new rows inserted while b joined; events left in the queue: "
	  . queue_count($node, 'j'));
$bg->query_safe('COMMIT');
$bg->quit;

is( $node->safe_psql('postgres', q{
SELECT count(*) || ':' || count(DISTINCT element_id) || ':' || min(split_part(element_id, ':', 2)::int) || ':' || bool_and(op = 'i')
  FROM pgcdc_drasi.read('b', 1000000)}),
	"$new:$new:111:true",
	"b reads the $new events of rows inserted after its snapshot, none removed by retention");

# b catches up: now everything may go.
$node->safe_psql('postgres', q{
SELECT pgcdc_drasi.ack('b', max(seq)) FROM pgcdc_drasi.read('b', 1000000)});
ok($node->poll_query_until('postgres', "SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'j'", '0'),
	'once both consumers acknowledged everything, retention empties the queue');

$node->stop;
done_testing();
