# 011_runtime_errors.pl: run-time problems of a source show in
# pgcdc_drasi.status and in the server log, and the worker retries with
# exponential backoff instead of crash-looping; the server stays up.
#
# (a) The publication is dropped while the source streams, then its table is
#     written: up to PostgreSQL 17 the walsender fails in pgoutput, the
#     source reports it and retries with doubling delays (on 18 pgoutput
#     skips the missing publication: the change is not published and the
#     source goes on; the backoff is then checked in (b)).  After CREATE PUBLICATION the source must
#     recover: changes written while the publication did not exist are not
#     published (the publication did not exist at that point in the WAL),
#     changes written after the re-creation are, exactly once.
# (b) The replication slot is dropped out from under the source: the source
#     reports that the slot does not exist (and names resync_source);
#     drop_source and create_source
#     recover it.
# (c) A conninfo override that cannot connect: the source reports the
#     connection failure; drop_source works.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use Time::Local qw(timegm);

my $min_ms = 200;
my $max_ms = 3000;

my $node = PostgreSQL::Test::Cluster->new('runtime_errors');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pgcdc_drasi'
pgcdc_drasi.retry_min_interval = '${min_ms}ms'
pgcdc_drasi.retry_max_interval = '${max_ms}ms'
max_worker_processes = 16
log_line_prefix = '%m [%p] %q%a '
});
$node->start;
my ($postmaster_pid) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE t(id int PRIMARY KEY, v text);
CREATE TABLE t2(id int PRIMARY KEY);
CREATE TABLE t3(id int PRIMARY KEY);
CREATE PUBLICATION p FOR TABLE t;
CREATE PUBLICATION p2 FOR TABLE t2;
CREATE PUBLICATION p3 FOR TABLE t3;
});

# Poll a query until it returns $expected, for at most $seconds.
sub poll_until
{
	my ($sql, $expected, $seconds) = @_;
	my $deadline = time() + $seconds;
	my $last = '';
	while (time() < $deadline)
	{
		my ($ret, $out, $err) = $node->psql('postgres', $sql);
		$last = "$out$err";
		return 1 if $ret == 0 && $out eq $expected;
		usleep(100_000);
	}
	diag("poll_until gave up after ${seconds}s on: $sql\nexpected: $expected\nlast: $last");
	return 0;
}

sub status_of
{
	my ($source) = @_;
	return $node->safe_psql('postgres',
		"SELECT * FROM pgcdc_drasi.status WHERE source_id = '$source'",
		extra_params => ['-x']);
}

sub wait_streaming
{
	my ($source, $desc) = @_;
	my $ok = $node->poll_query_until(
		'postgres', qq{
SELECT s.state = 'streaming' AND a.backend_type = 'pgcdc_drasi source'
  FROM pgcdc_drasi.status s JOIN pg_stat_activity a ON a.pid = s.pid
 WHERE s.source_id = '$source'});
	ok($ok, $desc) or diag(status_of($source));
	return $ok;
}

# Log time "2026-01-02 03:04:05.678 UTC" as epoch seconds.
sub log_time
{
	my ($ts) = @_;
	my ($y, $mo, $d, $h, $mi, $s, $ms) =
	  $ts =~ /^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)\.(\d+)$/
	  or die "bad log time $ts";
	return timegm($s, $mi, $h, $d, $mo - 1, $y) + $ms / 1000;
}

