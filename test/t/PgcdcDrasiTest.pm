# test/t/PgcdcDrasiTest.pm: helpers shared by the Perl TAP tests of pgcdc_drasi.

=pod

=head1 NAME

PgcdcDrasiTest - helpers shared by the pgcdc_drasi Perl TAP tests

=head1 SYNOPSIS

  use lib 'test/t';
  use PgcdcDrasiTest;

  my $node = cdc_node('main', restart_after_crash => 1);
  $node->safe_psql('postgres', 'CREATE TABLE ...; CREATE PUBLICATION ...');
  create_source($node, 'orders-db', 'drasi_publication');
  wait_streaming($node, 'orders-db');
  ...
  catchup($node, 'orders-db');
  check_queue($node, 'orders-db', expected_sql('orders:1:i', ['orders', 2, 10, 'i']), 'after restart');
  check_invariants($node, 'orders-db', 'after restart');

Every check compares the queue with what was committed: each change exactly
once, in commit order.

=cut

package PgcdcDrasiTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(
  cdc_node
  q_lit
  big_rows
  create_source
  wait_streaming
  wait_recovered
  source_pid
  walsender_pid
  source_slot
  status_row
  catchup
  queue_count
  expected_sql
  check_queue
  check_invariants
  wait_mid_publication
  kill9_and_wait_reinit
  start_tick_writer
  finish_tick_writer
  stop_tick_writer
  crash_fixture
  small_transactions
  start_big_transaction
  wait_mid_big
  check_crash_queue
);

# Quote a string as an SQL literal.
sub q_lit
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# Rows of the large single transaction of the crash tests.
sub big_rows
{
	my $n = $ENV{PGCDC_TEST_BIG_ROWS};
	return (defined $n && $n =~ /^\d+$/ && $n > 0) ? $n : 200000;
}

=pod

=head2 cdc_node($name, %opts)

Create, configure and start a node that preloads pgcdc_drasi and has the
extension created in database postgres.  Options: restart_after_crash => 1
(needed by tests that kill -9 a backend: the postmaster must reinitialize
instead of shutting down), extra_conf => '...'.

=cut

sub cdc_node
{
	my ($name, %opts) = @_;

	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	$node->append_conf(
		'postgresql.conf', qq{
# pgcdc_drasi tests
shared_preload_libraries = 'pgcdc_drasi'
pgcdc_drasi.retry_min_interval = '200ms'
max_worker_processes = 16
max_wal_senders = 10
max_replication_slots = 10
max_connections = 40
shared_buffers = 32MB
max_wal_size = 512MB
# transactions over 64 kB of changes are streamed before they commit
logical_decoding_work_mem = 64kB
});
	$node->append_conf('postgresql.conf',
		'restart_after_crash = ' . ($opts{restart_after_crash} ? 'on' : 'off'));
	$node->append_conf('postgresql.conf', $opts{extra_conf})
	  if defined $opts{extra_conf};
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pgcdc_drasi');
	return $node;
}

sub create_source
{
	my ($node, $source, $publication) = @_;
	$node->safe_psql('postgres',
		    'SELECT pgcdc_drasi.create_source('
		  . q_lit($source)
		  . ', publication => '
		  . q_lit($publication)
		  . ', bootstrap => false)');
	return;
}

sub status_row
{
	my ($node, $source) = @_;
	return $node->safe_psql('postgres',
		"SELECT * FROM pgcdc_drasi.status WHERE source_id = " . q_lit($source),
		extra_params => ['-x']);
}

