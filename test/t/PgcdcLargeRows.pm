# test/t/PgcdcLargeRows.pm: the large-row tests 051, 053 and 054.  Memory
# is bounded by bytes, not only by rows: 10 rows of 50 MB each go through
# the initial snapshot, bootstrap() and the stream without holding the
# whole batch in memory.
#
# A bytea of 50 MB is 100 MB of text in pgoutput's form and about 67 MB of
# base64 in the event.  Batches of rows (the queue buffer of up to
# batch_size events, the snapshot's fetch of 1000 rows, bootstrap()'s batch)
# that held all 10 rows would take several GB.  Memory is sampled with
# pg_log_backend_memory_contexts(), as in 033_bootstrap_memory.pl:
#
# Each part is its own test file (051_large_rows_snapshot.pl,
# 053_large_rows_bootstrap.pl, 054_large_rows_stream.pl), so that each stays
# well within the time limit of one TAP file on a busy machine:
#
# 1. the worker during the initial snapshot of the 10 rows: its peak exceeds
#    its idle size by less than $limit{snapshot};
# 2. a backend running SELECT count(*) FROM bootstrap(): the same, against
#    its size before the call (less than $limit{bootstrap});
# 3. the worker while it streams one transaction inserting 10 such rows:
#    the same, against its idle size (less than $limit{stream}).
# Every row reaches the queue exactly once (3. also checks the values;
# 2. returns the values' whole length).
#
# Each limit allows for one row's own cost, measured on 15, 17 and 18:
# mapping one 50 MB value (its detoasted bytes, its 100 MB hex text, the
# base64 string, the jsonb, the queue's copy) takes about 1060 MB at once
# in 1., 450-520 MB in 2. and 390 MB in 3.  Holding all 10 rows exceeds each
# limit: before batches were bounded by bytes the worker's peak in 1. was
# about 13 GB for 20 rows; in 3., the queue buffer alone would hold 10
# events of 67 MB of base64 each on top of one row's cost.  (With 20 rows
# a part took up to three and a half minutes per version in CI; 10 rows
# test the same bound in half the time.)

package PgcdcLargeRows;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PgcdcDrasiTest;
use PgcdcBootstrapTest;

our @EXPORT = qw(large_rows_test);

my $mb = 1024 * 1024;
my $row_bytes = 50 * $mb;
my $nrows = 10;
my %limit = (snapshot => 1200 * $mb, bootstrap => 900 * $mb, stream => 700 * $mb);
my $source = 'large';
my $src = q_lit($source);
my $node;

# $n rows of $row_bytes each, ids from $first; every value differs.
sub insert_sql
{
	my ($first, $n) = @_;
	my $last = $first + $n - 1;
	return qq{INSERT INTO wide SELECT g, convert_to(lpad(g::text, $row_bytes, 'x'), 'UTF8')
  FROM generate_series($first, $last) g};
}