# Times of the log lines (from $offset on) whose message matches $re.
sub log_times
{
	my ($re, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my @t;
	while ($log =~ /^(\S+ \S+) \S+ \[\d+\] [^\n]*?$re/mg)
	{
		push @t, log_time($1);
	}
	return @t;
}

sub server_alive
{
	my ($desc) = @_;
	my $pid_now = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
	is($pid_now, $postmaster_pid, "$desc: same postmaster");
	is($node->safe_psql('postgres', 'SELECT 1'), '1', "$desc: server answers");
	ok( !$node->log_contains(
			qr/terminated by signal|server process .* was terminated|all server processes terminated; reinitializing/
		),
		"$desc: no process crashed");
	return;
}

# Backoff: wait for 7 failures of $source (log lines matching $re after
# $offset), then check the gaps between them in the log.  $started matches
# the log line of a run that got going (undef: count the failures); with
# $exact every run of the source failed with $re after $offset.
sub check_backoff
{
	my ($label, $source, $re, $offset, $started, $exact) = @_;
	my $nfail = 7;
	ok( $node->poll_query_until(
			'postgres', qq{
SELECT reconnects >= ${\($nfail - 1)} AND state = 'error'
  FROM pgcdc_drasi.status WHERE source_id = '$source'}),
		"$label the worker was started again at least " . ($nfail - 1) . " times");
	# (A first failure of another kind counts as a restart but not here.)
	for (my $i = 0; $i < 600 && scalar(log_times($re, $offset)) < $nfail; $i++)
	{
		usleep(100_000);
	}
	# reconnects counts the runs after the first.  Between retries (no worker)
	# every finished run has logged its failure; read the status between two
	# identical log counts so that no run started or ended meanwhile.
	my ($reconnects, $nruns);
	for (my $try = 0; $try < 100 && !defined $nruns; $try++)
	{
		my $before = scalar(log_times($re, $offset));
		my $st = $node->safe_psql('postgres',
			"SELECT reconnects, pid IS NULL FROM pgcdc_drasi.status WHERE source_id = '$source'");
		my $after = scalar(log_times($re, $offset));
		my ($rc, $idle) = split /\|/, $st;
		if ($before == $after && $idle eq 't')
		{
			($reconnects, $nruns) = ($rc, $after);
		}
		else
		{
			usleep(20_000);
		}
	}
	if ($exact)
	{
		is($reconnects, $nruns - 1, "$label reconnects counts the restarts ($nruns failed runs in the log)");
	}
	else
	{
		ok(defined $nruns && $reconnects >= $nruns,
			"$label reconnects counts the restarts (" . ($nruns // '?') . " failed runs in the log, and the run the failure ended)");
	}
	my @fail = log_times($re, $offset);
	my @starts = defined $started ? log_times($started, $offset) : @fail;
	ok(scalar(@fail) >= $nfail, "$label at least $nfail failures in the log (got " . scalar(@fail) . ')');
	ok(scalar(grep { $_ < $fail[0] + 3 } @starts) < 15,
		"$label fewer than 15 restarts in the 3 seconds after the first failure ("
		  . scalar(grep { $_ < $fail[0] + 3 } @starts) . ')');
	my @gaps;
	for my $i (1 .. $nfail - 1)
	{
		my $gap_ms = int(($fail[$i] - $fail[ $i - 1 ]) * 1000);
		my $delay = $min_ms * 2**($i - 1);
		$delay = $max_ms if $delay > $max_ms;
		push @gaps, "$gap_ms (delay $delay)";
		ok($gap_ms >= $delay - 50 && $gap_ms <= $delay + 2000,
			"$label failure $i -> " . ($i + 1) . ": ${gap_ms} ms apart, backoff delay $delay ms");
	}
	note("$label gaps between failures in ms: " . join(', ', @gaps));
	return;
}

##############################################################################
# (a) DROP PUBLICATION while the source streams
##############################################################################

my ($ret, $out, $err);

$node->safe_psql('postgres', "SELECT pgcdc_drasi.create_source('s', publication => 'p')");
wait_streaming('s', '(a) source streaming');
$node->safe_psql('postgres', "INSERT INTO t VALUES (1, 'before the drop')");
$node->safe_psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('s', '60s')");
is($node->safe_psql('postgres',
		"SELECT string_agg(element_id || ':' || op, ',' ORDER BY seq) FROM pgcdc_drasi.events WHERE source_id = 's'"),
	't:1:i', '(a) change before the drop published');

# A plain DROP PUBLICATION of a publication a source uses is refused.
($ret, $out, $err) = $node->psql('postgres', 'DROP PUBLICATION p');
isnt($ret, 0, '(a) DROP PUBLICATION of a used publication fails');
like($err, qr/ERROR:  publication "p" is used by pgcdc_drasi source "s"/,
	'(a) DROP PUBLICATION names the source that uses the publication');
like($err, qr/HINT:  Drop the source first with pgcdc_drasi.drop_source\(\)/,
	'(a) DROP PUBLICATION hints at drop_source');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_publication WHERE pubname = 'p'"), '1',
	'(a) the refused drop left the publication in place');

# Event triggers do not fire with session_replication_role = replica: that
# is how the publication can still disappear under a source.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'SET session_replication_role = replica; DROP PUBLICATION p');
$node->safe_psql('postgres', "INSERT INTO t VALUES (2, 'while the publication is missing')");

if ($node->pg_version < 18)
{
	my $pub_error = qr/could not receive data from WAL stream: ERROR:  publication "p" does not exist/;
	ok( $node->poll_query_until(
			'postgres', q{
	SELECT state IN ('error', 'starting', 'connecting', 'streaming')
	   AND last_error LIKE 'could not receive data from WAL stream: ERROR:  publication "p" does not exist%'
	  FROM pgcdc_drasi.status WHERE source_id = 's'}),
		'(a) last_error says the publication does not exist');
	ok( $node->poll_query_until(
			'postgres', "SELECT state = 'error' AND pid IS NULL FROM pgcdc_drasi.status WHERE source_id = 's'"),
		"(a) state 'error' between retries");
	like(
		$node->safe_psql('postgres', "SELECT last_error FROM pgcdc_drasi.status WHERE source_id = 's'"),
		qr/^could not receive data from WAL stream: ERROR:  publication "p" does not exist\s+CONTEXT:  slot "pgcdc_s", output plugin "pgoutput", in the change callback, associated LSN/,
		'(a) last_error names the publication, the slot and the failing change');

	check_backoff('(a)', 's', $pub_error, $offset,
		qr/LOG:  pgcdc_drasi source "s" streaming publication "p"/, 1);
	server_alive('(a) while failing');

	# Re-creating the publication does not help: pgoutput decodes each change
	# with the catalog of its time, where the publication did not exist.
	$node->safe_psql('postgres', 'CREATE PUBLICATION p FOR TABLE t');
	$node->safe_psql('postgres', "INSERT INTO t VALUES (3, 'after the re-creation')");
	my $offset2 = -s $node->logfile;
	my $still_failing = 0;
	for (my $i = 0; $i < 300 && !$still_failing; $i++)
	{
		$still_failing = scalar(log_times($pub_error, $offset2)) >= 2;
		usleep(100_000) unless $still_failing;
	}
	ok($still_failing, '(a) after CREATE PUBLICATION the source still fails on the change written in between');

	# resync_source skips the WAL that cannot be decoded and takes a new
	# snapshot of every table: the consumer gets the current state, then the
	# stream, with nothing lost and nothing repeated after the snapshot.
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.resync_source('s')");
	$node->safe_psql('postgres', "INSERT INTO t VALUES (4, 'after the resync')");
	($ret, $out, $err) = $node->psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('s', '60s')");
	is($ret, 0, '(a) after resync_source the source catches up') or diag($err);
	# The row inserted right after the resync is in the snapshot or streamed
	# after it, depending on when the restarted worker takes the snapshot;
	# either way once, after the clearing event.
	like( $node->safe_psql('postgres', q{
	SELECT string_agg(coalesce(element_id, '') || ':' || op || ':' || coalesce(payload->'metadata'->>'snapshot', 'stream'), ',' ORDER BY seq)
	  FROM pgcdc_drasi.events WHERE source_id = 's'}),
		qr/^t:1:i:stream,:t:true,t:1:i:true,t:2:i:true,t:3:i:true,t:4:i:(true|stream)$/,
		'(a) resync_source: a clearing event, then the snapshot of every row, then the stream; the row inserted right after the resync once'
	);
	$node->safe_psql('postgres', "INSERT INTO t VALUES (5, 'streamed')");
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('s', '60s')");
	is( $node->safe_psql('postgres', q{
	SELECT element_id || ':' || op || ':' || coalesce(payload->'metadata'->>'snapshot', 'stream')
	  FROM pgcdc_drasi.events WHERE source_id = 's' ORDER BY seq DESC LIMIT 1}),
		't:5:i:stream', '(a) after the resync, changes stream again');
	is( $node->safe_psql('postgres', q{
	SELECT s.state || ',' || a.backend_type
	  FROM pgcdc_drasi.status s LEFT JOIN pg_stat_activity a ON a.pid = s.pid
	 WHERE s.source_id = 's'}),
		'streaming,pgcdc_drasi source',
		'(a) after resync_source the source streams again');
	server_alive('(a) after resync_source');
}
else
{
	# PostgreSQL 18's pgoutput skips a publication that is missing at a
	# point in the WAL (a WARNING): the change written meanwhile is not
	# published, the source goes on, and after CREATE PUBLICATION the next
	# change is published once.
	ok( $node->wait_for_log(
			qr/WARNING:  skipped loading publication "p"/, $offset),
		'(a) PostgreSQL 18: the walsender skips the missing publication');
	$node->safe_psql('postgres', 'CREATE PUBLICATION p FOR TABLE t');
	$node->safe_psql('postgres', "INSERT INTO t VALUES (3, 'after the re-creation')");
	($ret, $out, $err) = $node->psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('s', '60s')");
	is($ret, 0, '(a) PostgreSQL 18: the source catches up') or diag($err);
	is( $node->safe_psql('postgres',
			"SELECT string_agg(element_id || ':' || op, ',' ORDER BY seq) FROM pgcdc_drasi.events WHERE source_id = 's'"
		),
		't:1:i,t:3:i',
		'(a) PostgreSQL 18: the change written while the publication was missing is not published, the next one is, once');
	is( $node->safe_psql('postgres',
			"SELECT state || ',' || reconnects || ',' || (last_error IS NULL) FROM pgcdc_drasi.status WHERE source_id = 's'"),
		'streaming,0,true', '(a) PostgreSQL 18: the source never failed');
	server_alive('(a) PostgreSQL 18');
}

is($node->psql('postgres', "SELECT pgcdc_drasi.drop_source('s')"), 0, '(a) drop_source works');

##############################################################################
# (b) the slot is dropped out from under the source
##############################################################################

$node->safe_psql('postgres', "SELECT pgcdc_drasi.create_source('s2', publication => 'p2')");
wait_streaming('s2', '(b) source streaming');
$node->safe_psql('postgres', 'INSERT INTO t2 VALUES (1)');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('s2', '60s')");

my $offset_b = -s $node->logfile;
my ($worker, $walsender) = split /\|/, $node->safe_psql(
	'postgres', q{
SELECT s.pid, a.pid FROM pgcdc_drasi.status s, pg_stat_activity a
 WHERE s.source_id = 's2' AND a.backend_type = 'walsender' AND a.application_name = 'pgcdc_drasi:s2'});
like($walsender, qr/^\d+$/, '(b) walsender of the source found');

# Terminate the walsender and the worker, then drop the slot before the
# worker takes it again (retrying while it is active).
($ret, $out, $err) = $node->psql(
	'postgres', qq{
SELECT pg_terminate_backend($walsender), pg_terminate_backend($worker);
DO \$\$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '60s';
BEGIN
	LOOP
		BEGIN
			PERFORM pg_drop_replication_slot('pgcdc_s2');
			EXIT;
		EXCEPTION WHEN object_in_use THEN
			IF clock_timestamp() > deadline THEN
				RAISE;
			END IF;
			PERFORM pg_sleep(0.005);
		END;
	END LOOP;
END
\$\$;
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgcdc_s2';});
is($ret, 0, '(b) slot dropped') or diag($err);
is((split /\n/, $out)[-1], '0', '(b) the slot is gone');

ok( $node->poll_query_until(
		'postgres', q{
SELECT state = 'error' AND pid IS NULL
   AND last_error = 'replication slot "pgcdc_s2" of source "s2" does not exist'
  FROM pgcdc_drasi.status WHERE source_id = 's2'}),
	'(b) last_error says the replication slot does not exist') or diag(status_of('s2'));
is( $node->safe_psql(
		'postgres',
		"SELECT last_error_detail || E'\\n' || last_error_hint FROM pgcdc_drasi.status WHERE source_id = 's2'"),
	qq{The slot was dropped, or the cluster was restored or upgraded without it.
Call pgcdc_drasi.resync_source('s2') to create the slot and take a new snapshot of every table.},
	'(b) the detail says why, the hint names resync_source');
ok( $node->log_contains(
		qr/ERROR:  replication slot "pgcdc_s2" of source "s2" does not exist/),
	'(b) the failure is in the server log');
# The backoff between failures (checked in (a) up to PostgreSQL 17, where a
# missing publication fails for good).
check_backoff('(b)', 's2', qr/ERROR:  replication slot "pgcdc_s2" of source "s2" does not exist/,
	$offset_b, undef, 0)
  if $node->pg_version >= 18;
$node->safe_psql('postgres', 'INSERT INTO t2 VALUES (2)');
my $r1 = $node->safe_psql('postgres', "SELECT reconnects FROM pgcdc_drasi.status WHERE source_id = 's2'");
ok( $node->poll_query_until(
		'postgres', "SELECT reconnects > $r1 AND state = 'error' FROM pgcdc_drasi.status WHERE source_id = 's2'"),
	'(b) the worker keeps retrying');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = 'pgcdc_drasi:s2'"
	),
	'0',
	'(b) no walsender streams for the source');
server_alive('(b) slot missing');

# Recovery as documented: drop the source and create it again (with the
# initial snapshot, the default, it starts with the rows that exist).
is($node->psql('postgres', "SELECT pgcdc_drasi.drop_source('s2')"), 0,
	'(b) drop_source works while the slot is missing');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pgcdc_drasi.sources WHERE source_id = 's2'"),
	'0', '(b) source row removed');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.create_source('s2', publication => 'p2')");
wait_streaming('s2', '(b) source streaming again after create_source');
$node->safe_psql('postgres', 'INSERT INTO t2 VALUES (3)');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('s2', '60s')");
is($node->safe_psql('postgres',
		"SELECT string_agg(element_id || ':' || op, ',' ORDER BY seq) FROM pgcdc_drasi.events WHERE source_id = 's2'"),
	't2:1:i,t2:2:i,t2:3:i',
	'(b) the re-created source publishes its initial snapshot (rows 1 and 2), then the change after its creation');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.drop_source('s2')");

##############################################################################
# (c) a conninfo that cannot connect
##############################################################################

$offset = -s $node->logfile;
$node->safe_psql('postgres',
	"SELECT pgcdc_drasi.create_source('bad', publication => 'p3', conninfo => 'host=/nonexistent port=1')");
ok( $node->poll_query_until(
		'postgres', q{
SELECT state = 'error' AND pid IS NULL
   AND last_error LIKE 'could not open the replication connection: connection to server on socket "/nonexistent/.s.PGSQL.1" failed: No such file or directory%'
  FROM pgcdc_drasi.status WHERE source_id = 'bad'}),
	'(c) last_error shows the connection failure') or diag(status_of('bad'));
ok( $node->poll_query_until(
		'postgres', "SELECT reconnects >= 3 AND state = 'error' FROM pgcdc_drasi.status WHERE source_id = 'bad'"),
	'(c) the worker keeps retrying');
ok($node->log_contains(
		qr/ERROR:  could not open the replication connection: connection to server on socket "\/nonexistent\/.s.PGSQL.1" failed/,
		$offset),
	'(c) the failure is in the server log');
my @cfail = log_times(qr/ERROR:  could not open the replication connection/, $offset);
ok(scalar(grep { $_ < $cfail[0] + 3 } @cfail) < 15,
	'(c) fewer than 15 attempts in the 3 seconds after the first ('
	  . scalar(grep { $_ < $cfail[0] + 3 } @cfail) . ')');
server_alive('(c) connection failing');

is($node->psql('postgres', "SELECT pgcdc_drasi.drop_source('bad')"), 0, '(c) drop_source works');
is( $node->safe_psql(
		'postgres', q{
SELECT (SELECT count(*) FROM pgcdc_drasi.sources) || ',' ||
       (SELECT count(*) FROM pgcdc_drasi.status) || ',' ||
       (SELECT count(*) FROM pg_replication_slots) || ',' ||
       (SELECT count(*) FROM pg_replication_origin)}),
	'0,0,0,0',
	'(c) no source, status row, slot or origin left');
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source'"),
	'(c) no source worker left');
server_alive('end');

$node->stop;
done_testing();
