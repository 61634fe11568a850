# 090_fault_durable_commit.pl: synchronous_commit lowered by a reload never
# makes queue rows visible before they are on disk (fault injection).
#
# The source worker starts with synchronous_commit = on; a reload then
# lowers it to off.  The fault point "source_committed" makes the worker
# sleep right after each local commit that published, before anything
# else it does (such as an explicit flush), so a commit that returned
# before its WAL was flushed stays unflushed for seconds: the WAL writer
# flushes asynchronous commits only every 10 s here.  While the worker
# sleeps, each new queue row is visible; its commit record must already be
# flushed (pg_walinspect reads flushed WAL only).  A worker that committed
# at the reloaded "off" fails this for every row.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;
use PgcdcFault;

my $node = cdc_node(
	'durable', extra_conf => q{
wal_writer_delay = 10s
wal_writer_flush_after = 1GB
});
unless (fault_available($node))
{
	$node->stop;
	plan skip_all => 'pgcdc_drasi.debug_fault needs a build with -DUSE_ASSERT_CHECKING';
}
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_walinspect;
CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION t_pub FOR TABLE t;
});
create_source($node, 't', 't_pub');
my $pid = wait_streaming($node, 't');

# Lowered after the worker started; the worker takes the reload between groups.
$node->safe_psql('postgres', 'ALTER SYSTEM SET synchronous_commit = off');
set_fault($node, 'source_committed:sleep:3000');
ok($node->poll_query_until('postgres', 'SHOW synchronous_commit', 'off'),
	'synchronous_commit = off is in effect');
sleep(2);

my $lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my $offset = -s $node->logfile;
my $durable = 0;
for my $id (1 .. 5)
{
	$node->safe_psql('postgres', "SET synchronous_commit = on; INSERT INTO t VALUES ($id)");
	my $xmin = '';
	for (1 .. 3000)
	{
		$xmin = $node->safe_psql('postgres',
			"SELECT t.xmin FROM pgcdc_drasi.events e JOIN pgcdc_drasi.queue_transactions t "
			  . "ON t.source_id = e.source_id AND t.first_seq = e.seq - e.tx_index "
			  . "WHERE e.source_id = 't' AND e.element_id = 't:$id'");
		last if $xmin ne '';
		usleep(10_000);
	}
	my $flushed = $node->safe_psql('postgres', qq{
SELECT count(*) FROM pg_get_wal_records_info('$lsn', pg_current_wal_flush_lsn()) w
 WHERE w.resource_manager = 'Transaction' AND w.record_type = 'COMMIT' AND w.xid = '$xmin'::xid});
	note("row $id: queue row of transaction $xmin, commit record flushed when visible: $flushed");
	$durable++ if $xmin ne '' && $flushed eq '1';
}
ok(wait_for_log($node, qr/fault at "source_committed": sleeping 3000 ms/, $offset, 10),
	'the worker slept after its commits');
is($durable, 5, 'each of the 5 queue rows was flushed when it became visible');
is(source_pid($node, 't'), $pid, 'the same worker throughout');

set_fault($node, '');
$node->stop;
done_testing();
