# 033_bootstrap_memory.pl: the initial snapshot of a 1,000,000-row table
# runs in flat memory, shows its progress, survives a crash in its middle,
# and writes every row exactly once; bootstrap() of the same table streams
# through a backend in flat memory too.
#
# 1. create_source (bootstrap => true) on a table of 1,000,000 rows.  While
#    the worker reads it, status shows state 'snapshot', the table, the rows
#    done (growing) and the rows expected (pg_class.reltuples), and
#    pg_stat_activity.query of the worker shows "snapshot of table big: N of
#    about M rows".  The worker is killed with SIGKILL in the middle
#    (restart_after_crash = on): the restarted worker must drop the slot of
#    the unfinished snapshot and take the snapshot again.
# 2. During that second snapshot its memory is sampled with
#    pg_log_backend_memory_contexts(): the peak of the "Grand total" lines
#    may exceed the worker's idle size (sampled once it streams) by less than
#    64 MB.  The queue must then hold the 1,000,000 rows exactly once.
# 3. SELECT count(*) FROM pgcdc_drasi.bootstrap(...) on the same table: the
#    backend's memory, sampled the same way while it runs, exceeds its size
#    before the call by less than 64 MB.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PgcdcDrasiTest;
use PgcdcBootstrapTest;

my $rows = 1000000;
my $limit = 64 * 1024 * 1024;
my $source = 'bigsnap';
my $src = q_lit($source);
my $node = cdc_node('bootstrap_memory', restart_after_crash => 1);

$node->safe_psql('postgres', qq{
CREATE TABLE big (id int PRIMARY KEY, grp int, name text, amount numeric(12,2), at timestamptz);
INSERT INTO big SELECT g, g % 1000, md5(g::text), g / 7.0, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second'
  FROM generate_series(1, $rows) g;
ANALYZE big;
CREATE PUBLICATION big_pub FOR TABLE big;
});

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
	for (1 .. 200)
	{
		my @t = grand_totals($pid, $offset);
		return $t[-1] if @t;
		usleep(10_000);
	}
	return undef;
}

sub status
{
	my $row = $node->safe_psql('postgres', qq{
SELECT s.state, coalesce(s.pid, 0), coalesce(s.snapshot_table, ''), coalesce(s.snapshot_rows_done, -1),
       coalesce(s.snapshot_rows_total, -1), s.snapshot_lsn IS NOT NULL, coalesce(a.query, '')
  FROM pgcdc_drasi.status s LEFT JOIN pg_stat_activity a ON a.pid = s.pid
 WHERE s.source_id = $src});
	my %s;
	@s{qw(state pid table done total has_lsn query)} = split /\|/, $row, 7;
	return \%s;
}

