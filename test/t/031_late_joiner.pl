# 031_late_joiner.pl: a consumer that joins late (create_consumer with
# bootstrap in a REPEATABLE READ transaction, then bootstrap() in the same
# snapshot) sees every change exactly once: the rows bootstrap() returned
# plus the events read() returns (those of transactions the snapshot does
# not show) are exactly the tables, whatever the writers did meanwhile.
#
# Three consumers join while four writers change the tables: two while the
# worker streams, one while the source is paused (so that changes committed
# before the consumer are still to be published: read() must skip them).
# Then one joins while a transaction that the worker has already published
# is not yet visible to snapshots: it committed locally but waits for a
# synchronous standby (the same state every commit is in for an instant
# between its WAL flush and its removal from the proc array).  Neither
# bootstrap() (the snapshot does not show it) nor the queue position the
# consumer starts from may swallow it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;
use PgcdcBootstrapTest;

my $source = 'late';
my $src = q_lit($source);
my $acct_rows = 50000;
my $edge_rows = 20000;
my $node = bs_sync_node('late_joiner');

bs_create_tables($node, acct_rows => $acct_rows, edge_rows => $edge_rows,
	publication => 'late_pub');
bs_create_source($node, $source, 'late_pub');
wait_streaming($node, $source, desc => 'worker streaming after its initial snapshot');

my $writers = bs_start_writers($node, 4,
	krange => int($acct_rows * 1.1), erange => int($edge_rows / 500 * 1.1));

# Wait until the queue has grown by $n stream events.
sub wait_events
{
	my ($n, $desc) = @_;
	my $now = $node->safe_psql('postgres',
		"SELECT coalesce(max(seq), 0) FROM pgcdc_drasi.events WHERE source_id = $src");
	ok( bs_wait_until($node,
			"SELECT coalesce(max(seq), 0) >= $now + $n FROM pgcdc_drasi.events WHERE source_id = $src"),
		$desc);
	return;
}

# Join: create the consumer and read bootstrap() in one snapshot.  Also
# remembers the last seq published when it joined (as that snapshot shows
# it).
my %joined_at;
sub join_late
{
	my ($consumer) = @_;
	my $out = $node->safe_psql('postgres', qq{
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pgcdc_drasi.create_consumer('$consumer', $src, bootstrap => true);
SELECT e->>'id', e::text FROM pgcdc_drasi.bootstrap($src) AS e;
SELECT '#last_seq', last_seq FROM pgcdc_drasi.source_progress WHERE source_id = $src;
COMMIT;});
	my $elements = bs_parse_elements($out);
	$joined_at{$consumer} = delete $elements->{'#last_seq'};
	note("$consumer joined after seq $joined_at{$consumer}: bootstrap() returned "
		  . scalar(keys %$elements) . ' rows');
	return $elements;
}

# The xmax of a new snapshot: grows as the writers commit.
sub xmax
{
	return $node->safe_psql('postgres', 'SELECT pg_snapshot_xmax(pg_current_snapshot())');
}

my %boot;
wait_events(2000, 'stream events under load before the first consumer joins');
$boot{late1} = join_late('late1');
wait_events(2000, 'stream events under load before the second consumer joins');
$boot{late2} = join_late('late2');

# The third joins while the source is paused: changes committed before it
# are published only after it joined.
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source($src)");
ok( bs_wait_until($node, "SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = $src"),
	'worker stopped by pause_source');
my $x = xmax();
ok(bs_wait_until($node, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint > $x + 300"),
	'writers commit while the source is paused');
$boot{late3} = join_late('late3');
$x = xmax();
ok(bs_wait_until($node, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint > $x + 300"),
	'writers commit after the third consumer joined');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source($src)");
wait_streaming($node, $source, desc => 'worker streaming after resume_source');
wait_events(2000, 'stream events under load after the third consumer joined');

bs_stop_writers($node, $writers);
catchup($node, $source);
check_invariants($node, $source, 'late joiners');

my $tables = bs_table_state($node);
note(scalar(keys %$tables) . ' rows in the tables at the end');
bs_compare_states(bs_bootstrap_state($node, $source), $tables, 'bootstrap() at the end vs the tables');

# Each consumer: bootstrap() + read() = the tables.
sub check_consumer
{
	my ($consumer, %opts) = @_;
	my $from = "pgcdc_drasi.read('$consumer', 1000000) AS e";
	my $events = bs_fetch_events($node, $source, from => $from);
	# Events published after the consumer joined that read() leaves out:
	# those of transactions its snapshot (bootstrap()) already showed.
	my $after = $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events e
 WHERE e.source_id = $src AND e.seq > $joined_at{$consumer}});
	my $read_after = grep { $_->{seq} > $joined_at{$consumer} } @$events;
	my $skipped = $after - $read_after;
	note("$consumer: read() returned " . scalar(@$events) . " events ("
		  . (scalar(@$events) - $read_after) . " published before it joined); of the $after events "
		  . "published after it joined, it skipped $skipped that its snapshot shows");
	cmp_ok($skipped, '>', 0,
		"$consumer: read() skipped events published after it joined of transactions bootstrap() showed")
	  if $opts{expect_skipped};
	is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM $from WHERE (e.payload->'metadata'->>'snapshot')::boolean}),
		0, "$consumer: no snapshot event read");
	my %state = %{ $boot{$consumer} };
	my ($state, $anomalies) = bs_apply_events(\%state, $events);
	bs_check_anomalies($anomalies, $consumer);
	bs_compare_states($state, $tables, "$consumer: bootstrap() + read() vs the tables");
	return $events;
}

my $ev1 = check_consumer('late1');
check_consumer('late2');
check_consumer('late3', expect_skipped => 1);

# Reading in pages with ack returns the same events as one read().
my @paged;
for (my $i = 0; $i < 10000; $i++)
{
	my $page = $node->safe_psql('postgres', "SELECT seq FROM pgcdc_drasi.read('late1', 997)");
	last if $page eq '';
	my @seqs = split /\n/, $page;
	push @paged, @seqs;
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.ack('late1', $seqs[-1])");
}
is(join(',', @paged), join(',', map { $_->{seq} } @$ev1), 'late1: read() in pages with ack returns the same events');

# A transaction the worker has published but that snapshots do not show
# yet: committed locally, waiting for the synchronous standby.
my $id = $node->safe_psql('postgres', 'SELECT min(id) FROM acct');
my $waiter = bs_start_sync_waiter($node, $source, $id, 'committed, waiting for the standby');
is( $node->safe_psql('postgres', "SELECT note FROM acct WHERE id = $id") ne
	  'committed, waiting for the standby' ? 'invisible' : 'visible',
	'invisible', 'the waiting transaction is not visible to new snapshots yet');
$boot{late4} = join_late('late4');
bs_release_sync_waiter($node, $waiter);
is($node->safe_psql('postgres', "SELECT note FROM acct WHERE id = $id"),
	'committed, waiting for the standby', 'the update is visible now');
catchup($node, $source, desc => 'caught up after the synchronous standby wait');
$tables = bs_table_state($node);
check_consumer('late4');

$node->stop;
done_testing();
