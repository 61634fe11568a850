# 072_redis_direct.pl: a source with the redis sink writes its events
# straight from the stream to a real Redis stream, with no queue rows,
# exactly once and in commit order, through failures:
#
#   1. steady writing: entry ids are "<commit LSN>-<txIndex>", rising
#      strictly; data is the CloudEvent of the event;
#   2. kill -9 of the source worker in the middle of a large backlog (the
#      server reinitialises);
#   3. Redis shut down and started again; then Redis killed (kill -9) and
#      down for 30 s while changes go on: status shows the error;
#   4. a PostgreSQL immediate restart in the middle of a backlog;
#   6. Redis losing acknowledged entries: a WARNING and status say so.
#
# The oracle is an ordinary queue-sink source on the same publication:
# after each step the stream must hold exactly its events (same commit
# LSN, txIndex, op and element), in the same order.  The WAL the two
# sinks write per event is measured and printed (information only).
#
# The test starts its own redis-server on a free port with a temporary
# directory and appendfsync always, and stops it at the end.

use strict;
use warnings;

use File::Spec;
use JSON::XS qw(decode_json);
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
my $stream = 'dr-stream';

redis_start();
my $rport = redis_port();

# ------------------------------------------------------------------------
# PostgreSQL: the oracle "dq" (queue) and the direct source "dr"
# ------------------------------------------------------------------------
my $node = cdc_node(
	'direct', restart_after_crash => 1, extra_conf => q{
pgcdc_drasi.retry_max_interval = '1s'
});
$node->safe_psql(
	'postgres', q{
CREATE TABLE d_t (id bigint PRIMARY KEY, v text);
CREATE PUBLICATION d_pub FOR TABLE d_t;
});
create_source($node, 'dq', 'd_pub');
$node->safe_psql('postgres',
	    "SELECT pgcdc_drasi.create_source('dr', publication => 'd_pub', sink => 'redis', "
	  . "enabled => false, bootstrap => false);"
	  . "SELECT pgcdc_drasi.set_source_redis('dr', 'redis://127.0.0.1:$rport/0', "
	  . "'{\"stream\": \"$stream\", \"batch_size\": 200}');"
	  . "SELECT pgcdc_drasi.resume_source('dr');");
wait_streaming($node, 'dq');
wait_streaming($node, 'dr');

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
			"INSERT INTO d_t SELECT g, 'v' || g FROM generate_series($next_id, $last) g");
		$next_id = $last + 1;
		$n -= $k;
	}
	return;
}

# Insert $n rows in one-row transactions, through one session.
sub insert_singles
{
	my ($n) = @_;
	my $sql = '';
	for (my $i = 0; $i < $n; $i++, $next_id++)
	{
		$sql .= "INSERT INTO d_t VALUES ($next_id, 'v$next_id');\n";
	}
	$node->safe_psql('postgres', $sql);
	return;
}

sub dr_row
{
	return $node->safe_psql('postgres',
		"SELECT state, events_published, reconnects, coalesce(last_error, '') "
		  . "FROM pgcdc_drasi.status WHERE source_id = 'dr'");
}

my $canonical = JSON::XS->new->canonical;

# What identifies an event in both sinks: commit LSN, txIndex, op, element.
sub event_key
{
	my ($ev) = @_;
	my $el = $ev->{payload}{after} // $ev->{payload}{before};
	return join(' ',
		$ev->{payload}{source}{lsn}, $ev->{metadata}{txIndex},
		$ev->{op}, $canonical->encode($el));
}

