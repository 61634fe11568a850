# 036_reload.pl: settings reloaded while the source worker runs.
#
#   1. pgcdc_drasi.batch_size raised while a 2M-row source transaction is
#      being published (a local transaction with its queue buffer open):
#      the worker takes settings only between groups, the buffer keeps its
#      size, and every row arrives once, without a crash or a restart.
#   2. synchronous_commit lowered to off after the worker started: a queue
#      row is never visible before its commit record is flushed (checked
#      with pg_walinspect, which reads flushed WAL only; the WAL writer
#      flushes asynchronous commits only every 10 s here).  Before the
#      fix the worker's own XLogFlush right after its commit closed the
#      window within microseconds, so this part guards the property but
#      did not catch the old behaviour; 090_fault_durable_commit.pl does,
#      by making the worker sleep between its commit and that flush.
#   3. batch_size lowered to 10: a backlog of one-row transactions fills
#      the worker's buffers of event rows and of transaction rows many
#      times within one group; each event once, in order.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $rows = $ENV{PGCDC_TEST_RELOAD_ROWS} // 2000000;
my $node = cdc_node(
	'reload', extra_conf => q{
pgcdc_drasi.batch_size = 10
wal_writer_delay = 10s
wal_writer_flush_after = 1GB
});
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_walinspect;
CREATE TABLE big (id int PRIMARY KEY);
CREATE PUBLICATION big_pub FOR TABLE big;
});
create_source($node, 'big', 'big_pub');
wait_streaming($node, 'big');
my $pid = source_pid($node, 'big');

##############################################################################
# 1. batch_size raised in the middle of a group
##############################################################################

my $lsn_before = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres', "INSERT INTO big SELECT generate_series(1, $rows)");
ok(wait_mid_publication($node, 'big', $lsn_before, max_seconds => 120),
	'(1) the worker is publishing the large transaction');
