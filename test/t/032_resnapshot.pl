# 032_resnapshot.pl: resnapshot() in the middle of a busy stream: the graph
# rebuilt from the whole queue (events applied in seq order, a 't' clearing
# its table's nodes) is exactly the tables, and no change appears twice --
# also across a server restart and a crash right after a re-snapshot.
#
# 1. Writers run; resnapshot of acct, then of every table.
# 2. Re-snapshot while changes committed before it are still to be streamed
#    (the source is paused while the writers go on, the request is made,
#    the source resumed): those changes are in the snapshot and must be
#    skipped for acct (but not for edge, which was not re-snapshotted).
#    The server is restarted (fast) right after the re-snapshot, while the
#    skip state is persisted and still needed.
# 3. The same without writers, and a crash (kill -9 of the worker) after
#    the worker has skipped those changes and dropped its skip state.
# 4. A transaction the worker has already published that snapshots do not
#    show yet (committed locally, waiting for a synchronous standby) when
#    the re-snapshot is asked for: the worker may wait until it is visible
#    or take the snapshot anyway, but the result must still show it.
# 5. drop_source while a re-snapshot is being taken: no deadlock.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;
use PgcdcBootstrapTest;
use PgcdcFault;

my $source = 'resnap';
my $src = q_lit($source);
my $acct_rows = 100000;
my $edge_rows = 20000;
my %wopts = (krange => int($acct_rows * 1.1), erange => int($edge_rows / 500 * 1.1));
my $node = bs_sync_node('resnapshot', restart_after_crash => 1);

bs_create_tables($node, acct_rows => $acct_rows, edge_rows => $edge_rows,
	publication => 'resnap_pub');
bs_create_source($node, $source, 'resnap_pub');
wait_streaming($node, $source, desc => 'worker streaming after its initial snapshot');

sub max_seq
{
	return $node->safe_psql('postgres',
		"SELECT coalesce(max(seq), 0) FROM pgcdc_drasi.events WHERE source_id = $src");
}

sub wait_events
{
	my ($n, $desc) = @_;
	my $now = max_seq();
	ok( bs_wait_until($node,
			"SELECT coalesce(max(seq), 0) >= $now + $n FROM pgcdc_drasi.events WHERE source_id = $src"),
		$desc);
	return;
}

sub wait_xids
{
	my ($n, $desc) = @_;
	my $x = $node->safe_psql('postgres', 'SELECT pg_snapshot_xmax(pg_current_snapshot())');
	ok( bs_wait_until($node,
			"SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint > $x + $n"),
		$desc);
	return;
}

