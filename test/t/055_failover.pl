# 055_failover.pl: a source with a failover slot goes on capturing on a
# promoted physical standby, exactly once (PostgreSQL 17 and later).
#
# PostgreSQL 17 and later: the primary has a source created with
# failover => true and a streaming standby with sync_replication_slots = on,
# which synchronizes the source's slot; the primary holds logical changes
# back for the standby (synchronized_standby_slots).  Changes are captured,
# the slot is synchronized, more changes are committed and the primary is
# stopped at once (immediate), some of them perhaps not captured yet.  While
# in recovery, the standby runs no launcher and no worker.  After the
# promotion the worker starts from its replication origin (replayed with the
# queue rows), and the queue of the new primary has every change committed
# on it exactly once, in order, with contiguous seq.
#
# PostgreSQL 15 and 16 have no failover slots: create_source and
# alter_source refuse failover => true with the exact error below and create
# nothing; failover => false captures as before.  After a failover the
# source on the promoted standby has no slot and says so; resync_source
# gives it one and a snapshot.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $source = 'fo';
my $primary = cdc_node('failover_primary');
$primary->safe_psql('postgres', q{
CREATE TABLE fo (id int PRIMARY KEY, v int NOT NULL);
CREATE PUBLICATION fo_pub FOR TABLE fo;
INSERT INTO fo SELECT g, 0 FROM generate_series(1, 10) g;
-- the error a statement raises: {sqlstate, message, detail, hint}
CREATE FUNCTION err_info(q text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hnt text;
BEGIN
	EXECUTE q;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
	RETURN ARRAY[st, msg, det, hnt];
END
$$;
});

# Seq numbers 1..n, each once.
sub check_seq_contiguous
{
	my ($node, $desc) = @_;
	is( $node->safe_psql('postgres', qq{
SELECT min(seq) = 1 AND max(seq) = count(*) AND count(DISTINCT seq) = count(*)
       AND max(seq) = (SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'fo')
  FROM pgcdc_drasi.events WHERE source_id = 'fo'}),
		't', "$desc: seq is 1, 2, ... without gap or repeat, up to last_seq");
	return;
}

if ($primary->pg_version < 17)
{
	my $major = $primary->pg_version->major;

	is( $primary->safe_psql('postgres',
			q{SELECT err_info($$SELECT pgcdc_drasi.create_source('fo', publication => 'fo_pub', failover => true)$$)}),
		"{0A000,\"failover slots are not supported on PostgreSQL $major\","
		  . "\"Synchronizing a logical replication slot to standbys needs PostgreSQL 17 or later.\","
		  . "\"Use failover => false.\"}",
		"PostgreSQL $major: create_source refuses failover => true (SQLSTATE, message, detail, hint)");
	is( $primary->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pgcdc_drasi.sources) + (SELECT count(*) FROM pg_replication_slots)
     + (SELECT count(*) FROM pg_replication_origin)}),
		0, 'the refused create_source made no source, slot or origin');

	$primary->safe_psql('postgres',
		q{SELECT pgcdc_drasi.create_source('fo', publication => 'fo_pub', failover => false)});
	wait_streaming($primary, $source);
	is( $primary->safe_psql('postgres',
			q{SELECT err_info($$SELECT pgcdc_drasi.alter_source('fo', failover => true)$$)}),
		"{0A000,\"failover slots are not supported on PostgreSQL $major\","
		  . "\"Synchronizing a logical replication slot to standbys needs PostgreSQL 17 or later.\","
		  . "\"Use failover => false.\"}",
		"PostgreSQL $major: alter_source refuses failover => true");
	$primary->safe_psql('postgres', q{
INSERT INTO fo SELECT g, 0 FROM generate_series(11, 20) g;
UPDATE fo SET v = 1 WHERE id = 3;
DELETE FROM fo WHERE id = 20;
});
	catchup($primary, $source);
	check_queue(
		$primary, $source,
		expected_sql([ 'fo', 1, 20, 'i' ], 'fo:3:u', 'fo:20:d'),
		'failover => false');
	is( $primary->safe_psql('postgres',
			q{SELECT failover FROM pgcdc_drasi.status WHERE source_id = 'fo'}),
		'f', 'status shows failover false');

	# A failover without failover slots: the promoted standby has the
	# source, its queue and its origin, not its slot; resync_source gives
	# it one and a snapshot of every table.
	$primary->backup('backup');
	my $standby = PostgreSQL::Test::Cluster->new('failover_standby');
	$standby->init_from_backup($primary, 'backup', has_streaming => 1);
	$standby->start;
	$primary->wait_for_catchup($standby);
	$primary->stop;
	$standby->promote;
	ok( $standby->poll_query_until('postgres', q{
SELECT last_error = 'replication slot "pgcdc_fo" of source "fo" does not exist'
  FROM pgcdc_drasi.status WHERE source_id = 'fo'}),
		'on the promoted standby the source stops: its slot does not exist');
	$standby->safe_psql('postgres', q{SELECT pgcdc_drasi.resync_source('fo')});
	ok( $standby->poll_query_until('postgres',
			q{SELECT NOT EXISTS (SELECT 1 FROM pgcdc_drasi.snapshot_requests)}),
		'resync_source: the worker took the snapshot');
	$standby->safe_psql('postgres', q{INSERT INTO fo VALUES (100, 0)});
	catchup($standby, $source, desc => 'caught up on the new primary');
	is( $standby->safe_psql('postgres', q{
SELECT string_agg(coalesce(element_id, '-') || ':' || op, ' ' ORDER BY seq)
  FROM pgcdc_drasi.events WHERE source_id = 'fo' AND seq > 22
   AND NOT (op = 'i' AND coalesce((payload->'metadata'->>'snapshot')::boolean, false))}),
		'-:t fo:100:i', 'after the events of the old primary: a t event, the snapshot, the new change');
	is( $standby->safe_psql('postgres', q{
SELECT count(*) = 19 AND count(DISTINCT element_id) = 19
       AND bool_and(element_id IN (SELECT 'fo:' || id FROM fo WHERE id <> 100))
  FROM pgcdc_drasi.events WHERE source_id = 'fo' AND op = 'i'
   AND (payload->'metadata'->>'snapshot')::boolean AND seq > 22}),
		't', 'the snapshot has every row of the table once');
	check_seq_contiguous($standby, 'after the failover');
	$standby->stop;
	done_testing();
	exit;
}

