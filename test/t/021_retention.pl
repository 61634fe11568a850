# 021_retention.pl: the source worker deletes queue rows nobody needs.
#
#   1. A source with consumers: events are deleted once every consumer has
#      acknowledged them, and never before, however old they are.
#   1b. In pieces: a transaction larger than any piece among many
#      single-event ones, acknowledged at points that cut into both; the
#      events and the transaction rows are exactly those not acknowledged.
#   2. A source without consumers: events older than pgcdc_drasi.retention
#      seconds (2 here) are deleted; retention = -1 keeps them.
#   3. A steady stream for about 60 s with a consumer reading and acking:
#      the size of the queue tables (with indexes, TOAST) stays flat.
#      The numbers are printed with note().
#
# autovacuum_naptime is 1 s: the queue table's own autovacuum settings ask
# for a vacuum after 1% dead rows, and the server-wide naptime (60 s by
# default) decides how soon autovacuum looks.  With the default, the table
# grows for up to a minute before the first vacuum, which would measure the
# naptime, not the retention.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $node = cdc_node(
	'retention', extra_conf => q{
pgcdc_drasi.retention = 2
autovacuum_naptime = 1s
});
$node->safe_psql(
	'postgres', q{
CREATE TABLE acked_t (id int PRIMARY KEY);
CREATE PUBLICATION acked_pub FOR TABLE acked_t;
CREATE TABLE aged_t (id int PRIMARY KEY);
CREATE PUBLICATION aged_pub FOR TABLE aged_t;
CREATE TABLE steady_t (id bigint PRIMARY KEY, pad text);
CREATE TABLE pieces_t (id int PRIMARY KEY);
CREATE PUBLICATION pieces_pub FOR TABLE pieces_t;
CREATE PUBLICATION steady_pub FOR TABLE steady_t;
});
is($node->safe_psql('postgres', "SELECT current_setting('pgcdc_drasi.retention')"), '2s', 'retention is 2 s');

sub events_of
{
	my ($source) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(min(seq), 0) || ':' || coalesce(max(seq), 0)
		   FROM pgcdc_drasi.events WHERE source_id = " . q_lit($source));
}