# Ask for a re-snapshot; wait until the worker has taken it (the request
# is deleted in the transaction that writes the snapshot events).
sub resnapshot
{
	my ($tables, $desc, $source_id) = @_;
	my $s = q_lit($source_id // $source);
	my $arg = defined $tables ? "ARRAY[$tables]::regclass[]" : 'NULL';
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot($s, $arg)");
	ok( bs_wait_until($node,
			"SELECT count(*) = 0 FROM pgcdc_drasi.snapshot_requests WHERE source_id = $s"),
		"$desc: taken");
	return;
}

# The whole queue applied in seq order must be the tables and bootstrap().
sub check_all
{
	my ($desc, $source_id) = @_;
	$source_id //= $source;
	check_invariants($node, $source_id, $desc);
	bs_check_seq_contiguous($node, $source_id, $desc);
	my ($state, $anomalies) = bs_apply_events({}, bs_fetch_events($node, $source_id));
	bs_check_anomalies($anomalies, $desc);
	my $tables = bs_table_state($node);
	bs_compare_states($state, $tables, "$desc: rebuilt from the queue vs the tables");
	bs_compare_states(bs_bootstrap_state($node, $source_id), $tables,
		"$desc: bootstrap() vs the tables");
	return;
}

# Events of each re-snapshot: one transaction, its 't' events first, then
# the rows, contiguous in seq, all marked as snapshot events.
sub check_resnapshot_shape
{
	my ($desc) = @_;
	is( $node->safe_psql('postgres', qq{
WITH e AS (SELECT seq, xid, op, coalesce((payload->'metadata'->>'snapshot')::boolean, false) AS snap
             FROM pgcdc_drasi.events WHERE source_id = $src),
     r AS (SELECT xid, min(seq) AS first, max(seq) AS last, count(*) AS n, bool_and(snap) AS all_snap,
                  max(seq) FILTER (WHERE op = 't') AS last_t,
                  min(seq) FILTER (WHERE op <> 't') AS first_row
             FROM e WHERE xid IN (SELECT xid FROM e WHERE snap) GROUP BY xid)
SELECT count(*) FILTER (WHERE NOT all_snap OR last - first + 1 <> n OR last_t > first_row) FROM r}),
		0, "$desc: each snapshot is one contiguous transaction, 't' events first");
	return;
}

# 1. Re-snapshots under load.
my $writers = bs_start_writers($node, 4, %wopts);
wait_events(3000, 'stream events under load');
resnapshot("'acct'", 'resnapshot of acct under load');
wait_events(3000, 'stream events after the first re-snapshot');
resnapshot(undef, 'resnapshot of every table under load');
wait_events(3000, 'stream events after the second re-snapshot');
bs_stop_writers($node, $writers);
catchup($node, $source);
is( $node->safe_psql('postgres', qq{
SELECT string_agg(label || ':' || n, ',' ORDER BY label) FROM (
  SELECT label, count(*) AS n FROM pgcdc_drasi.events
   WHERE source_id = $src AND op = 't' AND (payload->'metadata'->>'snapshot')::boolean
   GROUP BY label) q}),
	'acct:2,edge:1', "one 't' event per table re-snapshotted");
check_resnapshot_shape('under load');
check_all('re-snapshots under load');
is( $node->safe_psql('postgres',
		"SELECT resnapshot IS NULL FROM pgcdc_drasi.source_progress WHERE source_id = $src"),
	't', 'skip state dropped once the stream passed the re-snapshots');

# A large transaction on a table that is not published: the walsender
# decodes it for a while without sending anything, so a worker started
# after it reaches its first quiet moment, where it takes the requested
# re-snapshot, before it receives what was committed after it.
sub fill
{
	$node->safe_psql('postgres', q{
CREATE TABLE IF NOT EXISTS filler (id int, pad text);
TRUNCATE filler;
INSERT INTO filler SELECT g, repeat('x', 50) FROM generate_series(1, 300000) g;});
	return;
}

# 2. Changes committed before the re-snapshot but streamed after it; fast
# restart while the skip state is still needed.  While the source is
# paused the writers run, and one large transaction adds 100000 rows to
# edge; then acct is re-snapshotted and the source resumed.  The worker
# takes the re-snapshot first, then streams what was committed during the
# pause: acct changes it must skip, edge changes it must publish.  The
# large transaction keeps it busy; in builds with fault injection (CI) the
# worker also waits 10 s right after the re-snapshot's commit (fault
# "resnapshot_taken"), so the server is certainly stopped while the skip
# state is in use: without the wait, a worker that streamed the backlog
# before the stop had already finished with it (seen in CI on 15).
my $hold = fault_available($node);
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source($src)");
ok( bs_wait_until($node, "SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = $src"),
	'worker stopped by pause_source');
fill();
$writers = bs_start_writers($node, 4, %wopts);
wait_xids(2000, 'writers commit while the source is paused');
$node->safe_psql('postgres', q{
INSERT INTO edge SELECT 1000 + g % 1000, g / 1000, jsonb_build_object('bulk', g)
  FROM generate_series(0, 99999) g});
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot($src, ARRAY['acct']::regclass[])");
my $before = max_seq();
set_fault($node, 'resnapshot_taken:sleep:10000') if $hold;
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source($src)");
ok( bs_wait_until($node, qq{
SELECT count(*) = 0 FROM pgcdc_drasi.snapshot_requests WHERE source_id = $src}),
	'paused re-snapshot of acct taken');
my ($skip, $bulk_seen) = split /\|/, $node->safe_psql('postgres', qq{
SELECT coalesce(resnapshot::text, ''),
       (SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = $src AND element_id ~ '^edge:1[0-9]{3}_')
  FROM pgcdc_drasi.source_progress WHERE source_id = $src});
isnt($skip, '', 'skip state persisted after the re-snapshot');
note("bulk rows published before the restart: $bulk_seen");
$node->stop('fast');
bs_stop_writers($node, $writers, expect_killed => 1);
$node->start;
set_fault($node, '') if $hold;
is( $node->safe_psql('postgres',
		"SELECT coalesce(resnapshot::text, '') FROM pgcdc_drasi.source_progress WHERE source_id = $src"),
	$skip, 'skip state still there after the restart');
wait_streaming($node, $source, desc => 'worker streaming after the restart');
$writers = bs_start_writers($node, 4, %wopts);
wait_events(3000, 'stream events under load after the restart');
bs_stop_writers($node, $writers);
catchup($node, $source);
$skip = '1:1:' if $skip eq '';
my $tseq = $node->safe_psql('postgres', qq{
SELECT min(seq) FROM pgcdc_drasi.events WHERE source_id = $src AND op = 't' AND seq > $before});
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events
 WHERE source_id = $src AND seq > $before AND seq < $tseq}),
	0, 'the worker took the re-snapshot before streaming what was committed during the pause');
# Transactions the re-snapshot shows, streamed after it: their edge changes
# are published, their acct changes are not.
my ($shown_acct, $shown_edge, $bulk) = split /\|/, $node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE label = 'acct'), count(*) FILTER (WHERE label = 'edge'),
       count(*) FILTER (WHERE element_id ~ '^edge:1[0-9]{3}_')
  FROM pgcdc_drasi.events
 WHERE source_id = $src AND seq > $tseq AND NOT payload->'metadata' ? 'snapshot'
   AND pg_visible_in_snapshot(xid, '$skip')});
is($shown_acct, 0, 'no acct event of a transaction the re-snapshot shows');
cmp_ok($shown_edge, '>', 100000,
	'edge events of transactions the re-snapshot shows are streamed after it (edge was not re-snapshotted)');