# 1. The first snapshot, killed in its middle.
my $log_offset = -s $node->logfile;
bs_create_source($node, $source, 'big_pub');
my ($first_pid, @done, $query, $total);
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (time() < $deadline)
{
	my $s = status();
	if ($s->{state} eq 'snapshot' && $s->{table} eq 'big' && $s->{done} > 0)
	{
		$first_pid //= $s->{pid};
		push @done, $s->{done};
		$query = $s->{query} if $s->{query} =~ /^snapshot of table /;
		$total = $s->{total};
		last if $s->{done} >= $rows * 0.3 && @done >= 3;
	}
	last if $s->{has_lsn} eq 't';
	usleep(50_000);
}
ok(defined $first_pid, "status shows state 'snapshot' of table big with rows done");
ok(@done >= 3 && $done[-1] > $done[0], 'snapshot_rows_done grows: ' . join(', ', @done[0 .. ($#done < 4 ? $#done : 4)]));
cmp_ok($total, '>', 0, 'snapshot_rows_total > 0');
ok($total >= $rows * 0.9 && $total <= $rows * 1.1, "snapshot_rows_total is about $rows (pg_class.reltuples): $total");
like($query // '', qr/^snapshot of table big: \d+ of about \d+ rows$/,
	'pg_stat_activity.query of the worker shows the progress');
my ($q_done, $q_total) = ($query // '') =~ /: (\d+) of about (\d+) rows/;
ok(defined $q_total && $q_total >= $rows * 0.9 && $q_total <= $rows * 1.1,
	"pg_stat_activity shows about $rows rows expected");
is( $node->safe_psql('postgres', "SELECT backend_type FROM pg_stat_activity WHERE pid = " . ($first_pid // 0)),
	'pgcdc_drasi source', 'the pid in status is the source worker');
is($node->safe_psql('postgres', "SELECT snapshot_lsn IS NULL FROM pgcdc_drasi.source_progress WHERE source_id = $src"),
	't', 'no snapshot_lsn before the snapshot commits');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgcdc_bigsnap'"),
	1, 'the worker created the slot');
kill9_and_wait_reinit($node, $first_pid);
is($node->safe_psql('postgres', "SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = $src"),
	0, 'nothing of the unfinished snapshot is in the queue');

# 2. The snapshot again, in flat memory.
my ($pid, @samples, $t_start);
$deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
my $finished = 0;
while (time() < $deadline)
{
	my $s = status();
	if ($s->{state} eq 'snapshot' && $s->{pid} != 0 && $s->{pid} != $first_pid)
	{
		$pid //= $s->{pid};
		$t_start //= time();
		my $m = sample_memory($pid);
		push @samples, $m if defined $m;
	}
	if ($s->{has_lsn} eq 't')
	{
		$finished = 1;
		last;
	}
	usleep(200_000);
}
my $duration = defined $t_start ? time() - $t_start : -1;
ok($finished, 'the restarted worker completes the snapshot');
ok(defined $pid, "a new worker took the snapshot again (state 'snapshot')");
ok( $node->log_contains(qr/drops slot "pgcdc_bigsnap" of an unfinished initial snapshot/, $log_offset),
	'the new worker dropped the slot of the unfinished snapshot');
note(sprintf('initial snapshot of %d rows took about %.1f s', $rows, $duration));
cmp_ok(scalar(@samples), '>=', 5, 'memory sampled during the snapshot (' . scalar(@samples) . ' samples)');
wait_streaming($node, $source, desc => 'worker streaming after the snapshot');
my @idle;
for (1 .. 3)
{
	my $m = sample_memory($pid);
	push @idle, $m if defined $m;
	usleep(200_000);
}
ok(@idle == 3, 'idle worker memory sampled');
my $idle = (sort { $a <=> $b } @idle)[0] // 0;
my $peak = (sort { $b <=> $a } @samples)[0] // 0;
note(sprintf('worker memory: idle %.1f MB, during the snapshot first %.1f MB, peak %.1f MB',
		$idle / 1048576, ($samples[0] // 0) / 1048576, $peak / 1048576));
cmp_ok($peak - $idle, '<', $limit, 'worker memory during the snapshot: peak - idle < 64 MB');

catchup($node, $source);
my ($n, $ids, $min, $max, $snap, $xids, $at_lsn) = split /\|/, $node->safe_psql('postgres', qq{
SELECT count(*), count(DISTINCT element_id), min(seq), max(seq),
       count(*) FILTER (WHERE (payload->'metadata'->>'snapshot')::boolean AND op = 'i'),
       count(DISTINCT xid), count(*) FILTER (WHERE lsn = p.snapshot_lsn - 1)
  FROM pgcdc_drasi.events e JOIN pgcdc_drasi.source_progress p USING (source_id)
 WHERE source_id = $src});
is($n, $rows, "$rows events");
is($ids, $rows, 'every row once');
is("$min..$max", "1..$rows", "seq 1..$rows");
is($snap, $rows, 'all are snapshot insert events');
is($xids, 1, 'in one transaction');
is($at_lsn, $rows, "all one byte before the slot's consistent point");
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM big b
  FULL JOIN pgcdc_drasi.events e ON e.source_id = $src AND e.element_id = 'big:' || b.id
 WHERE b.id IS NULL OR e.seq IS NULL
    OR e.payload->'payload'->'after'->'properties'
       IS DISTINCT FROM jsonb_build_object('id', b.id, 'grp', b.grp, 'name', b.name, 'amount', b.amount,
                                          'at', to_char(b.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'))}),
	0, 'every event carries its row');
check_invariants($node, $source, 'after the crash in the snapshot');

# A change after the snapshot is streamed after it.
$node->safe_psql('postgres', 'UPDATE big SET grp = -1 WHERE id = 1');
catchup($node, $source);
is( $node->safe_psql('postgres',
		"SELECT seq || ':' || op || ':' || element_id FROM pgcdc_drasi.events WHERE source_id = $src AND seq > $rows"),
	($rows + 1) . ':u:big:1', 'the stream follows the snapshot');

# 3. bootstrap() of the same table in a backend.
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres'),
		'-c', "SET application_name = 'bs_memory'",
		'-c', 'SELECT pg_sleep(2)',
		'-c', "SELECT count(*) FROM pgcdc_drasi.bootstrap($src)",
	],
	'>', \$out, '2>', \$err);
ok( bs_wait_until($node,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'bs_memory' AND query LIKE '%pg_sleep%'"),
	'backend waiting before the bootstrap() call');
my $bpid = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE application_name = 'bs_memory'");
my $before = sample_memory($bpid);
ok(defined $before, 'backend memory sampled before the call');
ok( bs_wait_until($node,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $bpid AND query LIKE '%bootstrap%'"),
	'backend runs bootstrap()');
my $t0 = time();
my @bsamples;
while (time() < $t0 + $PostgreSQL::Test::Utils::timeout_default)
{
	my $active = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $bpid AND state = 'active' AND query LIKE '%bootstrap%'");
	last unless $active;
	my $m = sample_memory($bpid);
	push @bsamples, $m if defined $m;
	usleep(100_000);
}
$h->finish;
my $bduration = time() - $t0;
is((split /\n/, $out)[-1], $rows, "bootstrap() returned $rows rows");
cmp_ok(scalar(@bsamples), '>=', 3, 'memory sampled while bootstrap() ran (' . scalar(@bsamples) . ' samples)');
my $bpeak = (sort { $b <=> $a } @bsamples)[0] // 0;
note(sprintf('bootstrap() of %d rows took about %.1f s; backend memory before %.1f MB, peak %.1f MB',
		$rows, $bduration, ($before // 0) / 1048576, $bpeak / 1048576));
cmp_ok($bpeak - ($before // 0), '<', $limit, 'backend memory during bootstrap(): peak - before < 64 MB');

$node->stop;
done_testing();