sub dump_diagnostics
{
	my ($node, $source) = @_;
	my ($ret, $status, $err) = $node->psql('postgres',
		"SELECT * FROM pgcdc_drasi.status WHERE source_id = " . q_lit($source),
		extra_params => ['-x']);
	my ($ret2, $activity) = $node->psql(
		'postgres', q{
SELECT pid, backend_type, application_name, state, wait_event, backend_xid
  FROM pg_stat_activity
 WHERE pid <> pg_backend_pid()
   AND backend_type NOT IN ('checkpointer', 'background writer', 'walwriter',
                            'autovacuum launcher', 'logical replication launcher')
 ORDER BY pid},
		extra_params => ['-P', 'footer=off']);
	my ($ret3, $slots) = $node->psql('postgres',
		'SELECT slot_name, plugin, active, active_pid, restart_lsn, confirmed_flush_lsn FROM pg_replication_slots'
	);
	diag("diagnostics for source $source\n"
		  . "pgcdc_drasi.status:\n$status$err\n"
		  . "pg_stat_activity (pid|backend_type|application_name|state|wait_event|backend_xid):\n$activity\n"
		  . "pg_replication_slots (slot|plugin|active|active_pid|restart_lsn|confirmed_flush_lsn):\n$slots");
	return;
}

=pod

=head2 wait_streaming($node, $source, %opts)

Wait until the source reports state 'streaming' with a pid that is a live
'pgcdc_drasi source' backend, and its walsender (application_name
'pgcdc_drasi:<source>') is connected.  not_pid => $pid additionally requires
a new worker.  Returns the worker pid (dies when it never gets there).

=cut

sub wait_streaming
{
	my ($node, $source, %opts) = @_;
	my $desc = $opts{desc} // "source $source streaming";
	my $src = q_lit($source);
	my $appname = q_lit("pgcdc_drasi:$source");
	my $extra = defined $opts{not_pid} ? " AND s.pid <> $opts{not_pid}" : '';

	my $ok = $node->poll_query_until(
		'postgres', qq{
SELECT count(*) = 1
   AND EXISTS (SELECT 1 FROM pg_stat_activity
                WHERE backend_type = 'walsender' AND application_name = $appname)
  FROM pgcdc_drasi.status s
  JOIN pg_stat_activity a ON a.pid = s.pid
 WHERE s.source_id = $src
   AND s.state = 'streaming'
   AND a.backend_type = 'pgcdc_drasi source'$extra});
	ok($ok, $desc);
	unless ($ok)
	{
		dump_diagnostics($node, $source);
		die "source $source never reached state streaming";
	}
	return source_pid($node, $source);
}

