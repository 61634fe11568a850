# 070_redis_target.pl: a target delivers a source's events to a real Redis
# stream exactly once, in seq order, through failures:
#
#   1. steady delivery: the stream holds each queued event once, entry id
#      "<seq>-0", field data = CloudEvent {"data": [<payload>], ...};
#   2. kill -9 of the delivery worker in the middle of a large backlog (the
#      server reinitialises): afterwards every event is there exactly once;
#   3. Redis shut down, then Redis killed (kill -9) and down for 10 s while
#      changes go on: target_status shows the error; once Redis is back the
#      target catches up exactly once;
#   4. a PostgreSQL immediate restart in the middle of a backlog.
#
# The test starts its own redis-server on a free port with a temporary
# directory and appendfsync always, and stops it at the end.  A second
# consumer that never acknowledges keeps every event in the queue, so the
# stream is compared with all of it.

use strict;
use warnings;

use File::Spec;
use JSON::PP qw(decode_json);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;
use PgcdcRedis;

if (system('command -v redis-server >/dev/null 2>&1') != 0)
{
	BAIL_OUT('redis-server is not installed (scripts/install-deps.sh installs it)');
}

# ------------------------------------------------------------------------
# Redis, started by the test
# ------------------------------------------------------------------------
my $stream = 'rt-stream';

redis_start();
my $rport = redis_port();

# ------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------
my $node = cdc_node(
	'redis', restart_after_crash => 1, extra_conf => q{
pgcdc_drasi.retry_max_interval = '1s'
});
$node->safe_psql(
	'postgres', q{
CREATE TABLE rt_t (id bigint PRIMARY KEY, v text);
CREATE PUBLICATION rt_pub FOR TABLE rt_t;
});
create_source($node, 'rt', 'rt_pub');
wait_streaming($node, 'rt');
$node->safe_psql('postgres',
	    "SELECT pgcdc_drasi.create_consumer('keep', 'rt');"
	  . "SELECT pgcdc_drasi.create_target('rt', 'rt', url => 'redis://127.0.0.1:$rport/0', "
	  . "options => '{\"stream\": \"$stream\", \"batch_size\": 200}')");

my $next_id = 1;

# Insert $n rows in transactions of $per rows.
sub insert_rows
{
	my ($n, $per) = @_;
	while ($n > 0)
	{
		my $k = $n < $per ? $n : $per;
		my $last = $next_id + $k - 1;
		$node->safe_psql('postgres',
			"INSERT INTO rt_t SELECT g, 'v' || g FROM generate_series($next_id, $last) g");
		$next_id = $last + 1;
		$n -= $k;
	}
	return;
}

sub last_seq
{
	return $node->safe_psql('postgres',
		"SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'rt'");
}

sub target_row
{
	return $node->safe_psql('postgres',
		"SELECT state, delivered_seq, lag_events, retries, reconnects, duplicates_skipped, "
		  . "coalesce(last_error, '') FROM pgcdc_drasi.target_status WHERE target_id = 'rt'");
}

# Wait until the target delivered everything the source published, then
# compare the stream with the queue: each event once, in seq order.
sub check_stream
{
	my ($desc) = @_;
	catchup($node, 'rt');
	my $last = last_seq();
	ok( $node->poll_query_until(
			'postgres',
			"SELECT delivered_seq = $last FROM pgcdc_drasi.target_status WHERE target_id = 'rt'"),
		"$desc: the target delivered up to seq $last")
	  or diag('target_status: ' . target_row());

	my %payload;
	foreach my $line (
		split /\n/,
		$node->safe_psql(
			'postgres',
			"SELECT seq || ' ' || payload::text FROM pgcdc_drasi.events WHERE source_id = 'rt' ORDER BY seq"
		))
	{
		my ($seq, $json) = split / /, $line, 2;
		$payload{$seq} = $json;
	}
	is(scalar(keys %payload), $last, "$desc: the queue holds all $last events");

	my @lines = split /\n/, rcli('XRANGE', $stream, '-', '+');
	my $entries = scalar(@lines) / 3;
	my $bad = 0;
	for (my $i = 0; $i < $entries; $i++)
	{
		my ($id, $field, $value) = @lines[ 3 * $i .. 3 * $i + 2 ];
		my $seq = $i + 1;
		my $want = qq({"data": [$payload{$seq}], "id": "rt:$seq", );
		if ($id ne "$seq-0" || $field ne 'data' || index($value, $want) != 0)
		{
			diag("$desc: entry $i is $id $field " . substr($value, 0, 200) . ", expected $seq-0 data $want")
			  if $bad++ < 3;
		}
	}
	is($entries, $last, "$desc: the stream has $last entries");
	is($bad, 0, "$desc: entry n is seq n with its payload, each exactly once");
	is(rcli('XLEN', $stream), $last, "$desc: XLEN is $last");
	return;
}

# ------------------------------------------------------------------------
# 1. Steady delivery
# ------------------------------------------------------------------------
insert_rows(500, 50);
$node->safe_psql('postgres', "UPDATE rt_t SET v = 'u' WHERE id <= 10; DELETE FROM rt_t WHERE id > 490");
check_stream('steady');
my $first = rcli('XRANGE', $stream, '1-0', '1-0');
like($first, qr/"specversion": "1.0"/, 'entries are CloudEvents');
like($first, qr/"table": "node"/, 'events carry payload.source.table');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi target'"),
	'1', 'one delivery worker, visible in pg_stat_activity');