sub poll_events
{
	my ($source, $want, $desc) = @_;
	my $ok = $node->poll_query_until('postgres',
		"SELECT count(*) || ':' || coalesce(min(seq), 0) || ':' || coalesce(max(seq), 0)
		   FROM pgcdc_drasi.events WHERE source_id = " . q_lit($source), $want);
	ok($ok, $desc) or diag('events (count:min:max) ' . events_of($source));
	return $ok;
}

# ------------------------------------------------------------------------
# 1. Acknowledged events
# ------------------------------------------------------------------------
create_source($node, 'acked', 'acked_pub');
wait_streaming($node, 'acked');
$node->safe_psql(
	'postgres', q{
SELECT pgcdc_drasi.create_consumer('c1', 'acked');
SELECT pgcdc_drasi.create_consumer('c2', 'acked');
INSERT INTO acked_t SELECT g FROM generate_series(1, 10) g;
});
catchup($node, 'acked');
is(events_of('acked'), '10:1:10', 'ten events queued');
# Older than the retention, but not acknowledged: kept.
ok($node->poll_query_until('postgres',
		"SELECT now() - max(commit_time) > interval '4 s' FROM pgcdc_drasi.events WHERE source_id = 'acked'"),
	'the events are older than twice the retention');
is(events_of('acked'), '10:1:10', 'events of a source with consumers are kept until acknowledged, however old');

$node->safe_psql('postgres', q{SELECT pgcdc_drasi.ack('c1', 4); SELECT pgcdc_drasi.ack('c2', 6);});
poll_events('acked', '6:5:10', 'acked by both up to 4: events 1..4 are deleted');
$node->safe_psql('postgres', q{SELECT pgcdc_drasi.ack('c1', 10);});
poll_events('acked', '4:7:10', 'c1 at 10, c2 at 6: events up to 6 are deleted');
$node->safe_psql('postgres', q{SELECT pgcdc_drasi.ack('c2', 10);});
poll_events('acked', '0:0:0', 'both at 10: the queue of the source is empty');
is( $node->safe_psql('postgres',
		"SELECT string_agg(consumer || ':' || acked_seq || ':' || last_seq || ':' || lag_events, ',' ORDER BY consumer)
		   FROM pgcdc_drasi.consumer_status"),
	'c1:10:10:0,c2:10:10:0', 'consumer_status after retention');
$node->safe_psql('postgres', 'INSERT INTO acked_t VALUES (11)');
catchup($node, 'acked');
is( $node->safe_psql('postgres', "SELECT string_agg(seq || ':' || element_id, ',') FROM pgcdc_drasi.read('c1')"),
	'11:acked_t:11', 'the next event is seq 11');

# ------------------------------------------------------------------------
# 1b. In pieces
# ------------------------------------------------------------------------
create_source($node, 'pieces', 'pieces_pub');
wait_streaming($node, 'pieces');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.create_consumer('p1', 'pieces')");
# 1500 single-row transactions, one of 5000 rows, 1500 single-row ones
$node->safe_psql('postgres',
	join('', map { "INSERT INTO pieces_t VALUES ($_);\n" } 1 .. 1500)
	  . "INSERT INTO pieces_t SELECT g FROM generate_series(1501, 6500) g;\n"
	  . join('', map { "INSERT INTO pieces_t VALUES ($_);\n" } 6501 .. 8000));
catchup($node, 'pieces');
is(events_of('pieces'), '8000:1:8000', '8000 events queued');

sub pieces_txs
{
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(sum(n_events), 0) FROM pgcdc_drasi.queue_transactions WHERE source_id = 'pieces'");
}
is(pieces_txs(), '3001:8000', '3001 transaction rows');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.ack('p1', 1000)");
poll_events('pieces', '7000:1001:8000', 'acked up to 1000: single-event transactions deleted');
is(pieces_txs(), '2001:7000', '... with their transaction rows');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.ack('p1', 3000)");
poll_events('pieces', '5000:3001:8000', 'acked into the large transaction: its first events deleted');
is(pieces_txs(), '1501:6500', '... its row kept');
# Nothing more can go before the next acknowledgement: retention rests
# (once a second) instead of trying again and again.
sub xact_commits
{
	return $node->safe_psql('postgres',
		"SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
}
my $xacts0 = xact_commits();
sleep(3);
my $xacts = xact_commits() - $xacts0;
ok($xacts < 200, "with the cut inside a transaction, retention rests ($xacts transactions in 3 s)");
$node->safe_psql('postgres', "SELECT pgcdc_drasi.ack('p1', 6600)");
poll_events('pieces', '1400:6601:8000', 'acked past it: the rest of it and 100 more deleted');
is(pieces_txs(), '1400:1400', '... its row too');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.ack('p1', 8000)");
poll_events('pieces', '0:0:0', 'all acknowledged: nothing left');
is(pieces_txs(), '0:0', 'no transaction row left');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.drop_source('pieces')");

# ------------------------------------------------------------------------
# 2. No consumers: pgcdc_drasi.retention
# ------------------------------------------------------------------------
create_source($node, 'aged', 'aged_pub');
wait_streaming($node, 'aged');
$node->safe_psql('postgres', 'INSERT INTO aged_t SELECT g FROM generate_series(1, 5) g');
catchup($node, 'aged');
my $t0 = Time::HiRes::time();
my ($young, $commit_epoch) = split /\|/, $node->safe_psql('postgres',
	"SELECT count(*) || ':' || (now() - min(commit_time) < interval '2 s'), extract(epoch FROM max(commit_time))
	   FROM pgcdc_drasi.events WHERE source_id = 'aged'");
is($young, '5:true', 'five events, younger than the retention, are queued');
poll_events('aged', '0:0:0', 'they are deleted');
my $elapsed = Time::HiRes::time() - $t0;
my $age = $node->safe_psql('postgres', "SELECT extract(epoch FROM clock_timestamp()) - $commit_epoch");
note(sprintf('events of a source without consumers were gone %.1f s after publication (%.1f s after their commit)',
	$elapsed, $age));
cmp_ok($age, '>=', 2, 'they were deleted no sooner than 2 s after their commit');
cmp_ok($elapsed, '<', 15, 'the deletion happened within a few retention passes (about one per second)');

# -1 keeps events
$node->safe_psql('postgres', 'ALTER SYSTEM SET pgcdc_drasi.retention = -1');
$node->reload;
ok($node->poll_query_until('postgres', "SELECT current_setting('pgcdc_drasi.retention')", '-1'), 'retention = -1');
$node->safe_psql('postgres', 'INSERT INTO aged_t SELECT g FROM generate_series(6, 8) g');
catchup($node, 'aged');
ok($node->poll_query_until('postgres',
		"SELECT now() - max(commit_time) > interval '5 s' FROM pgcdc_drasi.events WHERE source_id = 'aged'"),
	'the events grow older than 5 s');
is(events_of('aged'), '3:6:8', 'with retention = -1 they are kept');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pgcdc_drasi.retention');
$node->reload;
ok($node->poll_query_until('postgres', "SELECT current_setting('pgcdc_drasi.retention')", '2s'), 'retention = 2 s again');
poll_events('aged', '0:0:0', 'back at 2 s, the old events are deleted');
is($node->safe_psql('postgres', "SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'aged'"),
	'8', 'last_seq is kept');

# ------------------------------------------------------------------------
# 3. A steady stream with a consumer acking: the table stays flat
# ------------------------------------------------------------------------
my $duration = 60;
$node->safe_psql(
	'postgres', q{
CREATE TABLE consume_log (consumer text, events bigint, gaps bigint, last bigint, batches bigint);
CREATE PROCEDURE write_steady(secs float8) LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	n bigint := 0;
BEGIN
	WHILE clock_timestamp() - t0 < make_interval(secs => secs) LOOP
		INSERT INTO steady_t SELECT n + g, repeat('p', 200) FROM generate_series(1, 10) g;
		n := n + 10;
		COMMIT;
		PERFORM pg_sleep(0.02);
	END LOOP;
END
$$;
CREATE PROCEDURE consume(c text, secs float8) LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	r record;
	last bigint := 0;
	n bigint := 0;
	gaps bigint := 0;
	batches bigint := 0;
	idle int := 0;
BEGIN
	LOOP
		r := NULL;
		FOR r IN SELECT seq FROM pgcdc_drasi.read(c, 1000) LOOP
			IF r.seq <> last + 1 THEN
				gaps := gaps + 1;
			END IF;
			last := r.seq;
			n := n + 1;
		END LOOP;
		IF r IS NOT NULL THEN
			PERFORM pgcdc_drasi.ack(c, last);
			batches := batches + 1;
			idle := 0;
		ELSE
			idle := idle + 1;
		END IF;
		COMMIT;
		-- Stop after secs, once three reads in a row found nothing.
		EXIT WHEN clock_timestamp() - t0 > make_interval(secs => secs) AND idle >= 3;
		PERFORM pg_sleep(0.1);
	END LOOP;
	INSERT INTO consume_log VALUES (c, n, gaps, last, batches);
END
$$;
});
create_source($node, 'steady', 'steady_pub');
wait_streaming($node, 'steady');
$node->safe_psql('postgres', q{SELECT pgcdc_drasi.create_consumer('cs', 'steady')});

my ($wout, $werr, $cout, $cerr) = ('', '', '', '');
my $writer = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', "CALL write_steady($duration)" ],
	'>', \$wout, '2>', \$werr);
my $consumer = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', "CALL consume('cs', $duration + 2)" ],
	'>', \$cout, '2>', \$cerr);

my $start = Time::HiRes::time();
my (@samples, $size10);
foreach my $i (1 .. $duration / 5)
{
	my $at = $start + 5 * $i;
	my $now = Time::HiRes::time();
	Time::HiRes::sleep($at - $now) if $at > $now;
	my ($size, $rows, $lag, $seq) = split /\|/, $node->safe_psql(
		'postgres', q{
SELECT pg_total_relation_size('pgcdc_drasi.queue_events') + pg_total_relation_size('pgcdc_drasi.queue_transactions'),
       (SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'steady'),
       (SELECT lag_events FROM pgcdc_drasi.consumer_status WHERE consumer = 'cs'),
       (SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'steady')});
	push @samples, { t => 5 * $i, size => $size, rows => $rows, lag => $lag, seq => $seq };
	$size10 = $size if 5 * $i == 10;
	note(sprintf('t=%2ds  pg_total_relation_size(events) = %7d bytes (%5.0f kB)  rows = %5d  consumer lag = %5d  last_seq = %6d',
		5 * $i, $size, $size / 1024, $rows, $lag, $seq));
}
ok($writer->finish, 'the writer ran for 60 s') or diag($werr);
ok($consumer->finish, 'the consumer read and acknowledged all along') or diag($cerr);
catchup($node, 'steady');

my $written = $node->safe_psql('postgres', 'SELECT count(*) FROM steady_t');
my $last_seq = $node->safe_psql('postgres', "SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'steady'");
is($last_seq, $written, "every row written ($written) became an event");
is( $node->safe_psql('postgres', "SELECT events || ':' || gaps || ':' || last FROM consume_log WHERE consumer = 'cs'"),
	"$written:0:$written", 'the consumer read every event once, in seq order, without gap');
poll_events('steady', '0:0:0', 'after the last ack, the queue of the source empties');

# Autovacuum acts on the statistics that backends report; the worker
# inserts and deletes every queue row, so it must report them while it runs
# (not only when it exits), or the table is never vacuumed.
my ($stat_ok, $stats) = (0, '');
foreach (1 .. 300)
{
	$stats = $node->safe_psql('postgres',
		"SELECT sum(n_tup_ins) || ':' || sum(n_tup_del) || ':' "
		  . "|| (SELECT count(*) FROM pgcdc_drasi.queue_events) + (SELECT count(*) FROM pgcdc_drasi.queue_transactions) "
		  . "FROM pg_stat_user_tables "
		  . "WHERE relid IN ('pgcdc_drasi.queue_events'::regclass, 'pgcdc_drasi.queue_transactions'::regclass)");
	my ($ins, $del, $left) = split /:/, $stats;
	# a row holds 1 to 64 events (the transactions of 10 events here hold
	# them in their own row); every row inserted is deleted by now but
	# those still queued (other sources of this test)
	if ($ins >= $written / 64 && $del >= $ins - $left) { $stat_ok = 1; last; }
	usleep(100_000);
}
ok($stat_ok, "the worker reports its inserts and deletes to the statistics system while it runs (n_tup_ins:n_tup_del:rows left = $stats)");
note('pg_stat_user_tables of the queue tables: ' . $node->safe_psql('postgres',
	"SELECT string_agg(format('%s: n_tup_ins=%s n_tup_del=%s n_dead_tup=%s autovacuum_count=%s last_autovacuum=%s', relname, n_tup_ins, n_tup_del, n_dead_tup, autovacuum_count, last_autovacuum), '; ')
	   FROM pg_stat_user_tables WHERE relid IN ('pgcdc_drasi.queue_events'::regclass, 'pgcdc_drasi.queue_transactions'::regclass)"));

my $final = $samples[-1]{size};
my $max = 0;
$max = ($_->{size} > $max ? $_->{size} : $max) foreach @samples;
note(sprintf('size after 10 s: %d bytes; final (t=%ds): %d bytes (%.2fx); largest sample: %d bytes; written: %d events (%.0f/s)',
	$size10, $samples[-1]{t}, $final, $final / $size10, $max, $written, $written / $duration));
diag(sprintf('retention: events size %d kB after 10 s, %d kB after %d s (%.2fx), %d events written',
	$size10 / 1024, $final / 1024, $samples[-1]{t}, $final / $size10, $written));
cmp_ok($final, '<', 3 * $size10, 'the queue table stays flat: final size below 3x the size after 10 s');
my $rows_max = 0;
$rows_max = ($_->{rows} > $rows_max ? $_->{rows} : $rows_max) foreach @samples;
cmp_ok($rows_max, '<', $written / 10, "the queue never held more than a fraction of the stream (at most $rows_max rows)");

$node->stop;
done_testing();