# Wait until the server accepts connections and is out of recovery (after a
# crash restart).  pg_isready first: while the server refuses connections,
# psql exits before it reads the query that the test framework writes to
# its stdin, and IPC::Run dies on the broken pipe (EPIPE).
sub wait_recovered
{
	my ($node) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	until (
		PostgreSQL::Test::Utils::run_log(
			[ 'pg_isready', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres' ]))
	{
		die "server did not come back" if time() > $deadline;
		usleep(50_000);
	}
	$node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
	  or die "server did not come back";
	return;
}

sub source_pid
{
	my ($node, $source) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pgcdc_drasi.status WHERE source_id = " . q_lit($source));
}

sub walsender_pid
{
	my ($node, $source) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = "
		  . q_lit("pgcdc_drasi:$source"));
}

sub source_slot
{
	my ($node, $source) = @_;
	return $node->safe_psql('postgres',
		"SELECT slot_name FROM pgcdc_drasi.sources WHERE source_id = " . q_lit($source));
}

=pod

=head2 catchup($node, $source, %opts)

pgcdc_drasi.wait_for_catchup(): every change committed so far is in the
queue once it returns.  One test assertion.

=cut

sub catchup
{
	my ($node, $source, %opts) = @_;
	my $timeout = $opts{timeout} // '180s';
	my $desc = $opts{desc} // "wait_for_catchup($source)";
	my ($ret, $out, $err) = $node->psql('postgres',
		    'SELECT pgcdc_drasi.wait_for_catchup('
		  . q_lit($source) . ', '
		  . q_lit($timeout)
		  . ')');
	my $ok = is($ret, 0, $desc);
	unless ($ok)
	{
		diag("wait_for_catchup failed: $err");
		dump_diagnostics($node, $source);
	}
	return $ok;
}

sub queue_count
{
	my ($node, $source, $filter) = @_;
	$filter //= 'true';
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = "
		  . q_lit($source)
		  . " AND ($filter)");
}

=pod

=head2 expected_sql(@segments)

SQL returning the expected queue contents as rows (n, v), v being
"element_id:op" and n its 1-based position in commit order.  A segment is
either a string 'orders:5:d' or [$prefix, $from, $to, $op] for the ids
$from..$to in increasing order ("$prefix:$id:$op").

=cut

sub expected_sql
{
	my @segments = @_;
	my @parts;
	my $i = 0;
	foreach my $seg (@segments)
	{
		$i++;
		if (ref $seg eq 'ARRAY')
		{
			my ($prefix, $from, $to, $op) = @$seg;
			push @parts,
			    "SELECT $i AS s, g::bigint AS g, "
			  . q_lit("$prefix:")
			  . " || g || "
			  . q_lit(":$op")
			  . " AS v FROM generate_series($from, $to) AS g";
		}
		else
		{
			push @parts, "SELECT $i AS s, 0::bigint AS g, " . q_lit($seg) . " AS v";
		}
	}
	push @parts, "SELECT 0 AS s, 0::bigint AS g, NULL::text AS v WHERE false" unless @parts;
	return
	    "SELECT row_number() OVER (ORDER BY s, g) AS n, v FROM ("
	  . join("\nUNION ALL ", @parts)
	  . ") AS expected";
}

=pod

=head2 check_queue($node, $source, $expected_sql, $desc, %opts)

Compare the queue of $source (restricted by filter => 'SQL condition on
pgcdc_drasi.events') in seq order with $expected_sql (see expected_sql(); any
query returning (n bigint, v text) will do).  Two assertions: the counts
match, and every position matches.  On mismatch the neighbourhood of the
first difference is printed.

=cut

sub check_queue
{
	my ($node, $source, $expected, $desc, %opts) = @_;
	my $filter = $opts{filter} // 'true';
	my $src = q_lit($source);
	my $cte = qq{
WITH e AS (SELECT row_number() OVER (ORDER BY seq) AS n,
                  coalesce(element_id, '<null>') || ':' || op AS v
             FROM pgcdc_drasi.events
            WHERE source_id = $src AND ($filter)),
     x AS ($expected),
     j AS (SELECT n, e.v AS got, x.v AS want FROM e FULL JOIN x USING (n))};

	my $res = $node->safe_psql('postgres', qq{$cte
SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM x),
       (SELECT count(*) FROM j WHERE got IS DISTINCT FROM want),
       coalesce((SELECT min(n) FROM j WHERE got IS DISTINCT FROM want), 0)});
	my ($ngot, $nwant, $nbad, $first) = split /\|/, $res;

	is($ngot, $nwant, "$desc: queue holds as many events as changes committed");
	my $ok = is($nbad, 0, "$desc: every committed change exactly once, in commit order");
	unless ($ok)
	{
		my $lo = $first - 5;
		my $hi = $first + 10;
		my $window = $node->safe_psql('postgres', qq{$cte
SELECT n, coalesce(got, '<missing>'), coalesce(want, '<unexpected>'),
       CASE WHEN got IS DISTINCT FROM want THEN '  <==' ELSE '' END
  FROM j WHERE n BETWEEN $lo AND $hi ORDER BY n});
		diag("first difference at position $first (n|got|expected):\n$window");
	}
	return $ok;
}

=pod

=head2 check_invariants($node, $source, $desc)

Properties that hold for any queue: (lsn, tx_index) is unique, seq order is
(lsn, tx_index) order (lsn is the commit LSN), one transaction per lsn, and
the Drasi payload agrees with the columns (op, source db, element id,
metadata seq/xid/txIndex, source lsn as an integer).

=cut

