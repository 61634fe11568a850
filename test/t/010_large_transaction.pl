# 010_large_transaction.pl: one source transaction of 1,000,000 rows is
# published exactly once, in bounded memory, without the walsender timing out.
#
# The walsender runs with wal_sender_timeout = 5s and
# logical_decoding_work_mem = 64kB (it spills the transaction to disk and
# replays it at commit).  The memory of the source worker is measured with
# pg_log_backend_memory_contexts(): once at idle, then repeatedly while the
# large transaction travels through the walsender and the worker; the "Grand
# total" lines the worker writes to the server log (prefix "[pid]") are
# parsed.  The peak must stay below idle + 64 MB.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $rows = 1_000_000;
my $limit_bytes = 64 * 1024 * 1024;

my $node = PostgreSQL::Test::Cluster->new('large_tx');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pgcdc_drasi'
pgcdc_drasi.retry_min_interval = '200ms'
max_worker_processes = 16
wal_sender_timeout = '5s'
logical_decoding_work_mem = '64kB'
log_line_prefix = '%m [%p] %q%a '
max_wal_size = '2GB'
});
$node->start;

is($node->safe_psql('postgres', 'SHOW wal_sender_timeout'), '5s', 'wal_sender_timeout is 5s');
is($node->safe_psql('postgres', 'SHOW logical_decoding_work_mem'), '64kB',
	'logical_decoding_work_mem is 64kB');

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE big(id bigint PRIMARY KEY, a text NOT NULL, n numeric NOT NULL);
CREATE TABLE warm(id bigint PRIMARY KEY, a text, n numeric);
CREATE PUBLICATION big_pub FOR TABLE big, warm;
SELECT pgcdc_drasi.create_source('big', publication => 'big_pub');
});

ok( $node->poll_query_until(
		'postgres', q{
SELECT s.state = 'streaming' AND a.backend_type = 'pgcdc_drasi source'
  FROM pgcdc_drasi.status s JOIN pg_stat_activity a ON a.pid = s.pid
 WHERE s.source_id = 'big'}),
	'source streaming');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pgcdc_drasi.status WHERE source_id = 'big'");
my $walsender = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = 'pgcdc_drasi:big'"
);
like($walsender, qr/^\d+$/, 'walsender of the source found');

# Warm up the worker (relation cache, queue relation, plans) with a small
# transaction, so the idle measurement is of a worker that has published.
$node->safe_psql('postgres',
	"INSERT INTO warm SELECT g, 'w' || g, g FROM generate_series(1, 100) g");
$node->safe_psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('big', '60s')");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'big' AND label = 'warm'"),
	'100', 'warm-up transaction published');

# Memory of a backend: ask it to log its memory contexts and wait for the
# "Grand total" line it writes (prefix "[pid]").  Returns the bytes, or undef
# if no new line appeared within the timeout.
my %seen_totals;
sub grand_totals
{
	my ($p) = @_;
	my $log = slurp_file($node->logfile);
	my @t;
	while ($log =~ /^\S+ \S+ \S+ \[$p\] .*?LOG:\s+Grand total: (\d+) bytes in/mg)
	{
		push @t, $1;
	}
	return @t;
}

sub measure
{
	my ($p, $timeout) = @_;
	$timeout //= 60;
	my $before = scalar(grand_totals($p));
	my $ok = $node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($p)");
	return undef unless $ok eq 't';
	my $deadline = time() + $timeout;
	while (time() < $deadline)
	{
		my @t = grand_totals($p);
		return $t[-1] if @t > $before;
		usleep(50_000);
	}
	return undef;
}

