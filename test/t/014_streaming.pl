# 014_streaming.pl: transactions larger than logical_decoding_work_mem
# (64kB here) are streamed before they commit (pgoutput protocol 2), and
# the queue holds exactly their committed events, in commit order.
#
# 1. Savepoints: rows of subtransactions rolled back (nested, and after a
#    released one) are gone, the rest stays in order.
# 2. A streamed transaction that aborts leaves nothing.
# 3. Two streamed transactions interleave, small ones commit between their
#    chunks: each appears whole at its commit, in commit order; before its
#    commit its chunks are written but invisible.
# 4. A re-snapshot and a late-joining consumer while a streamed transaction
#    is in flight: the consumer sees it once, through read().
# 5. kill -9 of the worker while it writes the chunks of a committed large
#    transaction, and (assert-enabled builds, which wait while the file
#    pgcdc_drasi_test_stream_commit_wait exists in the data directory)
#    between its Stream Commit and the local commit: after the restart it
#    is in the queue exactly once.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $source = 'st';
my $src = q_lit($source);
my $node = cdc_node('streaming', restart_after_crash => 1);

is($node->safe_psql('postgres', 'SHOW logical_decoding_work_mem'), '64kB',
	'logical_decoding_work_mem is 64kB');
$node->safe_psql('postgres', q{
CREATE TABLE s (id int PRIMARY KEY, v text);
CREATE PUBLICATION s_pub FOR TABLE s;
});
create_source($node, $source, 's_pub');
my $pid = wait_streaming($node, $source);

# Event rows of transactions without a transaction row: chunks of a
# transaction streamed but not committed.
sub pending_rows
{
	return $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.queue_events e
 WHERE e.source_id = $src
   AND NOT EXISTS (SELECT 1 FROM pgcdc_drasi.queue_transactions t
                    WHERE t.source_id = e.source_id AND t.tx_key = e.tx_key)});
}

sub wait_pending
{
	my ($desc) = @_;
	my $ok = $node->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM pgcdc_drasi.queue_events e
 WHERE e.source_id = $src
   AND NOT EXISTS (SELECT 1 FROM pgcdc_drasi.queue_transactions t
                    WHERE t.source_id = e.source_id AND t.tx_key = e.tx_key)});
	ok($ok, $desc);
	return $ok;
}

sub check_contiguous
{
	my ($desc) = @_;
	is( $node->safe_psql('postgres', qq{
SELECT count(*) = max(seq) - min(seq) + 1 AND count(DISTINCT seq) = count(*)
  FROM pgcdc_drasi.events WHERE source_id = $src}),
		't', "$desc: seq contiguous");
	return;
}

my $rows = "repeat('x', 100)";
my @expected;

# 1. Savepoints and rollbacks to savepoint.  A queue row holds many events:
# a subtransaction whose first event is inside a row cuts that row short
# (an UPDATE of queue_events), which this scenario must exercise.
my $upd0 = $node->safe_psql('postgres',
	"SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'pgcdc_drasi.queue_events'::regclass");
$node->safe_psql('postgres', qq{
BEGIN;
INSERT INTO s SELECT g, $rows FROM generate_series(1, 2000) g;
SAVEPOINT a;
INSERT INTO s SELECT g, $rows FROM generate_series(2001, 4000) g;
SAVEPOINT b;
INSERT INTO s SELECT g, $rows FROM generate_series(4001, 6000) g;
ROLLBACK TO SAVEPOINT a;
INSERT INTO s SELECT g, $rows FROM generate_series(6001, 8000) g;
SAVEPOINT c;
INSERT INTO s SELECT g, $rows FROM generate_series(8001, 9000) g;
RELEASE SAVEPOINT c;
SAVEPOINT d;
UPDATE s SET v = 'rolled back' WHERE id <= 1000;
ROLLBACK TO SAVEPOINT d;
DELETE FROM s WHERE id BETWEEN 8501 AND 8600;
COMMIT;
});
catchup($node, $source, desc => 'savepoints: caught up');
push @expected, [ 's', 1, 2000, 'i' ], [ 's', 6001, 9000, 'i' ], [ 's', 8501, 8600, 'd' ];
check_queue($node, $source, expected_sql(@expected), 'savepoints');
ok( $node->poll_query_until('postgres',
		"SELECT sum(stream_txns) > 0 FROM pg_stat_replication_slots"),
	'the transaction was streamed');
is(pending_rows(), 0, 'savepoints: no rows left of the rolled back subtransactions');
ok( $node->poll_query_until('postgres',
		"SELECT n_tup_upd > $upd0 FROM pg_stat_user_tables WHERE relid = 'pgcdc_drasi.queue_events'::regclass"),
	'savepoints: a rolled back subtransaction started inside a queue row, which was cut short');

# 2. An aborted streamed transaction, then a small one.
$node->safe_psql('postgres', qq{
BEGIN;
INSERT INTO s SELECT g, $rows FROM generate_series(10001, 13000) g;
ROLLBACK;
INSERT INTO s VALUES (13001, 'small');
});
catchup($node, $source, desc => 'abort: caught up');
push @expected, 's:13001:i';
check_queue($node, $source, expected_sql(@expected), 'aborted streamed transaction');
is(pending_rows(), 0, 'abort: its rows are gone');

