# 030_handover.pl: the initial snapshot hands over to the stream with
# neither overlap nor gap while writers keep changing the tables.
#
# Four sessions insert, update (also the key), upsert and delete rows of two
# pre-filled tables (200000 + 50000 rows, keys from a range shared with the
# existing rows) while create_source (bootstrap => true, the default) starts
# and the worker creates its slot, reads both tables in the slot's exported
# snapshot and writes them as snapshot events.  A TRUNCATE with a refill
# happens in the middle of the stream.  After the writers stop, the graph
# rebuilt from the queue (events applied in seq order) must be exactly the
# tables and exactly pgcdc_drasi.bootstrap(); no event may insert a node that
# exists or touch one that does not; all snapshot events precede all stream
# events; and some transactions committed while the snapshot was read must
# be in the stream (so the handover was really exercised).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PgcdcDrasiTest;
use PgcdcBootstrapTest;

my $source = 'handover';
my $acct_rows = 200000;
my $edge_rows = 50000;
my $node = cdc_node('handover', extra_conf => qq{
deadlock_timeout = '50ms'
});

bs_create_tables($node, acct_rows => $acct_rows, edge_rows => $edge_rows,
	publication => 'handover_pub');

my $writers = bs_start_writers($node, 4,
	krange => int($acct_rows * 1.1), erange => int($edge_rows / 500 * 1.1));
ok( bs_wait_until($node, "SELECT count(*) > 0 FROM acct WHERE id > $acct_rows"),
	'writers are running');

my $t0 = time();
bs_create_source($node, $source, 'handover_pub');

# The worker takes its snapshot while the writers go on.
my ($saw_snapshot, $saw_progress) = (0, 0);
my $src = q_lit($source);
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
my $done = 0;
my $not_yet;    # a server time at which the snapshot was not committed yet
while (time() < $deadline)
{
	my $row = $node->safe_psql('postgres', qq{
SELECT state, coalesce(snapshot_table, ''), coalesce(snapshot_rows_done, -1),
       snapshot_lsn IS NOT NULL, clock_timestamp()
  FROM pgcdc_drasi.status WHERE source_id = $src});
	my ($state, $table, $rows, $has_lsn, $now) = split /\|/, $row;
	$saw_snapshot = 1 if $state eq 'snapshot';
	$saw_progress = 1 if $state eq 'snapshot' && $table =~ /^(acct|edge)$/ && $rows > 0;
	if ($has_lsn eq 't')
	{
		$done = 1;
		last;
	}
	$not_yet = $now;
	usleep(20_000);
}
ok($done, 'the initial snapshot is committed (snapshot_lsn recorded)');
note(sprintf('initial snapshot of %d rows took about %.1f s with 4 writers',
		$acct_rows + $edge_rows, time() - $t0));
ok($saw_snapshot, "status showed state 'snapshot' while it ran");
ok($saw_progress, 'status showed the table being read and the rows done');

# Let the stream carry on under load, with a TRUNCATE + refill of edge.
ok( bs_wait_until($node,
		"SELECT count(*) >= 2000 FROM pgcdc_drasi.events WHERE source_id = $src "
		  . "AND NOT payload->'metadata' ? 'snapshot'"),
	'stream events follow the snapshot');
my $truncated = 0;
for my $try (1 .. 20)
{
	my ($ret, $out, $err) = $node->psql('postgres', q{
BEGIN;
SET lock_timeout = '2s';
TRUNCATE edge;
INSERT INTO edge SELECT g % 500, g / 500, jsonb_build_object('w', -g) FROM generate_series(1, 3000) g;
COMMIT;});
	if ($ret == 0 && $err !~ /ERROR/)
	{
		$truncated = 1;
		last;
	}
	note("TRUNCATE attempt $try failed: $err");
}
ok($truncated, 'TRUNCATE edge with a refill committed under load');
ok( bs_wait_until($node,
		"SELECT count(*) >= 1000 FROM pgcdc_drasi.events WHERE source_id = $src "
		  . "AND seq > (SELECT max(seq) FROM pgcdc_drasi.events WHERE source_id = $src AND op = 't')"),
	'stream events follow the TRUNCATE');