my $idle = measure($pid);
ok(defined $idle, 'idle memory of the worker measured');
note("worker memory at idle: $idle bytes (" . sprintf('%.1f', $idle / 1048576) . ' MB)');
my $ws_idle = measure($walsender);
note("walsender memory at idle: " . ($ws_idle // 'n/a') . ' bytes');

my $log_offset = -s $node->logfile;

# The large transaction.
my $t0 = time();
$node->safe_psql('postgres',
	"INSERT INTO big SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, $rows) g");
my $t_committed = time();
my $target = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
note(sprintf('large transaction committed in %.1f s', $t_committed - $t0));

# Sample the worker's memory while the transaction goes through the
# walsender (decoding, spilling, replay) and the worker (mapping, queue
# writes), until the worker has published past the commit.
my @samples;
my @ws_samples;
my $seen_writing = 0;
my $queue_size_before = $node->safe_psql('postgres',
	"SELECT pg_relation_size('pgcdc_drasi.queue_events')");
my $deadline = time() + 600;
while (time() < $deadline)
{
	my $st = $node->safe_psql(
		'postgres', qq{
SELECT coalesce(published_lsn >= '$target', false),
       coalesce(pid, 0),
       pg_relation_size('pgcdc_drasi.queue_events') > $queue_size_before,
       events_published
  FROM pgcdc_drasi.status WHERE source_id = 'big'});
	my ($done, $cur_pid, $growing, $published) = split /\|/, $st;
	last if $done eq 't';
	last if $cur_pid != $pid;    # worker restarted: caught below
	$seen_writing = 1 if $growing eq 't';
	my $m = measure($pid, 30);
	push @samples, { t => time() - $t_committed, bytes => $m, writing => $growing }
	  if defined $m;
	if (@samples % 5 == 1)
	{
		my $w = measure($walsender, 30);
		push @ws_samples, $w if defined $w;
	}
	usleep(250_000);
}
my $t_published = time();

is($node->safe_psql('postgres', "SELECT pid FROM pgcdc_drasi.status WHERE source_id = 'big'"),
	$pid, 'the same worker published the whole transaction');
ok(scalar(grep { $_->{writing} eq 't' } @samples) >= 3,
	'memory sampled at least 3 times while the worker was writing the queue');

$node->safe_psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('big', '300s')");
my $t_caught_up = time();
note(sprintf('published %d events %.1f s after the commit (caught up after %.1f s)',
		$rows, $t_published - $t_committed, $t_caught_up - $t_committed));

my $peak = $idle;
foreach my $s (@samples)
{
	$peak = $s->{bytes} if $s->{bytes} > $peak;
}
note(
	sprintf(
		'worker memory: idle %d bytes (%.1f MB), peak %d bytes (%.1f MB) over %d samples',
		$idle, $idle / 1048576, $peak, $peak / 1048576, scalar(@samples)));
note('samples (seconds after commit: bytes, queue growing): '
	  . join(', ', map { sprintf('%.1f: %d %s', $_->{t}, $_->{bytes}, $_->{writing}) } @samples));
if (@ws_samples)
{
	my $ws_peak = 0;
	foreach (@ws_samples) { $ws_peak = $_ if $_ > $ws_peak; }
	note(sprintf('walsender memory: idle %s bytes, peak %d bytes (%.1f MB) over %d samples',
			$ws_idle // 'n/a', $ws_peak, $ws_peak / 1048576, scalar(@ws_samples)));
}
note('walsender spilling (slot|spill_txns|spill_count|spill_bytes): '
	  . $node->safe_psql('postgres',
		"SELECT slot_name, spill_txns, spill_count, spill_bytes FROM pg_stat_replication_slots"));
cmp_ok($peak, '<', $idle + $limit_bytes, 'peak memory of the worker below idle + 64 MB');

# Exactly once.
my $res = $node->safe_psql(
	'postgres', q{
SELECT count(*), count(DISTINCT element_id),
       min(split_part(element_id, ':', 2)::bigint), max(split_part(element_id, ':', 2)::bigint),
       count(*) FILTER (WHERE op = 'i'), count(DISTINCT xid), count(DISTINCT lsn),
       min(tx_index), max(tx_index), count(DISTINCT tx_index)
  FROM pgcdc_drasi.events WHERE source_id = 'big' AND label = 'big'});
is( $res,
	join('|', $rows, $rows, 1, $rows, $rows, 1, 1, 0, $rows - 1, $rows),
	'1,000,000 insert events, each element id exactly once, ids 1..1000000, one transaction, tx_index 0..999999'
);
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM pgcdc_drasi.events e JOIN big b ON e.element_id = 'big:' || b.id
 WHERE e.source_id = 'big' AND e.label = 'big'
   AND (e.payload->'payload'->'after'->'properties'->>'a' IS DISTINCT FROM b.a
        OR (e.payload->'payload'->'after'->'properties'->>'n')::numeric IS DISTINCT FROM b.n)}),
	'0',
	'every event carries the values of its row');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
  SELECT seq, lag(seq) OVER (ORDER BY tx_index) AS prev
    FROM pgcdc_drasi.events WHERE source_id = 'big' AND label = 'big') q
 WHERE prev IS NOT NULL AND seq <= prev}),
	'0',
	'seq increases with tx_index');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'big'"),
	$rows + 100, 'nothing else in the queue');

# No timeout, no reconnect.
ok( !$node->log_contains(qr/terminating walsender process due to replication timeout/),
	'the walsender never hit wal_sender_timeout');
is($node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = 'pgcdc_drasi:big'"
	),
	$walsender, 'the same walsender served the whole transaction');
is( $node->safe_psql(
		'postgres',
		"SELECT state, reconnects, last_error IS NULL, events_published FROM pgcdc_drasi.status WHERE source_id = 'big'"
	),
	"streaming|0|t|" . ($rows + 100),
	'status: streaming, reconnects = 0, no error, events_published counts every event');
ok( $node->poll_query_until(
		'postgres',
		"SELECT confirmed_lsn >= '$target' FROM pgcdc_drasi.status WHERE source_id = 'big'"),
	'slot confirmed past the large transaction');

$node->stop;
done_testing();