# The standby: a physical slot on the primary, streaming, slot sync on.
$primary->safe_psql('postgres', q{SELECT pg_create_physical_replication_slot('standby_slot')});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('failover_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
my $connstr = $primary->connstr;
$standby->append_conf('postgresql.conf', qq{
primary_slot_name = 'standby_slot'
primary_conninfo = '$connstr dbname=postgres'
hot_standby_feedback = on
sync_replication_slots = on
});
$standby->start;
$primary->wait_for_replay_catchup($standby);

# The primary sends logical changes of failover slots only once the
# standby has them (set after the backup: the promoted standby has no
# standby of its own to wait for).
$primary->append_conf('postgresql.conf', q{synchronized_standby_slots = 'standby_slot'});
$primary->reload;

# The source: its initial snapshot (ids 1..10), then the stream.
$primary->safe_psql('postgres',
	q{SELECT pgcdc_drasi.create_source('fo', publication => 'fo_pub', failover => true)});
wait_streaming($primary, $source);
catchup($primary, $source, desc => 'initial snapshot published');
is( $primary->safe_psql('postgres', q{
SELECT s.failover, st.failover, rs.failover
  FROM pgcdc_drasi.sources s JOIN pgcdc_drasi.status st USING (source_id)
  JOIN pg_replication_slots rs ON rs.slot_name = s.slot_name}),
	't|t|t', 'the source, its status and its slot say failover');

# Changes captured before the failover.
$primary->safe_psql('postgres', q{
INSERT INTO fo SELECT g, 0 FROM generate_series(11, 30) g;
UPDATE fo SET v = 1 WHERE id BETWEEN 1 AND 5;
DELETE FROM fo WHERE id BETWEEN 26 AND 30;
});
catchup($primary, $source, desc => 'changes before the failover published');

# The slot is synchronized: persistent on the standby, at least as far as
# the primary's slot is now.
my $target = $primary->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
ok( $primary->poll_query_until('postgres', qq{
SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'pgcdc_fo'}),
	'the primary\'s slot confirms the published position');
my $confirmed = $primary->safe_psql('postgres',
	q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'pgcdc_fo'});
ok( $standby->poll_query_until('postgres', qq{
SELECT synced AND NOT temporary AND failover AND confirmed_flush_lsn >= '$confirmed'
  FROM pg_replication_slots WHERE slot_name = 'pgcdc_fo'}),
	'the standby has the slot, synchronized up to the primary\'s position');

# The race a failover slot must survive.  The slot is synchronized with
# the position its worker confirms, the queue rows and the origin with the
# WAL of the worker's local commit, which comes later.  Here the standby
# gets a source transaction T but not the local commit that publishes it:
# the worker is held before its commit (a lock on its progress row), the
# standby's connection is cut, then the worker commits on the primary only.
# The slot must not be synchronized past T, or the promoted standby would
# skip T.  Slots are synchronized by hand from here on, so that the moment
# is known; the standby waits an hour before it reconnects.
$standby->append_conf('postgresql.conf', q{
sync_replication_slots = off
wal_retrieve_retry_interval = '1h'
});
$standby->reload;
ok( $standby->poll_query_until('postgres', q{
SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'slotsync worker')}),
	'the slot sync worker stopped');