# "Grand total" byte counts logged by $pid since log offset $offset.
sub grand_totals
{
	my ($pid, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	return ($log =~ /\[$pid\][^\n]*LOG:  Grand total: (\d+) bytes/g);
}

# Ask $pid for a memory context dump and wait until it has written it.
sub sample_memory
{
	my ($pid) = @_;
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	for (1 .. 500)
	{
		my @t = grand_totals($pid, $offset);
		return $t[-1] if @t;
		usleep(10_000);
	}
	return undef;
}

sub peak { return (sort { $b <=> $a } @_)[0] // 0; }

sub idle_memory
{
	my ($pid) = @_;
	my @idle;
	for (1 .. 3)
	{
		my $m = sample_memory($pid);
		push @idle, $m if defined $m;
		usleep(100_000);
	}
	return (sort { $a <=> $b } @idle)[0] // 0;
}

# Queue rows of the source: count, distinct ids, values whole (the length
# of the base64 text, and its end, where the rows differ, decoded).
my $b64 = 4 * int(($row_bytes + 2) / 3);
my $tail_chars = 100;
my $tail_bytes = 3 * ($tail_chars / 4) - (3 - $row_bytes % 3) % 3;
sub check_queue_rows
{
	my ($n, $desc) = @_;
	is( $node->safe_psql('postgres', qq{
SELECT count(*) || '|' || count(DISTINCT element_id) || '|' ||
       count(*) FILTER (WHERE length(v) = $b64
                          AND decode(right(v, $tail_chars), 'base64') =
                              substring(b FROM octet_length(b) - $tail_bytes + 1))
  FROM (SELECT e.element_id, e.payload->'payload'->'after'->'properties'->>'b' AS v, w.b
          FROM pgcdc_drasi.events e JOIN wide w ON e.element_id = 'wide:' || w.id
         WHERE e.source_id = $src AND e.op = 'i') q}),
		"$n|$n|$n", $desc);
}


# Part 1: the initial snapshot of 10 rows of 50 MB.
sub part_snapshot
{
	$node->safe_psql('postgres', insert_sql(1, $nrows));
	# 1. The initial snapshot.
	bs_create_source($node, $source, 'wide_pub');
	my ($pid, @samples);
	my $finished = 0;
	my $deadline = time() + 3 * $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		my ($state, $wpid, $has_lsn) = split /\|/, $node->safe_psql('postgres', qq{
	SELECT s.state, coalesce(s.pid, 0), p.snapshot_lsn IS NOT NULL
	  FROM pgcdc_drasi.status s JOIN pgcdc_drasi.source_progress p USING (source_id)
	 WHERE s.source_id = $src});
		if ($has_lsn eq 't')
		{
			$finished = 1;
			last;
		}
		if ($state eq 'snapshot' && $wpid != 0)
		{
			$pid //= $wpid;
			my $m = sample_memory($pid);
			push @samples, $m if defined $m;
		}
		usleep(100_000);
	}
	ok($finished, '1. the initial snapshot completes');
	cmp_ok(scalar(@samples), '>=', 3, '1. worker memory sampled during the snapshot (' . scalar(@samples) . ' samples)');
	wait_streaming($node, $source, desc => '1. worker streaming after the snapshot');
	my $idle = idle_memory($pid);
	note(sprintf('1. worker memory: idle %.1f MB, peak during the snapshot %.1f MB', $idle / $mb, peak(@samples) / $mb));
	cmp_ok(peak(@samples) - $idle, '<', $limit{snapshot}, '1. worker memory during the snapshot: peak - idle < ' . $limit{snapshot} / $mb . ' MB');
	is( $node->safe_psql('postgres',
			"SELECT count(*) || '|' || count(DISTINCT element_id) FROM pgcdc_drasi.events WHERE source_id = $src AND op = 'i'"),
		"$nrows|$nrows", "1. the queue has the $nrows rows once");

}

# Part 2: bootstrap() of them in a backend.
sub part_bootstrap
{
	$node->safe_psql('postgres', insert_sql(1, $nrows));
	create_source($node, $source, 'wide_pub');
	# 2. bootstrap() in a backend.
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-d', $node->connstr('postgres'),
			'-c', "SET application_name = 'bs_large'",
			'-c', 'SELECT pg_sleep(2)',
			'-c', "SELECT count(*), sum(length(e->'properties'->>'b')) FROM pgcdc_drasi.bootstrap($src) e",
		],
		'>', \$out, '2>', \$err);
	ok( bs_wait_until($node,
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'bs_large' AND query LIKE '%pg_sleep%'"),
		'2. backend waiting before the bootstrap() call');
	my $bpid = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE application_name = 'bs_large'");
	my $before = sample_memory($bpid) // 0;
	ok( bs_wait_until($node,
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $bpid AND query LIKE '%bootstrap%'"),
		'2. backend runs bootstrap()');
	my @bsamples;
	my $deadline = time() + 3 * $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		last unless $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE pid = $bpid AND state = 'active' AND query LIKE '%bootstrap%'");
		my $m = sample_memory($bpid);
		push @bsamples, $m if defined $m;
		usleep(100_000);
	}
	$h->finish;
	is((split /\n/, $out)[-1], "$nrows|" . ($nrows * $b64), "2. bootstrap() returned the $nrows rows, whole");
	cmp_ok(scalar(@bsamples), '>=', 3, '2. memory sampled while bootstrap() ran (' . scalar(@bsamples) . ' samples)');
	note(sprintf('2. backend memory: before %.1f MB, peak %.1f MB', $before / $mb, peak(@bsamples) / $mb));
	cmp_ok(peak(@bsamples) - $before, '<', $limit{bootstrap}, '2. backend memory during bootstrap(): peak - before < ' . $limit{bootstrap} / $mb . ' MB');

}

# Part 3: one transaction of 10 such rows through the stream.
sub part_stream
{
	create_source($node, $source, 'wide_pub');
	wait_streaming($node, $source);
	my $pid = $node->safe_psql('postgres', "SELECT pid FROM pgcdc_drasi.status WHERE source_id = $src");
	# 3. One transaction of 10 such rows through the stream.
	my $idle = idle_memory($pid);
	my $lsn = $node->safe_psql('postgres', insert_sql(1, $nrows) . '; SELECT pg_current_wal_insert_lsn()');
	my @ssamples;
	my $deadline = time() + 3 * $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		last if $node->safe_psql('postgres', "SELECT published_lsn >= '$lsn' FROM pgcdc_drasi.status WHERE source_id = $src") eq 't';
		my $m = sample_memory($pid);
		push @ssamples, $m if defined $m;
		usleep(100_000);
	}
	catchup($node, $source, timeout => '600s');
	is($node->safe_psql('postgres', "SELECT pid FROM pgcdc_drasi.status WHERE source_id = $src"), $pid,
		'3. the same worker streamed the transaction');
	cmp_ok(scalar(@ssamples), '>=', 3, '3. worker memory sampled while it streamed (' . scalar(@ssamples) . ' samples)');
	note(sprintf('3. worker memory: idle %.1f MB, peak while streaming %.1f MB', $idle / $mb, peak(@ssamples) / $mb));
	cmp_ok(peak(@ssamples) - $idle, '<', $limit{stream}, '3. worker memory while streaming: peak - idle < ' . $limit{stream} / $mb . ' MB');
	check_queue_rows($nrows, "3. the queue has the $nrows rows once, whole");

}

# Run one part ('snapshot', 'bootstrap' or 'stream') on a new node.
sub large_rows_test
{
	my ($part) = @_;
	$node = cdc_node("large_rows_$part", extra_conf => "wal_sender_timeout = 0\nmax_wal_size = 4GB");
	$node->safe_psql('postgres', 'CREATE TABLE wide (id int PRIMARY KEY, b bytea)');
	$node->safe_psql('postgres', 'CREATE PUBLICATION wide_pub FOR TABLE wide');
	if ($part eq 'snapshot')
	{
		part_snapshot();
	}
	elsif ($part eq 'bootstrap')
	{
		part_bootstrap();
	}
	else
	{
		part_stream();
	}
	$node->stop;
	done_testing();
	return;
}

1;