# ------------------------------------------------------------------------
# 2. kill -9 of the delivery worker mid-backlog
# ------------------------------------------------------------------------
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_target('rt')");
ok($node->poll_query_until('postgres',
		"SELECT pid IS NULL FROM pgcdc_drasi.target_status WHERE target_id = 'rt'"),
	'paused: no worker');
insert_rows(40000, 20000);
catchup($node, 'rt');
my $before = $node->safe_psql('postgres', "SELECT delivered_seq FROM pgcdc_drasi.target_status");
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_target('rt')");
ok( $node->poll_query_until(
		'postgres',
		"SELECT delivered_seq > $before + 2000 FROM pgcdc_drasi.target_status WHERE target_id = 'rt'"),
	'delivery of the backlog is under way');
my $tpid = $node->safe_psql('postgres',
	"SELECT pid FROM pgcdc_drasi.target_status WHERE target_id = 'rt'");
my $mid = $node->safe_psql('postgres', "SELECT delivered_seq FROM pgcdc_drasi.target_status");
ok($mid < last_seq(), "killed mid-backlog (delivered $mid of " . last_seq() . ')');
kill9_and_wait_reinit($node, $tpid);
check_stream('after kill -9 of the delivery worker');
note('after the kill: ' . target_row());

# ------------------------------------------------------------------------
# 3. Redis shut down, then killed and down for 10 s
# ------------------------------------------------------------------------
redis_shutdown();
insert_rows(300, 30);
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'error' AND last_error LIKE '%Redis%' FROM pgcdc_drasi.target_status WHERE target_id = 'rt'"),
	'Redis down: target_status shows the error')
  or diag('target_status: ' . target_row());
redis_start();
check_stream('after a Redis restart');

insert_rows(20000, 20000);
usleep(300_000);
redis_kill9();
my $t0 = time();
insert_rows(500, 50);
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'error' AND last_error IS NOT NULL AND retries > 0 FROM pgcdc_drasi.target_status WHERE target_id = 'rt'"),
	'Redis killed: target_status shows the error and counts retries')
  or diag('target_status: ' . target_row());
sleep(1) while time() - $t0 < 10;
redis_start();
check_stream('after Redis was killed and down for 10 s');
my ($state, undef, undef, $retries, $reconnects) = split /\|/, target_row();
is($state, 'streaming', 'the target streams again');
ok($reconnects > 0, "reconnects are counted ($reconnects)");

# ------------------------------------------------------------------------
# 4. PostgreSQL immediate restart mid-backlog
# ------------------------------------------------------------------------
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_target('rt')");
ok($node->poll_query_until('postgres',
		"SELECT pid IS NULL FROM pgcdc_drasi.target_status WHERE target_id = 'rt'"),
	'paused again');
insert_rows(30000, 30000);
catchup($node, 'rt');
$before = $node->safe_psql('postgres', "SELECT delivered_seq FROM pgcdc_drasi.target_status");
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_target('rt')");
ok( $node->poll_query_until(
		'postgres',
		"SELECT delivered_seq > $before + 1000 FROM pgcdc_drasi.target_status WHERE target_id = 'rt'"),
	'delivery under way before the immediate stop');
$node->stop('immediate');
$node->start;
wait_recovered($node);
check_stream('after an immediate restart of PostgreSQL');
note('at the end: ' . target_row());

# The password never reaches the log.
$node->safe_psql('postgres',
	"SELECT pgcdc_drasi.alter_target('rt', url => 'redis://:hunter2secret\@127.0.0.1:$rport/0')");
ok( $node->poll_query_until(
		'postgres',
		"SELECT last_error LIKE '%AUTH%' FROM pgcdc_drasi.target_status WHERE target_id = 'rt'"),
	'a wrong password is an error in target_status')
  or diag('target_status: ' . target_row());