sub check_invariants
{
	my ($node, $source, $desc) = @_;
	my $src = q_lit($source);

	my $res = $node->safe_psql('postgres', qq{
SELECT count(*), count(DISTINCT (lsn, tx_index))
  FROM pgcdc_drasi.events WHERE source_id = $src});
	my ($n, $ndistinct) = split /\|/, $res;
	is($ndistinct, $n, "$desc: no (lsn, tx_index) twice in the queue");

	my $bad_order = $node->safe_psql('postgres', qq{
SELECT count(*) FROM (
  SELECT lsn, tx_index,
         lag(lsn) OVER w AS prev_lsn, lag(tx_index) OVER w AS prev_tx_index
    FROM pgcdc_drasi.events WHERE source_id = $src
  WINDOW w AS (ORDER BY seq)) q
 WHERE prev_lsn IS NOT NULL AND (lsn, tx_index) <= (prev_lsn, prev_tx_index)});
	is($bad_order, 0, "$desc: seq order is (lsn, tx_index) order");

	my $shared_lsn = $node->safe_psql('postgres', qq{
SELECT count(*) FROM (
  SELECT lsn FROM pgcdc_drasi.events WHERE source_id = $src
   GROUP BY lsn HAVING count(DISTINCT xid) > 1) q});
	is($shared_lsn, 0, "$desc: no lsn shared by two transactions");

	my $bad_payload = $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events
 WHERE source_id = $src AND op <> 't'
   AND (payload->>'op' IS DISTINCT FROM op
        OR payload->'payload'->'source'->>'db' IS DISTINCT FROM source_id
        OR coalesce(payload->'payload'->'after'->>'id',
                    payload->'payload'->'before'->>'id') IS DISTINCT FROM element_id)});
	is($bad_payload, 0, "$desc: payload op, source db and element id agree with the columns");

	my $bad_meta = $node->safe_psql('postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events
 WHERE source_id = $src
   AND (payload->'metadata'->>'seq' IS DISTINCT FROM seq::text
        OR payload->'metadata'->>'txIndex' IS DISTINCT FROM tx_index::text
        OR payload->'metadata'->>'xid' IS DISTINCT FROM xid::text
        OR payload->'payload'->'source'->>'lsn' IS DISTINCT FROM (lsn - '0/0'::pg_lsn)::text)});
	is($bad_meta, 0, "$desc: payload metadata (seq, xid, txIndex) and source lsn agree with the columns");
	return;
}

=pod

=head2 wait_mid_publication($node, $source, $lsn_before, %opts)

After a large transaction that started after $lsn_before has committed, wait
(at most max_seconds, default 30) until the worker is visibly publishing
it: it has received changes past $lsn_before and has been inside the same
local write transaction (same backend_xid) for at least min_ms (default
300) milliseconds, which the one-row transactions of a concurrent writer
never take; or, streamed, it has written chunks of a transaction not yet
committed (event rows without a transaction row).  Returns true if that was observed; the caller kills something
either way (the crash is then merely less interesting).

=cut