# Wait until both sources published everything, then compare the stream
# with the oracle's queue: each event once, in commit order.
sub check_stream
{
	my ($desc) = @_;
	catchup($node, 'dq');
	catchup($node, 'dr');

	my @want = map { event_key(decode_json($_)) } split /\n/,
	  $node->safe_psql('postgres',
		"SELECT payload::text FROM pgcdc_drasi.events WHERE source_id = 'dq' ORDER BY seq");

	my @lines = split /\n/, rcli('XRANGE', $stream, '-', '+');
	my $entries = scalar(@lines) / 3;
	my ($bad, $bad_id, $bad_order) = (0, 0, 0);
	my @prev = (-1, -1);
	for (my $i = 0; $i < $entries; $i++)
	{
		my ($id, $field, $value) = @lines[ 3 * $i .. 3 * $i + 2 ];
		my $ce = decode_json($value);
		my $ev = $ce->{data}[0];
		my $got = event_key($ev);
		my ($ms, $sq) = split /-/, $id;
		$bad_order++
		  unless $ms > $prev[0] || ($ms == $prev[0] && $sq > $prev[1]);
		@prev = ($ms, $sq);
		$bad_id++
		  unless $field eq 'data'
		  && $ms == $ev->{payload}{source}{lsn}
		  && $sq == $ev->{metadata}{txIndex}
		  && $ce->{id} eq "dr:$id"
		  && $ce->{specversion} eq '1.0';
		if (!defined $want[$i] || $got ne $want[$i])
		{
			diag("$desc: entry $i ($id) is $got, expected " . ($want[$i] // 'nothing'))
			  if $bad++ < 3;
		}
	}
	is($entries, scalar(@want), "$desc: the stream has the oracle's " . scalar(@want) . ' events');
	is($bad, 0, "$desc: entry n is the oracle's event n, each exactly once");
	is($bad_id, 0, "$desc: each id is <commit LSN>-<txIndex> of its event");
	is($bad_order, 0, "$desc: ids rise strictly");
	is( $node->safe_psql('postgres',
			"SELECT (SELECT count(*) FROM pgcdc_drasi.queue_events WHERE source_id = 'dr') + "
			  . "(SELECT count(*) FROM pgcdc_drasi.queue_transactions WHERE source_id = 'dr')"),
		'0', "$desc: no queue rows for the direct source");
	return;
}

# ------------------------------------------------------------------------
# 1. Steady writing
# ------------------------------------------------------------------------
insert_rows(500, 50);
$node->safe_psql('postgres',
	"UPDATE d_t SET v = 'u' WHERE id <= 10; DELETE FROM d_t WHERE id > 490");
check_stream('steady');
like(rcli('XRANGE', $stream, '-', '+', 'COUNT', '1'), qr/"source": "pgcdc_drasi\/dr"/,
	'entries are CloudEvents of the platform source layout');
is($node->safe_psql('postgres', "SELECT sink FROM pgcdc_drasi.status WHERE source_id = 'dr'"),
	'redis', 'status shows the redis sink');

# ------------------------------------------------------------------------
# 2. kill -9 of the source worker mid-backlog (large transactions, which
#    the direct source receives whole, after their commit)
# ------------------------------------------------------------------------
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source('dr')");
ok($node->poll_query_until('postgres',
		"SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = 'dr'"),
	'paused: no worker');
my $xlen0 = rcli('XLEN', $stream);
insert_rows(40000, 20000);
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source('dr')");
my $dpid = wait_streaming($node, 'dr');
my $mid = 0;
for (my $i = 0; $i < 3000; $i++)
{
	$mid = rcli('XLEN', $stream);
	last if $mid > $xlen0 + 2000;
	usleep(10_000);
}
ok($mid > $xlen0 && $mid < $xlen0 + 40000, "killed mid-backlog ($mid entries of " . ($xlen0 + 40000) . ')');
kill9_and_wait_reinit($node, $dpid);
wait_streaming($node, 'dr');
check_stream('after kill -9 of the source worker');

# ------------------------------------------------------------------------
# 3. Redis shut down and started; then killed and down for 30 s
# ------------------------------------------------------------------------
redis_shutdown();
insert_rows(300, 30);
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'error' AND last_error IS NOT NULL FROM pgcdc_drasi.status WHERE source_id = 'dr'"),
	'Redis down: status shows the error')
  or diag('status: ' . dr_row());
redis_start();
check_stream('after a Redis restart');
like(dr_row(), qr/^streaming\|/, 'the source streams again');

insert_rows(20000, 20000);
usleep(300_000);
redis_kill9();
my $t0 = time();
insert_rows(500, 50);
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'error' AND last_error IS NOT NULL FROM pgcdc_drasi.status WHERE source_id = 'dr'"),
	'Redis killed: status shows the error')
  or diag('status: ' . dr_row());
# Waiting for Redis, the worker keeps its local transaction open, but it
# must not hold back the database's xmin horizon meanwhile (sampled over
# several retries).
my @xmins;
for (1 .. 10)
{
	push @xmins, $node->safe_psql('postgres',
		"SELECT coalesce(backend_xmin::text, 'none') FROM pg_stat_activity "
		  . "WHERE pid = (SELECT pid FROM pgcdc_drasi.status WHERE source_id = 'dr')");
	usleep(300_000);
}
is(join(',', @xmins), join(',', ('none') x 10),
	'waiting for Redis, the worker holds no xmin');
sleep(1) while time() - $t0 < 30;
redis_start();
check_stream('after Redis was killed and down for 30 s');
my ($state, undef, $reconnects) = split /\|/, dr_row();
is($state, 'streaming', 'the source streams again');
ok($reconnects > 0, "reconnects are counted ($reconnects)");