# (log_statement = all logs the alter_target statement itself: left out)
my $log = join("\n", grep { !/statement:|STATEMENT:/ } split(/\n/, slurp_file($node->logfile)));
unlike($log, qr/hunter2secret/, 'the password is not in the server log (but for statements)');
unlike($node->safe_psql('postgres', 'SELECT url FROM pgcdc_drasi.target_status'),
	qr/hunter2secret/, 'nor in target_status');


# ------------------------------------------------------------------------
# 5. A source and its target created in one transaction: the stream begins
#    with the initial snapshot, then the changes (README "Into Drasi")
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
CREATE TABLE rs_t (id bigint PRIMARY KEY, v text);
INSERT INTO rs_t VALUES (1, 'a'), (2, 'b'), (3, 'c');
CREATE PUBLICATION rs_pub FOR TABLE rs_t;
});
$node->safe_psql('postgres',
	    "BEGIN; SELECT pgcdc_drasi.create_source('rs', publication => 'rs_pub');"
	  . "SELECT pgcdc_drasi.create_target('rs', 'rs', url => 'redis://127.0.0.1:$rport/0', "
	  . "options => '{\"stream\": \"rs-stream\", \"start_at\": \"earliest\"}'); COMMIT;");
wait_streaming($node, 'rs');
$node->safe_psql('postgres', "UPDATE rs_t SET v = 'b2' WHERE id = 2");
catchup($node, 'rs');
ok( $node->poll_query_until(
		'postgres',
		"SELECT lag_events = 0 AND delivered_seq = 4 FROM pgcdc_drasi.target_status WHERE target_id = 'rs'"),
	'snapshot and change delivered')
  or diag('target_status: ' . $node->safe_psql('postgres', "SELECT * FROM pgcdc_drasi.target_status WHERE target_id = 'rs'"));
{
	my @lines = split /\n/, rcli('XRANGE', 'rs-stream', '-', '+');
	my @got;
	for (my $i = 0; $i + 2 < @lines; $i += 3)
	{
		my $ev = decode_json($lines[ $i + 2 ])->{data}[0];
		push @got,
		  join(' ',
			$lines[$i], $ev->{op}, $ev->{payload}{after}{id},
			$ev->{payload}{after}{properties}{v},
			($ev->{metadata}{snapshot} ? 'snapshot' : 'change'));
	}
	is( join("\n", @got),
		join("\n",
			'1-0 i rs_t:1 a snapshot',
			'2-0 i rs_t:2 b snapshot',
			'3-0 i rs_t:3 c snapshot',
			'4-0 u rs_t:2 b2 change'),
		'the stream starts with the initial snapshot, then the change');
}

# ------------------------------------------------------------------------
# 6. A foreign-key relation reaches the stream as a "rel" event with its
#    ends, the layout Drasi's platform source reads
# ------------------------------------------------------------------------
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source('rs')");
$node->safe_psql(
	'postgres', q{
CREATE TABLE rs_c (id int PRIMARY KEY);
CREATE TABLE rs_o (id int PRIMARY KEY, c_id int REFERENCES rs_c);
ALTER PUBLICATION rs_pub ADD TABLE rs_c, rs_o;
SELECT pgcdc_drasi.set_relations('rs', 'foreign_keys');
SELECT pgcdc_drasi.resume_source('rs');
});
wait_streaming($node, 'rs');
$node->safe_psql('postgres', "INSERT INTO rs_c VALUES (1); INSERT INTO rs_o VALUES (7, 1)");
catchup($node, 'rs');
ok( $node->poll_query_until(
		'postgres',
		"SELECT lag_events = 0 AND delivered_seq = 7 FROM pgcdc_drasi.target_status WHERE target_id = 'rs'"),
	'the relation events are delivered');
{
	my @lines = split /\n/, rcli('XRANGE', 'rs-stream', '5-0', '+');
	my @got;
	for (my $i = 0; $i + 2 < @lines; $i += 3)
	{
		my $ev = decode_json($lines[ $i + 2 ])->{data}[0];
		my $el = $ev->{payload}{after};
		push @got, join(' ', $lines[$i], $ev->{op}, $ev->{payload}{source}{table}, $el->{id},
			@{ $el->{labels} }, $el->{startId} // '-', $el->{endId} // '-');
	}
	is( join("\n", @got),
		join("\n",
			'5-0 i node rs_c:1 rs_c - -',
			'6-0 i node rs_o:7 rs_o - -',
			'7-0 i rel rs_o->C:7 C rs_o:7 rs_c:1'),
		'a relation is a "rel" event with startId and endId in the stream');
}
$node->safe_psql('postgres', "SELECT pgcdc_drasi.drop_target('rs')");

$node->safe_psql('postgres', "SELECT pgcdc_drasi.drop_target('rt')");
$node->stop;
redis_shutdown();
done_testing();