is($bulk, 100000, 'the large transaction is published once');
check_resnapshot_shape('paused re-snapshot and restart');
check_all('paused re-snapshot and fast restart');

# 3. Changes skipped by a re-snapshot, skip state dropped, then a crash.
$node->safe_psql('postgres', 'CHECKPOINT');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source($src)");
ok( bs_wait_until($node, "SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = $src"),
	'worker stopped by pause_source');
fill();
my $ids = $node->safe_psql('postgres', 'SELECT string_agg(id::text, \',\') FROM (SELECT id FROM acct ORDER BY id LIMIT 3) q');
$node->safe_psql('postgres', "UPDATE acct SET v = v + 1 WHERE id = $_") for split /,/, $ids;
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot($src, ARRAY['acct']::regclass[])");
$before = max_seq();
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source($src)");
ok( bs_wait_until($node, qq{
SELECT count(*) = 0 FROM pgcdc_drasi.snapshot_requests WHERE source_id = $src}),
	're-snapshot of acct taken after the pause');
ok( bs_wait_until($node, qq{
SELECT count(*) = 3 FROM pgcdc_drasi.events
 WHERE source_id = $src AND seq > $before AND (payload->'metadata'->>'snapshot')::boolean
   AND element_id IN (SELECT 'acct:' || x FROM unnest('{$ids}'::int[]) x)}),
	'the re-snapshot shows the updates committed while the source was paused');
ok( bs_wait_until($node,
		"SELECT resnapshot IS NULL FROM pgcdc_drasi.source_progress WHERE source_id = $src"),
	'skip state dropped: the stream has passed the re-snapshot');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events
 WHERE source_id = $src AND seq > $before AND NOT payload->'metadata' ? 'snapshot'}),
	0, 'the worker skipped the updates when they were streamed after the re-snapshot');
my $pid = wait_streaming($node, $source, desc => 'worker streaming before the kill');
kill9_and_wait_reinit($node, $pid);
wait_streaming($node, $source, not_pid => $pid, desc => 'worker streaming after the crash');
catchup($node, $source, desc => 'caught up after the crash');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events
 WHERE source_id = $src AND seq > $before AND NOT payload->'metadata' ? 'snapshot'}),
	0, 'the updates the re-snapshot showed are not published again after the crash');
check_all('skip state dropped, then a crash');

# 4. A published transaction that snapshots do not show yet (on a new
# source, whose queue the crash above has not touched).
my $source4 = 'resnap-sync';
bs_create_source($node, $source4, 'resnap_pub');
wait_streaming($node, $source4, desc => 'second source streaming after its initial snapshot');
my $src4 = q_lit($source4);
my $id = $node->safe_psql('postgres', 'SELECT max(id) FROM acct');
my $waiter = bs_start_sync_waiter($node, $source4, $id, 'waiting for the standby');
# The worker may take the re-snapshot now (it must then still show the
# update) or wait until the transaction is visible; either is right.
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot($src4, ARRAY['acct']::regclass[])");
my $taken = bs_wait_until($node,
	"SELECT count(*) = 0 FROM pgcdc_drasi.snapshot_requests WHERE source_id = $src4",
	timeout => 3);
note('re-snapshot ' . ($taken ? 'taken' : 'not taken')
	  . ' while the published transaction was not visible');
bs_release_sync_waiter($node, $waiter);
ok( bs_wait_until($node,
		"SELECT count(*) = 0 FROM pgcdc_drasi.snapshot_requests WHERE source_id = $src4"),
	're-snapshot of acct taken');
catchup($node, $source4, desc => 'caught up after the synchronous standby wait');
check_all('re-snapshot while a published transaction was not visible', $source4);

# 5. drop_source while the worker is taking a re-snapshot of every table:
# the worker holds the claimed request row and is about to record its skip
# state in source_progress, rows the drop deletes too.  The drop stops the
# worker first, so the two never wait for each other.
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot($src4)");
ok( bs_wait_until($node,
		"SELECT state = 'snapshot' FROM pgcdc_drasi.status WHERE source_id = $src4",
		timeout => 60),
	'second source taking a re-snapshot of every table');
my $log_offset = -s $node->logfile;
my ($rc, $out, $err) = $node->psql('postgres', "SELECT pgcdc_drasi.drop_source($src4)");
is($rc, 0, 'drop_source during a re-snapshot succeeds') or diag($err);
is( $node->safe_psql('postgres', qq{
SELECT (SELECT count(*) FROM pgcdc_drasi.sources WHERE source_id = $src4)
     + (SELECT count(*) FROM pgcdc_drasi.snapshot_requests WHERE source_id = $src4)
     + (SELECT count(*) FROM pgcdc_drasi.queue_transactions WHERE source_id = $src4)
     + (SELECT count(*) FROM pgcdc_drasi.queue_events WHERE source_id = $src4)}),
	0, 'the dropped source, its request and its queue are gone');
unlike(slurp_file($node->logfile, $log_offset), qr/deadlock detected/,
	'no deadlock between drop_source and the re-snapshot');
catchup($node, $source, desc => 'the other source streams on after the drop');

$node->stop;
done_testing();