sub wait_mid_publication
{
	my ($node, $source, $lsn_before, %opts) = @_;
	my $deadline = time() + ($opts{max_seconds} // 30);
	my $min_ms = $opts{min_ms} // 300;
	my $src = q_lit($source);
	my ($xid, $since);
	while (time() < $deadline)
	{
		# A streamed transaction: its chunks commit one by one, so its
		# written but uncommitted rows are what shows it.
		my ($sret, $sout) = $node->psql('postgres', qq{
SELECT count(*) > 0 FROM pgcdc_drasi.queue_events e
 WHERE e.source_id = $src
   AND NOT EXISTS (SELECT 1 FROM pgcdc_drasi.queue_transactions t
                    WHERE t.source_id = e.source_id AND t.tx_key = e.tx_key)});
		return 1 if $sret == 0 && defined $sout && $sout eq 't';
		my ($ret, $out) = $node->psql('postgres', qq{
SELECT a.backend_xid
  FROM pgcdc_drasi.status s JOIN pg_stat_activity a ON a.pid = s.pid
 WHERE s.source_id = $src AND s.received_lsn > '$lsn_before'
   AND a.backend_xid IS NOT NULL});
		if ($ret == 0 && defined $out && $out =~ /^\d+$/)
		{
			if (defined $xid && $xid eq $out)
			{
				return 1 if (Time::HiRes::time() - $since) * 1000 >= $min_ms;
			}
			else
			{
				($xid, $since) = ($out, Time::HiRes::time());
			}
		}
		else
		{
			undef $xid;
		}
		usleep(20_000);
	}
	diag("did not observe source $source in the middle of publishing; killing anyway");
	return 0;
}

=pod

=head2 kill9_and_wait_reinit($node, $pid)

SIGKILL $pid (a backend of $node) and wait until the postmaster has
reinitialized and the server is out of crash recovery.  Needs
restart_after_crash = on.

=cut

sub kill9_and_wait_reinit
{
	my ($node, $pid) = @_;
	die "kill9_and_wait_reinit: no pid to kill" unless defined $pid && $pid =~ /^\d+$/;
	my $offset = -s $node->logfile;
	ok(kill('KILL', $pid), "kill -9 $pid");
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
	wait_recovered($node);
	pass("server reinitialized after kill -9 of $pid");
	return;
}

=pod

=head2 start_tick_writer($node, $table, $n, $sleep)

Start a client in the background that inserts ids 1..$n into $table(id), one
row per transaction, pausing $sleep seconds between them.  It dies with the
server when the server crashes; the rows it committed are the truth to
compare with (one sequential writer: commit order is id order).

=cut

sub start_tick_writer
{
	my ($node, $table, $n, $sleep) = @_;
	$node->safe_psql('postgres', qq{
CREATE OR REPLACE PROCEDURE tick_writer_$table(n int, pause float8)
LANGUAGE plpgsql AS \$\$
BEGIN
	FOR i IN 1..n LOOP
		INSERT INTO $table(id) VALUES (i);
		COMMIT;
		PERFORM pg_sleep(pause);
	END LOOP;
END
\$\$});
	my ($stdout, $stderr) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-d', $node->connstr('postgres'),
			'-c', "CALL tick_writer_$table($n, $sleep)"
		],
		'>', \$stdout, '2>', \$stderr,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return { h => $h, table => $table, out => \$stdout, err => \$stderr };
}

# Wait for the tick writer to end (normally killed by the crash or shutdown).
sub finish_tick_writer
{
	my ($w) = @_;
	eval { $w->{h}->finish; };
	if ($@)
	{
		diag("tick writer did not end by itself: $@");
		eval { $w->{h}->kill_kill; };
	}
	note("tick writer ended: " . ${ $w->{err} });
	return;
}

# finish_tick_writer(), then return the number of rows it committed (the
# server must be up).
sub stop_tick_writer
{
	my ($node, $w) = @_;
	finish_tick_writer($w);
	return $node->safe_psql('postgres', "SELECT count(*) FROM $w->{table}");
}

=pod

=head1 THE CRASH SCENARIO

Tests 002, 003 and 004 crash a node (kill -9 of the worker, of its walsender,
an immediate shutdown) while the worker publishes one large transaction, a
concurrent writer commits one row per transaction and small transactions
queue up behind it.  They share the fixture and the final checks:

  my $pid = crash_fixture($node, $source, 'kill_pub');
  small_transactions($node, insert => [ 1, 200, 0 ], update => [ 1, 50, 1 ],
	delete => [ 151, 200 ]);
  my ($writer, $lsn_before) = start_big_transaction($node, $big, "repeat('x', 20)");
  wait_mid_big($node, $source, $lsn_before);
  ... crash, recover, catch up ...
  check_crash_queue($node, $source, $big, $ticks,
	[ 'small', 1, 200, 'i' ], [ 'small', 1, 50, 'u' ], [ 'small', 151, 200, 'd' ]);

=head2 crash_fixture($node, $source, $publication)

Create the tables small(id, v), big(id, pad) and ticks(id), the publication
$publication of the three and the source $source on it (no bootstrap); wait
until the worker streams and return its pid.

=cut