bs_stop_writers($node, $writers);
catchup($node, $source);

# Shape of the queue.
my ($nsnap, $nxid, $at_lsn, $by_xid, $nstream, $ordered) = split /\|/,
  $node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE snap),
       count(DISTINCT xid) FILTER (WHERE snap),
       count(*) FILTER (WHERE snap AND lsn = p.snapshot_lsn - 1),
       count(*) FILTER (WHERE snap AND xid::text::bigint % 4294967296 = wxmin::text::bigint),
       count(*) FILTER (WHERE NOT snap),
       coalesce(max(seq) FILTER (WHERE snap) < min(seq) FILTER (WHERE NOT snap), false)
  FROM (SELECT e.*, t.xmin AS wxmin, coalesce((e.payload->'metadata'->>'snapshot')::boolean, false) AS snap
          FROM pgcdc_drasi.events e
          JOIN pgcdc_drasi.queue_transactions t
            ON t.source_id = e.source_id AND t.first_seq = e.seq - e.tx_index
         WHERE e.source_id = $src) e,
       pgcdc_drasi.source_progress p
 WHERE p.source_id = $src});
note("$nsnap snapshot events, $nstream stream events");
cmp_ok($nsnap, '>=', $acct_rows * 0.8, 'the snapshot holds the pre-filled rows');
is($nxid, 1, 'snapshot events: one transaction');
is($at_lsn, $nsnap, "snapshot events: all one byte before the slot's consistent point (snapshot_lsn - 1)");
is($by_xid, $nsnap, "snapshot events: xid is the worker's own transaction that wrote them");
is($ordered, 't', 'every snapshot event comes before every stream event');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = $src
   AND (payload->'metadata'->>'snapshot')::boolean AND op <> 'i'}),
	0, 'snapshot events are inserts');

# Transactions committed while the snapshot was being read (after the
# slot's consistent point, before the worker's snapshot transaction
# committed, which it had not at server time $not_yet) reached the queue
# through the stream.
$not_yet //= '-infinity';
my $during = $node->safe_psql('postgres', qq{
SELECT count(DISTINCT xid) FROM pgcdc_drasi.events
 WHERE source_id = $src AND NOT payload->'metadata' ? 'snapshot'
   AND commit_time < '$not_yet'});
note("$during source transactions committed during the snapshot are in the stream");
cmp_ok($during, '>', 0, 'writers committed while the snapshot was read');

check_invariants($node, $source, 'handover');
bs_check_seq_contiguous($node, $source, 'handover');

# The graph rebuilt from the queue.
my $events = bs_fetch_events($node, $source);
my ($state, $anomalies) = bs_apply_events({}, $events);
bs_check_anomalies($anomalies, 'handover');
my $tables = bs_table_state($node);
note(scalar(keys %$tables) . ' rows in the tables at the end');
bs_compare_states($state, $tables, 'rebuilt from the queue vs the tables');
bs_compare_states(bs_bootstrap_state($node, $source), $tables, 'bootstrap() vs the tables');

# The snapshot alone is what the slot's exported snapshot showed: the
# snapshot events have distinct ids.
is( $node->safe_psql('postgres', qq{
SELECT count(*) - count(DISTINCT element_id) FROM pgcdc_drasi.events
 WHERE source_id = $src AND (payload->'metadata'->>'snapshot')::boolean}),
	0, 'snapshot events: every row once');

is( $node->safe_psql('postgres',
		"SELECT state || ' ' || coalesce(last_error, '') FROM pgcdc_drasi.status WHERE source_id = $src"),
	'streaming ', 'source streams without an error');

$node->stop;
done_testing();