my $locker = $primary->background_psql('postgres');
$locker->query_safe(q{BEGIN; SELECT 1 FROM pgcdc_drasi.source_progress WHERE source_id = 'fo' FOR UPDATE});
$primary->safe_psql('postgres', q{INSERT INTO fo SELECT g, 0 FROM generate_series(31, 40) g});
ok( $primary->poll_query_until('postgres', q{
SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source'}),
	'the worker received T and waits before its local commit');
# The standby reconnects at once after its first failure, and only after
# wal_retrieve_retry_interval after a second one.
my $pid1 = $primary->safe_psql('postgres',
	q{SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'standby_slot'});
$primary->safe_psql('postgres', "SELECT pg_terminate_backend($pid1)");
ok( $primary->poll_query_until('postgres', qq{
SELECT active_pid <> $pid1 FROM pg_replication_slots WHERE slot_name = 'standby_slot'}),
	'the standby reconnects once');
$primary->safe_psql('postgres', q{
SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'standby_slot'});
ok( $primary->poll_query_until('postgres', q{
SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'standby_slot'}),
	'the standby is cut off');
$locker->query_safe('COMMIT');
$locker->quit;
ok( $primary->poll_query_until('postgres', q{
SELECT count(*) = 10 FROM pgcdc_drasi.events
 WHERE source_id = 'fo' AND op = 'i' AND element_id IN (SELECT 'fo:' || g FROM generate_series(31, 40) g)}),
	'the worker published T on the primary');
my $lsn_t = $primary->safe_psql('postgres', q{
SELECT lsn FROM pgcdc_drasi.events WHERE source_id = 'fo' AND element_id = 'fo:31'});
# feedback is sent every 200 ms at most when something moved
sleep 2;
$standby->safe_psql('postgres', 'SELECT pg_sync_replication_slots()');
my $synced = $standby->safe_psql('postgres',
	q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'pgcdc_fo'});
ok( $standby->safe_psql('postgres', qq{SELECT '$synced'::pg_lsn <= '$lsn_t'::pg_lsn}) eq 't',
	"the synchronized slot ($synced) is not past T (commit $lsn_t)");

# Changes the standby never gets: an asynchronous standby loses them.
$primary->safe_psql('postgres',
	join("\n", map { "INSERT INTO fo VALUES ($_, 0);" } 41 .. 50));
$primary->stop('immediate');

# In recovery the standby runs neither the launcher nor a worker.
is( $standby->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pgcdc_drasi%'}),
	0, 'no pgcdc_drasi process runs on the standby');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pgcdc_drasi.events WHERE element_id = 'fo:31'}),
	0, 'the standby has T but not the events of T');
my $origin = $standby->safe_psql('postgres', q{
SELECT remote_lsn FROM pg_replication_origin_status WHERE external_id = 'pgcdc_drasi_pgcdc_fo'});
note("standby before promotion: origin at $origin, synchronized slot at $synced, T at $lsn_t");

# Failover.
my $offset = -s $standby->logfile;
$standby->promote;
wait_streaming($standby, $source, desc => 'the source streams on the promoted standby');
ok( $standby->log_contains(
		qr/pgcdc_drasi source "fo" streaming publication "fo_pub" from slot "pgcdc_fo" at \Q$origin\E\b/,
		$offset),
	"the worker streams from its origin ($origin)");

is($standby->safe_psql('postgres', q{SELECT count(*) FROM fo WHERE id > 30}),
	10, 'the new primary has T (ids 31..40), not the later changes');

# Changes on the new primary.
$standby->safe_psql('postgres', q{
INSERT INTO fo SELECT g, 0 FROM generate_series(61, 80) g;
UPDATE fo SET v = 2 WHERE id = 61;
DELETE FROM fo WHERE id = 62;
});
catchup($standby, $source, desc => 'caught up on the new primary');

my @expected = (
	[ 'fo', 1,  10, 'i' ],
	[ 'fo', 11, 30, 'i' ],
	[ 'fo', 1,  5,  'u' ],
	[ 'fo', 26, 30, 'd' ]);
push @expected, [ 'fo', 31, 40, 'i' ], [ 'fo', 61, 80, 'i' ], 'fo:61:u', 'fo:62:d';
check_queue($standby, $source, expected_sql(@expected), 'after the failover');
check_seq_contiguous($standby, 'after the failover');
check_invariants($standby, $source, 'after the failover');
is( $standby->safe_psql('postgres', q{
SELECT failover, last_error FROM pgcdc_drasi.status WHERE source_id = 'fo'}),
	't|', 'status on the new primary: failover, no error');

$standby->stop;
done_testing();