sub crash_fixture
{
	my ($node, $source, $publication) = @_;
	$node->safe_psql(
		'postgres', qq{
CREATE TABLE small(id int PRIMARY KEY, v int);
CREATE TABLE big(id int PRIMARY KEY, pad text);
CREATE TABLE ticks(id int PRIMARY KEY);
CREATE PUBLICATION $publication FOR TABLE small, big, ticks;
});
	create_source($node, $source, $publication);
	return wait_streaming($node, $source, desc => 'worker streaming');
}

=pod

=head2 small_transactions($node, %ops)

Commit one transaction per row on table small (psql sends each statement
as its own transaction), in this order: insert => [$from, $to, $v] inserts
($id, $v), update => [$from, $to, $v] sets v = $v, delete => [$from, $to]
deletes; each is optional.

=cut

sub small_transactions
{
	my ($node, %ops) = @_;
	my $sql = '';
	if (my $r = $ops{insert})
	{
		$sql .= "INSERT INTO small VALUES ($_, $r->[2]);\n" for $r->[0] .. $r->[1];
	}
	if (my $r = $ops{update})
	{
		$sql .= "UPDATE small SET v = $r->[2] WHERE id = $_;\n" for $r->[0] .. $r->[1];
	}
	if (my $r = $ops{delete})
	{
		$sql .= "DELETE FROM small WHERE id = $_;\n" for $r->[0] .. $r->[1];
	}
	$node->safe_psql('postgres', $sql);
	return;
}

=pod

=head2 start_big_transaction($node, $rows, $pad_sql)

Start the concurrent writer on ticks (6000 rows, one per transaction,
10 ms apart: see start_tick_writer()), then commit the large transaction:
$rows rows into big, pad being $pad_sql (an expression over g, the id).
Returns the writer and the WAL position before the large transaction (for
wait_mid_big()).

=cut

sub start_big_transaction
{
	my ($node, $rows, $pad_sql) = @_;
	my $writer = start_tick_writer($node, 'ticks', 6000, 0.01);
	my $lsn_before = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	$node->safe_psql('postgres',
		"INSERT INTO big SELECT g, $pad_sql FROM generate_series(1, $rows) g");
	return ($writer, $lsn_before);
}

=pod

=head2 wait_mid_big($node, $source, $lsn_before)

wait_mid_publication() for the large transaction, noting whether the worker
was seen in its middle and how many of its events the queue holds already.
Returns what wait_mid_publication() returned.

=cut

sub wait_mid_big
{
	my ($node, $source, $lsn_before) = @_;
	my $mid = wait_mid_publication($node, $source, $lsn_before);
	note("worker observed mid-publication: " . ($mid ? 'yes' : 'no'));
	note("events of the large transaction committed to the queue before the kill: "
		  . queue_count($node, $source, "element_id LIKE 'big:%'"));
	return $mid;
}

=pod

=head2 check_crash_queue($node, $source, $big, $ticks, @small)

The checks after a crash scenario: the queue holds the large transaction
(ids 1..$big), the small transactions (@small: segments as for
expected_sql(), in commit order) and the $ticks rows of the concurrent
writer, each exactly once and in commit order, and nothing else.

=cut

sub check_crash_queue
{
	my ($node, $source, $big, $ticks, @small) = @_;
	check_queue($node, $source, expected_sql([ 'big', 1, $big, 'i' ]),
		'large transaction', filter => "element_id LIKE 'big:%'");
	check_queue($node, $source, expected_sql(@small),
		'small transactions', filter => "element_id LIKE 'small:%'");
	check_queue(
		$node, $source,
		q{SELECT row_number() OVER (ORDER BY id) AS n, 'ticks:' || id || ':i' AS v FROM ticks},
		'concurrent writer', filter => "element_id LIKE 'ticks:%'");
	my $nsmall = 0;
	$nsmall += ref $_ eq 'ARRAY' ? $_->[2] - $_->[1] + 1 : 1 for @small;
	is(queue_count($node, $source), $big + $nsmall + $ticks, 'nothing else in the queue');
	return;
}

1;