# ------------------------------------------------------------------------
# 4. PostgreSQL immediate restart mid-backlog
# ------------------------------------------------------------------------
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source('dr')");
ok($node->poll_query_until('postgres',
		"SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = 'dr'"),
	'paused again');
$xlen0 = rcli('XLEN', $stream);
insert_rows(30000, 30000);
insert_singles(300);
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source('dr')");
for (my $i = 0; $i < 3000; $i++)
{
	$mid = rcli('XLEN', $stream);
	last if $mid > $xlen0 + 1000;
	usleep(10_000);
}
ok($mid > $xlen0, "writing under way before the immediate stop ($mid entries)");
$node->stop('immediate');
$node->start;
wait_recovered($node);
check_stream('after an immediate restart of PostgreSQL');

# ------------------------------------------------------------------------
# 5. WAL per event of each sink (information, not a pass/fail figure):
#    changes made while both sources are paused, then each drains alone
# ------------------------------------------------------------------------
$node->safe_psql('postgres',
	"SELECT pgcdc_drasi.pause_source('dr'); SELECT pgcdc_drasi.pause_source('dq')");
ok($node->poll_query_until('postgres',
		"SELECT count(pid) = 0 FROM pgcdc_drasi.status WHERE source_id IN ('dq', 'dr')"),
	'both paused');
my $n_wal = 2000;
my $lsn_a = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
insert_singles($n_wal);
my $lsn_b = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source('dr')");
wait_streaming($node, 'dr');
catchup($node, 'dr');
my $lsn_c = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source('dq')");
wait_streaming($node, 'dq');
catchup($node, 'dq');
my $lsn_d = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my ($w_src, $w_dr, $w_dq) = split /\|/, $node->safe_psql('postgres',
	"SELECT pg_wal_lsn_diff('$lsn_b', '$lsn_a'), pg_wal_lsn_diff('$lsn_c', '$lsn_b'), "
	  . "pg_wal_lsn_diff('$lsn_d', '$lsn_c')");
note(sprintf('WAL per event (%d one-row transactions): source %.1f B, redis sink %.1f B, '
	  . 'queue sink %.1f B (redis/queue %.2f%%)',
	$n_wal, $w_src / $n_wal, $w_dr / $n_wal, $w_dq / $n_wal, 100 * $w_dr / ($w_dq || 1)));
check_stream('after the measurement');

# ------------------------------------------------------------------------
# 6. Redis loses acknowledged entries (here the stream is deleted, then
#    Redis restarted): at its next connection the worker sees the stream's
#    last id go back, says so in the log and in status, and goes on
# ------------------------------------------------------------------------
my $top_before = (split /\n/, rcli('XREVRANGE', $stream, '+', '-', 'COUNT', '1'))[0];
my $log_offset = -s $node->logfile;
rcli('DEL', $stream);
redis_shutdown();
redis_start();
insert_rows(3, 3);
ok( $node->wait_for_log(
		qr/WARNING:  Redis stream "$stream" of source "dr" went back from id \Q$top_before\E to 0-0/,
		$log_offset),
	'the loss is logged as a WARNING, with the ids');
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'streaming' AND last_error LIKE 'Redis stream \"$stream\" of source \"dr\" went back from id %' "
		  . "FROM pgcdc_drasi.status WHERE source_id = 'dr'"),
	'status shows it as the last error, and the source streams')
  or diag('status: ' . dr_row());
catchup($node, 'dr');
is(rcli('XLEN', $stream), '3', 'the next events are written after the loss');

# ------------------------------------------------------------------------
# 7. The password never reaches the log nor status
# ------------------------------------------------------------------------
$node->safe_psql('postgres',
	"SELECT pgcdc_drasi.set_source_redis('dr', 'redis://:hunter2secret\@127.0.0.1:$rport/0')");
insert_rows(1, 1);
ok( $node->poll_query_until(
		'postgres',
		"SELECT last_error LIKE '%AUTH%' FROM pgcdc_drasi.status WHERE source_id = 'dr'"),
	'a wrong password is an error in status')
  or diag('status: ' . dr_row());
my $log = join("\n", grep { !/statement:|STATEMENT:/ } split(/\n/, slurp_file($node->logfile)));
unlike($log, qr/hunter2secret/, 'the password is not in the server log (but for statements)');
unlike($node->safe_psql('postgres', "SELECT row(s.*)::text FROM pgcdc_drasi.status s"),
	qr/hunter2secret/, 'nor in status');

$node->safe_psql('postgres', "SELECT pgcdc_drasi.drop_source('dr')");
$node->stop;
redis_shutdown();
done_testing();