# 3. Two interleaved streamed transactions, small ones between their chunks.
my $a = $node->background_psql('postgres');
my $b = $node->background_psql('postgres');
$a->query_safe('BEGIN');
$a->query_safe("INSERT INTO s SELECT g, $rows FROM generate_series(20001, 21000) g");
$b->query_safe('BEGIN');
$b->query_safe("INSERT INTO s SELECT g, $rows FROM generate_series(30001, 31000) g");
$node->safe_psql('postgres', "INSERT INTO s VALUES (40001, 'small')");
$a->query_safe("INSERT INTO s SELECT g, $rows FROM generate_series(21001, 22000) g");
$node->safe_psql('postgres', "INSERT INTO s VALUES (40002, 'small')");
$b->query_safe("INSERT INTO s SELECT g, $rows FROM generate_series(31001, 32000) g");
catchup($node, $source, desc => 'interleaved: small ones caught up');
wait_pending('interleaved: chunks written before the commits');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = $src AND element_id ~ '^s:[23]\\d{4}\$'"),
	0, 'interleaved: nothing of them visible before their commits');
push @expected, 's:40001:i', 's:40002:i';
check_queue($node, $source, expected_sql(@expected), 'interleaved, before the commits');
$b->query_safe('COMMIT');
$node->safe_psql('postgres', "INSERT INTO s VALUES (40003, 'small')");
$a->query_safe('COMMIT');
catchup($node, $source, desc => 'interleaved: caught up');
push @expected, [ 's', 30001, 32000, 'i' ], 's:40003:i', [ 's', 20001, 22000, 'i' ];
check_queue($node, $source, expected_sql(@expected), 'interleaved');
check_invariants($node, $source, 'interleaved');
check_contiguous('interleaved');
is(pending_rows(), 0, 'interleaved: no pending rows');

# 4. A re-snapshot and a late joiner while a streamed transaction is open.
$a->query_safe('BEGIN');
$a->query_safe("INSERT INTO s SELECT g, $rows FROM generate_series(50001, 52000) g");
catchup($node, $source, desc => 'in flight: caught up');
wait_pending('in flight: chunks written');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot($src)");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pgcdc_drasi.snapshot_requests WHERE source_id = $src"),
	'in flight: re-snapshot taken');
my $rows_before = $node->safe_psql('postgres', 'SELECT count(*) FROM s');
my $snap_events = $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events
 WHERE source_id = $src AND op <> 't' AND payload->'metadata' ? 'snapshot'});
is($snap_events, $rows_before, 'in flight: the re-snapshot shows the committed rows only');
my $j = $node->background_psql('postgres');
$j->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$j->query_safe("SELECT pgcdc_drasi.create_consumer('joiner', $src, bootstrap => true)");
my $boot = $j->query_safe("SELECT count(*) FROM pgcdc_drasi.bootstrap($src)");
$j->query_safe('COMMIT');
$j->quit;
is($boot, $rows_before, 'in flight: bootstrap() shows the committed rows');
$a->query_safe('COMMIT');
catchup($node, $source, desc => 'in flight: caught up after the commit');
is( $node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT element_id), min(element_id), max(element_id)
  FROM pgcdc_drasi.read('joiner', 100000) WHERE element_id ~ '^s:5\d{4}$'}),
	'2000|2000|s:50001|s:52000',
	'in flight: the late joiner reads the streamed transaction once');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events
 WHERE source_id = $src AND element_id ~ '^s:5\\d{4}\$' AND NOT payload->'metadata' ? 'snapshot'}),
	2000, 'in flight: the streamed transaction is queued once after the re-snapshot');
check_contiguous('in flight');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.drop_consumer('joiner')");
$a->quit;
$b->quit;

# 5a. kill -9 while the chunks of a committed large transaction are written.
$node->safe_psql('postgres',
	"INSERT INTO s SELECT g, $rows FROM generate_series(100001, 200000) g");
wait_pending('kill: chunks being written');
$pid = wait_streaming($node, $source, desc => 'kill: worker streaming');
kill9_and_wait_reinit($node, $pid);
$pid = wait_streaming($node, $source, not_pid => $pid, desc => 'kill: worker restarted');
catchup($node, $source, desc => 'kill: caught up');
is( $node->safe_psql('postgres', qq{
SELECT count(*), count(DISTINCT element_id) FROM pgcdc_drasi.events
 WHERE source_id = $src AND element_id ~ '^s:(1[0-9]{5}|200000)\$'}),
	'100000|100000', 'kill: the large transaction is queued exactly once');
is(pending_rows(), 0, 'kill: no pending rows');
check_contiguous('kill');

# 5b. kill -9 between Stream Commit and the local commit.
my $wait_file = $node->data_dir . '/pgcdc_drasi_test_stream_commit_wait';
open(my $fh, '>', $wait_file) or die "could not create $wait_file: $!";
close($fh);
$node->safe_psql('postgres',
	"INSERT INTO s SELECT g, $rows FROM generate_series(300001, 310000) g");
my $waiting = $node->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM pg_stat_activity a JOIN pgcdc_drasi.status s ON s.pid = a.pid
 WHERE s.source_id = $src
   AND a.query = 'waiting before the local commit of a streamed transaction'});
SKIP:
{
	skip 'the test wait exists in assert-enabled builds only', 5 unless $waiting;
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = $src AND element_id ~ '^s:3[01]\\d{4}\$'"),
		0, 'commit point: nothing visible before the local commit');
	$pid = source_pid($node, $source);
	kill9_and_wait_reinit($node, $pid);
	unlink($wait_file);
	$pid = wait_streaming($node, $source, not_pid => $pid,
		desc => 'commit point: worker restarted');
}
unlink($wait_file);
catchup($node, $source, desc => 'commit point: caught up');
is( $node->safe_psql('postgres', qq{
SELECT count(*), count(DISTINCT element_id) FROM pgcdc_drasi.events
 WHERE source_id = $src AND element_id ~ '^s:3[01][0-9]{4}\$'}),
	'10000|10000', 'commit point: the transaction is queued exactly once');
is(pending_rows(), 0, 'commit point: no pending rows');
check_contiguous('commit point');
check_invariants($node, $source, 'at the end');

$node->stop;
done_testing();