$node->safe_psql('postgres', 'ALTER SYSTEM SET pgcdc_drasi.batch_size = 100000');
$node->reload;
catchup($node, 'big', timeout => '900s', desc => '(1) the worker catches up after the reload');
is( $node->safe_psql('postgres',
		"SELECT count(*) || ':' || count(DISTINCT element_id) || ':' || min(seq) || ':' || max(seq)
		   FROM pgcdc_drasi.events WHERE source_id = 'big'"),
	"$rows:$rows:1:$rows",
	"(1) $rows events, each row once, seq 1..$rows");
is(source_pid($node, 'big'), $pid, '(1) the same worker: no crash, no restart');
is($node->safe_psql('postgres', "SELECT current_setting('pgcdc_drasi.batch_size')"),
	'100000', '(1) batch_size 100000 is in effect');

##############################################################################
# 2. synchronous_commit = off reloaded
##############################################################################

$node->safe_psql('postgres', 'ALTER SYSTEM SET synchronous_commit = off');
$node->reload;
ok($node->poll_query_until('postgres', 'SHOW synchronous_commit', 'off'),
	'(2) synchronous_commit = off is in effect');
# The worker takes the reload at its next loop (its latch is set by SIGHUP).
sleep(2);
my $lsn2 = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my $next = $rows + 1;
my $durable_ok = 1;
for my $i (0 .. 4)
{
	my $id = $next + $i;
	$node->safe_psql('postgres',
		"SET synchronous_commit = on; INSERT INTO big VALUES ($id)");
	my $xmin = '';
	for (1 .. 3000)
	{
		$xmin = $node->safe_psql('postgres',
			"SELECT t.xmin FROM pgcdc_drasi.events e JOIN pgcdc_drasi.queue_transactions t "
			  . "ON t.source_id = e.source_id AND t.first_seq = e.seq - e.tx_index "
			  . "WHERE e.source_id = 'big' AND e.element_id = 'big:$id'");
		last if $xmin ne '';
		usleep(10_000);
	}
	# Seen: is its commit record flushed?
	my $flushed = $node->safe_psql('postgres', qq{
SELECT count(*) FROM pg_get_wal_records_info('$lsn2', pg_current_wal_flush_lsn()) w
 WHERE w.resource_manager = 'Transaction' AND w.record_type = 'COMMIT' AND w.xid = '$xmin'::xid});
	note("(2) row $id: queue row of transaction $xmin, commit records flushed: $flushed");
	$durable_ok = 0 unless $xmin ne '' && $flushed eq '1';
}
ok($durable_ok, '(2) every queue row was durable when it became visible');
is(source_pid($node, 'big'), $pid, '(2) the same worker');

##############################################################################
# 3. batch_size = 10 again, and a backlog of 300 transactions, one row each
#    and 70 more in every tenth: the worker's groups of them (up to 10 *
#    batch_size events) fill its buffers of event rows and of transaction
#    rows (batch_size each) many times over.  The one-row transactions hold
#    their event in their own row; those of 71 events (more than a row of
#    queue_events holds) have two rows of queue_events.
##############################################################################

$node->safe_psql('postgres', 'ALTER SYSTEM SET pgcdc_drasi.batch_size = 10');
$node->reload;
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source('big')");
ok($node->poll_query_until('postgres',
		"SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = 'big'"),
	'(3) paused');
my $first3 = $next + 5;
my $last3 = $first3 + 299;
$node->safe_psql('postgres',
	join('', map {
		$_ % 10 == 0
		  ? "BEGIN; INSERT INTO big VALUES ($_); "
		  . "INSERT INTO big SELECT -g FROM generate_series($_ * 100, $_ * 100 + 69) g; COMMIT;\n"
		  : "INSERT INTO big VALUES ($_);\n"
	} $first3 .. $last3));
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source('big')");
wait_streaming($node, 'big');
catchup($node, 'big', desc => '(3) caught up with the 300 transactions');
is( $node->safe_psql('postgres', qq{
SELECT count(*) || ':' || count(DISTINCT xid) || ':' || (max(seq) - min(seq) + 1)
  FROM pgcdc_drasi.events
 WHERE source_id = 'big'
   AND xid IN (SELECT xid FROM pgcdc_drasi.events WHERE source_id = 'big' AND element_id ~ '^big:'
                  AND substr(element_id, 5)::int BETWEEN $first3 AND $last3)}),
	'2400:300:2400', '(3) 2400 events of 300 transactions, contiguous in seq');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.queue_transactions t
 WHERE source_id = 'big'
   AND n_events <> CASE WHEN t.events IS NOT NULL
                        THEN (SELECT count(*) FROM pgcdc_drasi._unpack(t.events))
                             + (SELECT count(*) FROM pgcdc_drasi.queue_events e
                                 WHERE e.source_id = t.source_id AND e.tx_key = t.tx_key)
                        ELSE (SELECT sum(e.n_events) FROM pgcdc_drasi.queue_events e
                               WHERE e.source_id = t.source_id AND e.tx_key = t.tx_key) END}),
	'0', '(3) every transaction row counts the events queued under its key');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE t.events IS NOT NULL AND t.n_events = 1) || ':'
       || count(*) FILTER (WHERE t.events IS NULL AND t.n_events = 71
                             AND (SELECT count(*) FROM pgcdc_drasi.queue_events e
                                   WHERE e.source_id = t.source_id AND e.tx_key = t.tx_key) = 2)
  FROM pgcdc_drasi.queue_transactions t
 WHERE source_id = 'big'
   AND xid IN (SELECT xid FROM pgcdc_drasi.events WHERE source_id = 'big' AND element_id ~ '^big:'
                  AND substr(element_id, 5)::int BETWEEN $first3 AND $last3)}),
	'270:30', '(3) one-event transactions hold their event; those of 71 events have two rows of queue_events');
check_invariants($node, 'big', '(3)');

$node->stop;
done_testing();
