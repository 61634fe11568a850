# 092_fault_abort_origin.pl: a local commit that fails after the source
# position was set loses nothing (fault injection).
#
# PostgreSQL writes the session's replication origin position into abort
# records as well, and moves the origin to it.  A source worker sets the
# position of its group just before the local commit; when that commit
# fails instead (here an ERROR at the fault point "source_commit"; in real
# life a pg_terminate_backend while the commit waits for the NOTIFY lock),
# the worker exits, the transaction is aborted, and without care the
# origin would move past source transactions whose events were rolled
# back: the next worker would start after them.  The worker forgets the
# position in an exit callback that runs before the abort.
#
# Two sources capture the same table: a queue sink and a notify-only sink.
# While the fault is in effect, each worker fails at every commit; the
# origins must stay before the failing transaction.  Once the fault is
# removed, each source publishes the row exactly once.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;
use PgcdcFault;

my $node = cdc_node('abort_origin');
unless (fault_available($node))
{
	$node->stop;
	plan skip_all => 'pgcdc_drasi.debug_fault needs a build with -DUSE_ASSERT_CHECKING';
}
$node->safe_psql(
	'postgres', q{
CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION t_pub FOR TABLE t;
SELECT pgcdc_drasi.create_source('q', 't_pub', sink => 'queue');
SELECT pgcdc_drasi.create_source('n', 't_pub', sink => 'notify', channel => 'n_chan');
});
wait_streaming($node, 'q');
wait_streaming($node, 'n');

$node->safe_psql('postgres', 'INSERT INTO t VALUES (1)');
catchup($node, 'q');
catchup($node, 'n');

# Each source's origin position compared ($op) with $lsn: "q:<bool>,n:<bool>".
sub origins_compared
{
	my ($op, $lsn) = @_;
	return $node->safe_psql(
		'postgres', qq{
SELECT string_agg(s.source_id || ':' || (o.remote_lsn $op '$lsn'::pg_lsn), ',' ORDER BY s.source_id DESC)
  FROM pgcdc_drasi.sources s
  JOIN pg_replication_origin_status o ON o.external_id = s.origin_name});
}

my $before = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
is(origins_compared('<', $before), 'q:true,n:true', 'both origins are before the next transaction');

my $reconnects = $node->safe_psql('postgres',
	"SELECT string_agg(reconnects::text, ',' ORDER BY source_id DESC) FROM pgcdc_drasi.status");
my ($rq, $rn) = split /,/, $reconnects;
set_fault($node, 'source_commit:error');
$node->safe_psql('postgres', 'INSERT INTO t VALUES (2)');
# Two more workers of each source have started: the aborts of (at least)
# the first two failed commits are done.
my $failed = $node->poll_query_until(
	'postgres', qq{
SELECT count(*) = 2 FROM pgcdc_drasi.status
 WHERE last_error LIKE '%fault injected at "source_commit"%'
   AND reconnects >= CASE source_id WHEN 'q' THEN $rq ELSE $rn END + 2});
ok($failed, 'each worker failed at the commit of the group with the new row, and again after a restart');
is(origins_compared('<', $before), 'q:true,n:true',
	'while the commits fail, both origins stay before the failing transaction');

set_fault($node, '');
wait_streaming_within($node, 'q', 60);
wait_streaming_within($node, 'n', 60);
catchup($node, 'q');
catchup($node, 'n');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(element_id, ',' ORDER BY seq) FROM pgcdc_drasi.events WHERE source_id = 'q'}),
	't:1,t:2', 'queue sink: the row is published once after the fault is removed');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(source_id || ':' || last_seq || ':' || events_published, ',' ORDER BY source_id DESC)
		    FROM pgcdc_drasi.status}),
	'q:2:2,n:2:2', 'notify sink: two events, the second one after the fault is removed');
is(origins_compared('>', $before), 'q:true,n:true',
	'both origins moved past the transaction once it was published');

$node->stop;
done_testing();
