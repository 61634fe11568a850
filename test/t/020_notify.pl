# 020_notify.pl: the NOTIFY sink, seen by a real LISTEN client (psql).
#
# Two sources capture the same tables: "Notify.Both" (sink both, default
# channel pgcdc_notify_both) and "nonly" (sink notify, channel "Chan Notify").
# A psql session LISTENs on both channels; every notification it receives is
# checked exactly: payloads (equal to the queued event for sink both), seq
# numbers contiguous per channel in commit order, no notification twice.
#
#   1. multi-row transactions (insert, update, delete)
#   2. four concurrent writers
#   3. large events: a reference {"source","seq","op","label","id","ref"}
#      fetched with get_events(); the 7999/8000-byte boundary
#   4. wake-up mode: one {"source","firstSeq","lastSeq"} per local commit
#   5. overflow: notify_max_pending = 3, the rest named by one notification
#   6. worker restarts (pg_terminate_backend) under a steady writer; and
#      alter_source switching the sink six times under a steady writer
#   7. notification queue full: sink both skips (seq gap, queue complete),
#      sink notify stops with an error and retries, losing nothing
#   8. notifications_sent of a new source starts at 0

use strict;
use warnings;

use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $json = JSON::PP->new->canonical;

my $node = cdc_node('notify');
$node->safe_psql(
	'postgres', q{
CREATE TABLE t (id int PRIMARY KEY, v text);
CREATE TABLE big (id int PRIMARY KEY, pad text);
CREATE TABLE tick (id int PRIMARY KEY);
CREATE PUBLICATION pub FOR TABLE t, big, tick;
CREATE TABLE wt (id int PRIMARY KEY);
CREATE PUBLICATION pub2 FOR TABLE wt;
CREATE TABLE ot (id int PRIMARY KEY);
CREATE PUBLICATION pub3 FOR TABLE ot;
CREATE TABLE ft (id int PRIMARY KEY);
CREATE PUBLICATION pub4 FOR TABLE ft;
SELECT pgcdc_drasi.create_source('Notify.Both', 'pub', sink => 'both');
});
$node->safe_psql('postgres',
	q{SELECT pgcdc_drasi.create_source('nonly', 'pub', sink => 'notify', channel => 'Chan Notify')});
wait_streaming($node, 'Notify.Both');
wait_streaming($node, 'nonly');

is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(source_id || ':' || sink || ':' || channel || ':' || notify_payload, ',' ORDER BY source_id)
		    FROM pgcdc_drasi.status}),
	'Notify.Both:both:pgcdc_notify_both:full,nonly:notify:Chan Notify:full',
	'sources, sinks, channels (default: pgcdc_ + sanitized lower-case id)');

my $CH_BOTH = 'pgcdc_notify_both';
my $CH_NONLY = 'Chan Notify';

# ------------------------------------------------------------------------
# The listener: one psql process, LISTENing; notifications are printed by
# psql after each statement, so we run a trivial statement to collect them.
# ------------------------------------------------------------------------
sub listener_start
{
	my (@channels) = @_;
	my ($in, $out, $err) = ('', '', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$in, '>', \$out, '2>', \$err);
	my $l = { h => $h, in => \$in, out => \$out, err => \$err, n => 0, got => [] };
	lsql($l, qq{LISTEN "$_"}) foreach @channels;
	$l->{pid} = lsql($l, 'SELECT pg_backend_pid()');
	return $l;
}

# Run a statement in the listener; returns its output without the
# notifications, which are kept in $l->{got} in arrival order.
sub lsql
{
	my ($l, $q) = @_;
	my $mark = '__pgcdc_mark_' . (++$l->{n}) . '__';
	${ $l->{in} } .= "$q;\n\\echo $mark\n";
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	until (${ $l->{out} } =~ /^\Q$mark\E\n/m)
	{
		die "listener: no answer to <$q>; stderr: ${ $l->{err} }" if time() > $deadline;
		$l->{h}->pump_nb;
		usleep(2_000) unless ${ $l->{out} } =~ /^\Q$mark\E\n/m;
	}
	my ($before, $after) = split /^\Q$mark\E\n/m, ${ $l->{out} }, 2;
	${ $l->{out} } = $after;
	my @rest;
	foreach my $line (split /\n/, $before)
	{
		if ($line =~
			/^Asynchronous notification "(.*?)" with payload "(.*)" received from server process with PID (\d+)\.$/)
		{
			push @{ $l->{got} }, { channel => $1, payload => $2, pid => $3 };
		}
		else
		{
			push @rest, $line;
		}
	}
	die "listener error: ${ $l->{err} }" if ${ $l->{err} } ne '';
	return join("\n", @rest);
}

# Wait until $n notifications of $channel have arrived; remove and return
# their payloads (in arrival order).
sub take
{
	my ($l, $channel, $n) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	for (;;)
	{
		lsql($l, 'SELECT 1');
		my $have = grep { $_->{channel} eq $channel } @{ $l->{got} };
		last if $have >= $n;
		if (time() > $deadline)
		{
			diag("timed out waiting for $n notifications on $channel, have $have");
			last;
		}
		usleep(50_000);
	}
	my (@mine, @others);
	foreach my $g (@{ $l->{got} })
	{
		if ($g->{channel} eq $channel && @mine < $n) { push @mine, $g->{payload}; }
		else { push @others, $g; }
	}
	$l->{got} = \@others;
	return \@mine;
}

# Notifications of $channel that arrived so far (without waiting).
sub pending
{
	my ($l, $channel) = @_;
	lsql($l, 'SELECT 1');
	return scalar grep { $_->{channel} eq $channel } @{ $l->{got} };
}

sub dec { return $json->decode($_[0]); }

# The queued events of a source as decoded payloads, by seq.
sub queued
{
	my ($source, $where) = @_;
	$where //= 'true';
	my $rows = $node->safe_psql('postgres',
		"SELECT payload FROM pgcdc_drasi.events WHERE source_id = " . q_lit($source) . " AND ($where) ORDER BY seq");
	return [ map { dec($_) } grep { $_ ne '' } split /\n/, $rows ];
}

# The element of a decoded event ("after", or "before" for a delete),
# without autovivifying anything.
sub el
{
	my ($e) = @_;
	return exists $e->{payload}{after} ? $e->{payload}{after} : $e->{payload}{before};
}

# "seq:op:id" of a decoded event.
sub sig
{
	my ($e) = @_;
	return "$e->{metadata}{seq}:$e->{op}:" . (el($e)->{id} // '<none>');
}

my %last_seq = ($CH_BOTH => 0, $CH_NONLY => 0);

# Check that a list of event payloads continues the seq numbering of the
# channel without gap or repeat.
sub check_contiguous
{
	my ($channel, $events, $desc) = @_;
	my @seqs = map { $_->{metadata}{seq} } @$events;
	my @want = map { $last_seq{$channel} + $_ } 1 .. scalar(@seqs);
	my $ok = is("@seqs", "@want", "$desc: seq continues at " . ($last_seq{$channel} + 1) . ", no gap, no repeat");
	$last_seq{$channel} = $seqs[-1] if @seqs;
	return $ok;
}

my $L = listener_start($CH_BOTH, $CH_NONLY);
ok($L->{pid} =~ /^\d+$/, 'listener connected and LISTENing');

# ------------------------------------------------------------------------
# 1. Multi-row transactions
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');
UPDATE t SET v = 'B' WHERE id = 2;
DELETE FROM t WHERE id = 3;
COMMIT;
INSERT INTO t VALUES (4, 'd"\\');
});
catchup($node, 'Notify.Both');
catchup($node, 'nonly');

my $nb = [ map { dec($_) } @{ take($L, $CH_BOTH, 6) } ];
my $nn = [ map { dec($_) } @{ take($L, $CH_NONLY, 6) } ];
is( join(' ', map { sig($_) } @$nb),
	'1:i:t:1 2:i:t:2 3:i:t:3 4:u:t:2 5:d:t:3 6:i:t:4',
	'sink both: the six events, in commit order, then order in the transaction');
is_deeply($nb, queued('Notify.Both'), 'sink both: each payload is exactly the queued event');
is_deeply(
	[ map { [ $_->{metadata}{txIndex}, el($_)->{properties} ] } @$nb ],
	[
		[ 0, { id => 1, v => 'a' } ], [ 1, { id => 2, v => 'b' } ],
		[ 2, { id => 3, v => 'c' } ], [ 3, { id => 2, v => 'B' } ],
		[ 4, { id => 3 } ], [ 0, { id => 4, v => 'd"\\' } ]
	],
	'sink both: txIndex and properties of each event');
is(join(' ', map { sig($_) } @$nn), join(' ', map { sig($_) } @$nb),
	'sink notify: the same events with its own seq 1..6');
is_deeply(
	[ map { [ $_->{payload}{source}{db}, $_->{payload}{source}{lsn}, $_->{metadata}{xid}, $_->{metadata}{txIndex} ] } @$nn ],
	[ map { [ 'nonly', $_->{payload}{source}{lsn}, $_->{metadata}{xid}, $_->{metadata}{txIndex} ] } @$nb ],
	'sink notify: source db is the source id; lsn, xid and txIndex agree with the other source');
is($node->safe_psql('postgres', "SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'nonly'"),
	'0', 'sink notify: nothing is queued');
check_contiguous($CH_BOTH, $nb, 'sink both');
check_contiguous($CH_NONLY, $nn, 'sink notify');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(source_id || ':' || last_seq || ':' || notifications_sent || ':' || notifications_skipped, ',' ORDER BY source_id)
		    FROM pgcdc_drasi.status}),
	'Notify.Both:6:6:0,nonly:6:6:0',
	'status: last_seq 6, six notifications sent, none skipped, for each source');

# ------------------------------------------------------------------------
# 2. Concurrent writers
# ------------------------------------------------------------------------
my @writers;
foreach my $w (1 .. 4)
{
	my ($o, $e) = ('', '');
	push @writers,
	  IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c',
			"DO \$\$BEGIN FOR i IN 1..50 LOOP INSERT INTO t VALUES ($w * 1000 + i, 'w$w'); COMMIT; END LOOP; END\$\$"
		],
		'>', \$o, '2>', \$e);
}
my $writers_ok = 1;
foreach my $h (@writers) { $h->finish or $writers_ok = 0; }
ok($writers_ok, 'four concurrent writers committed 50 one-row transactions each');
catchup($node, 'Notify.Both');
catchup($node, 'nonly');
$nb = [ map { dec($_) } @{ take($L, $CH_BOTH, 200) } ];
$nn = [ map { dec($_) } @{ take($L, $CH_NONLY, 200) } ];
is(scalar(@$nb), 200, 'sink both: 200 notifications');
is(scalar(@$nn), 200, 'sink notify: 200 notifications');
is_deeply($nb, queued('Notify.Both', 'seq > 6'), 'sink both: the notifications are exactly the queued events, in seq order');
check_contiguous($CH_BOTH, $nb, 'sink both, concurrent writers');
check_contiguous($CH_NONLY, $nn, 'sink notify, concurrent writers');
my @lsns = map { $_->{payload}{source}{lsn} } @$nb;
is(scalar(grep { $lsns[$_] <= $lsns[ $_ - 1 ] } 1 .. $#lsns), 0,
	'sink both: commit LSNs strictly increase: notifications come in commit order');
is_deeply([ sort { $a <=> $b } map { el($_)->{properties}{id} } @$nb ],
	[ map { my $w = $_; map { $w * 1000 + $_ } 1 .. 50 } 1 .. 4 ],
	'sink both: every committed row exactly once');
my $per_writer_ordered = 1;
foreach my $w (1 .. 4)
{
	my @ids = grep { int($_ / 1000) == $w } map { el($_)->{properties}{id} } @$nn;
	$per_writer_ordered = 0 unless "@ids" eq join(' ', map { $w * 1000 + $_ } 1 .. 50);
}
ok($per_writer_ordered, 'sink notify: each writer\'s rows arrive in the order it committed them');
is(join(' ', map { "$_->{op}:" . el($_)->{id} . ":$_->{payload}{source}{lsn}:$_->{metadata}{txIndex}" } @$nn),
	join(' ', map { "$_->{op}:" . el($_)->{id} . ":$_->{payload}{source}{lsn}:$_->{metadata}{txIndex}" } @$nb),
	'sink notify: the same events in the same (commit) order as sink both');

# ------------------------------------------------------------------------
# 3. Large events: a reference, fetched with get_events()
# ------------------------------------------------------------------------
$node->safe_psql('postgres', q{INSERT INTO big VALUES (1, repeat('y', 10000))});
catchup($node, 'Notify.Both');
catchup($node, 'nonly');
my $rb = take($L, $CH_BOTH, 1)->[0];
my $rn = take($L, $CH_NONLY, 1)->[0];
my $sb = $last_seq{$CH_BOTH} + 1;
my $sn = $last_seq{$CH_NONLY} + 1;
is($rb, qq({"source":"Notify.Both","seq":$sb,"op":"i","label":"big","id":"big:1","ref":true}),
	'sink both: a 10000-byte event is notified by reference');
is($rn, qq({"source":"nonly","seq":$sn,"op":"i","label":"big","id":"big:1","ref":true}),
	'sink notify: a 10000-byte event is notified by reference');
$last_seq{$CH_BOTH} = $sb;
$last_seq{$CH_NONLY} = $sn;
is( $node->safe_psql(
		'postgres',
		"SELECT seq || ':' || element_id || ':' || length(payload->'payload'->'after'->'properties'->>'pad')
		   FROM pgcdc_drasi.get_events('nonly', $sn)"),
	"$sn:big:1:10000",
	'sink notify: get_events(source, seq) returns the referenced event');
is($node->safe_psql('postgres', "SELECT string_agg(seq::text, ',') FROM pgcdc_drasi.events WHERE source_id = 'nonly'"),
	"$sn", 'sink notify: the referenced event is the only one queued');
is( $node->safe_psql(
		'postgres',
		"SELECT (payload->'metadata'->>'seq') || ':' || (payload->'payload'->'source'->>'db')
		   FROM pgcdc_drasi.get_events('Notify.Both', $sb)"),
	"$sb:Notify.Both",
	'sink both: get_events returns the referenced event too');

# The boundary: an event of 7999 bytes is notified whole, one of 8000 bytes
# by reference.  Calibrate with a small event, then size two events of one
# transaction (same xid and LSN; seq and txIndex of equal width).  An LSN or
# xid that gains a digit in between would spoil the calibration: retry.
my ($boundary_ok, $inline_len, $ref_payload, $boundary_seq) = (0);
foreach my $attempt (1 .. 3)
{
	my $id0 = 10 + $attempt * 3;
	$node->safe_psql('postgres', "INSERT INTO big VALUES ($id0, repeat('a', 100))");
	catchup($node, 'nonly');
	my $cal = take($L, $CH_NONLY, 1)->[0];
	my $cal_seq = dec($cal)->{metadata}{seq};
	$last_seq{$CH_NONLY} = $cal_seq;
	my $pad = 100 + 7999 - length($cal);
	if (length($cal_seq + 2) != length($cal_seq))
	{
		note("seq $cal_seq gains a digit: adjusting");
		$pad -= 1;
	}
	$node->safe_psql(
		'postgres', qq{
BEGIN;
INSERT INTO big VALUES ($id0 + 1, repeat('a', $pad - (length(pg_current_xact_id()::text) - length('@{[ dec($cal)->{metadata}{xid} ]}'))));
INSERT INTO big VALUES ($id0 + 2, repeat('a', $pad + 1 - (length(pg_current_xact_id()::text) - length('@{[ dec($cal)->{metadata}{xid} ]}'))));
COMMIT;
});
	catchup($node, 'nonly');
	my $two = take($L, $CH_NONLY, 2);
	$inline_len = length($two->[0]);
	$ref_payload = $two->[1];
	$boundary_seq = $cal_seq + 2;
	$last_seq{$CH_NONLY} = $cal_seq + 2;
	take($L, $CH_BOTH, 3);    # the other source notified them too
	$last_seq{$CH_BOTH} += 3;
	if ($inline_len == 7999)
	{
		$boundary_ok = 1;
		is(dec($two->[0])->{payload}{after}{id}, 'big:' . ($id0 + 1),
			'an event of exactly 7999 bytes is notified whole');
		last;
	}
	note("calibration attempt $attempt gave $inline_len bytes, retrying");
}
is($inline_len, 7999, 'the whole payload was 7999 bytes long');
like($ref_payload, qr/^\{"source":"nonly","seq":$boundary_seq,"op":"i","label":"big","id":"big:\d+","ref":true\}$/,
	'an event of 8000 bytes is notified by reference');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pgcdc_drasi.get_events('nonly', $boundary_seq - 1, $boundary_seq)"),
	'1',
	'of the two, only the 8000-byte event was queued');

# ------------------------------------------------------------------------
# 4. Wake-up mode
# ------------------------------------------------------------------------
$node->safe_psql('postgres',
	q{SELECT pgcdc_drasi.create_source('wake', 'pub2', sink => 'both', channel => 'wake_chan', notify_payload => 'wakeup')});
wait_streaming($node, 'wake');
lsql($L, 'LISTEN wake_chan');
$node->safe_psql('postgres', 'INSERT INTO wt VALUES (1), (2), (3)');
catchup($node, 'wake');
is_deeply(take($L, 'wake_chan', 1), ['{"source":"wake","firstSeq":1,"lastSeq":3}'],
	'wake-up: one notification for a three-row transaction');
$node->safe_psql('postgres', 'INSERT INTO wt VALUES (4)');
catchup($node, 'wake');
is_deeply(take($L, 'wake_chan', 1), ['{"source":"wake","firstSeq":4,"lastSeq":4}'],
	'wake-up: one notification for a one-row transaction');
$node->safe_psql('postgres', 'DO $$BEGIN FOR i IN 5..64 LOOP INSERT INTO wt VALUES (i); COMMIT; END LOOP; END$$');
catchup($node, 'wake');
my $sent_wake = $node->safe_psql('postgres', "SELECT notifications_sent FROM pgcdc_drasi.status WHERE source_id = 'wake'");
my $wakes = take($L, 'wake_chan', $sent_wake - 2);
my ($next, $wake_ok) = (5, 1);
foreach my $w (@$wakes)
{
	unless ($w =~ /^\{"source":"wake","firstSeq":(\d+),"lastSeq":(\d+)\}$/ && $1 == $next && $2 >= $1)
	{
		diag("unexpected wake-up notification $w (expected firstSeq $next)");
		$wake_ok = 0;
		last;
	}
	$next = $2 + 1;
}
ok($wake_ok && $next == 65,
	'wake-up: 60 one-row transactions are announced by contiguous ranges 5..64 (' . scalar(@$wakes) . ' local commits)');
is(pending($L, 'wake_chan'), 0, 'wake-up: no further notification');
is( $node->safe_psql('postgres',
		"SELECT count(*) || ':' || min(seq) || ':' || max(seq) FROM pgcdc_drasi.events WHERE source_id = 'wake'"),
	'64:1:64', 'wake-up: the events themselves are in the queue');

# ------------------------------------------------------------------------
# 5. Overflow: at most notify_max_pending notifications per local commit
# ------------------------------------------------------------------------
$node->safe_psql('postgres', 'ALTER SYSTEM SET pgcdc_drasi.notify_max_pending = 3');
$node->reload;
ok($node->poll_query_until('postgres', "SELECT current_setting('pgcdc_drasi.notify_max_pending')", '3'),
	'notify_max_pending = 3 is in effect');
$node->safe_psql('postgres', q{SELECT pgcdc_drasi.create_source('ovf', 'pub3', sink => 'notify', channel => 'ovf_chan')});
wait_streaming($node, 'ovf');
lsql($L, 'LISTEN ovf_chan');
$node->safe_psql('postgres',
	'BEGIN; INSERT INTO ot SELECT g FROM generate_series(101, 110) g; INSERT INTO wt SELECT g FROM generate_series(101, 110) g; COMMIT;');
catchup($node, 'ovf');
catchup($node, 'wake');
my $ovf = take($L, 'ovf_chan', 4);
is_deeply([ map { sig(dec($_)) } @$ovf[ 0 .. 2 ] ], [ '1:i:ot:101', '2:i:ot:102', '3:i:ot:103' ],
	'overflow: the first three events are notified whole');
is($ovf->[3], '{"source":"ovf","firstSeq":4,"lastSeq":10,"overflow":true}',
	'overflow: one notification names the other seven');
is( $node->safe_psql('postgres',
		"SELECT string_agg(seq || ':' || element_id, ',' ORDER BY seq) FROM pgcdc_drasi.get_events('ovf', 4, 10)"),
	'4:ot:104,5:ot:105,6:ot:106,7:ot:107,8:ot:108,9:ot:109,10:ot:110',
	'overflow: get_events(source, firstSeq, lastSeq) returns the seven events');
is($node->safe_psql('postgres', "SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'ovf'"),
	'7', 'overflow: only the overflowing events were queued');
is_deeply(take($L, 'wake_chan', 1), ['{"source":"wake","firstSeq":65,"lastSeq":74}'],
	'overflow does not concern wake-up mode: one range for the ten rows of the same transaction');
is(pending($L, 'ovf_chan'), 0, 'overflow: nothing more on the channel');
is($node->safe_psql('postgres', "SELECT notifications_sent FROM pgcdc_drasi.status WHERE source_id = 'ovf'"),
	'4', 'overflow: four notifications counted');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pgcdc_drasi.notify_max_pending');
$node->reload;
ok($node->poll_query_until('postgres', "SELECT current_setting('pgcdc_drasi.notify_max_pending')", '10000'),
	'notify_max_pending back to 10000');

# ------------------------------------------------------------------------
# 6. Worker restarts under a steady writer: nothing twice, nothing skipped
# ------------------------------------------------------------------------
my $sent_before = $node->safe_psql('postgres', "SELECT notifications_sent FROM pgcdc_drasi.status WHERE source_id = 'nonly'");
is($sent_before, $last_seq{$CH_NONLY}, 'sink notify: one notification per event so far');
my $writer = start_tick_writer($node, 'tick', 400, 0.005);
my $restarts = 0;
foreach my $round (1 .. 3)
{
	$node->poll_query_until('postgres', 'SELECT count(*) >= ' . ($round * 80) . ' FROM tick')
	  or diag('tick writer is slow');
	foreach my $src ($round == 2 ? ('nonly', 'Notify.Both') : ('nonly'))
	{
		my $pid = source_pid($node, $src);
		is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"), 't', "round $round: terminate worker of $src");
		wait_streaming($node, $src, not_pid => $pid, desc => "round $round: $src restarted");
		$restarts++;
	}
}
my $ticks = stop_tick_writer($node, $writer);
is($ticks, 400, 'the tick writer committed 400 rows');
catchup($node, 'Notify.Both');
catchup($node, 'nonly');
$nb = [ map { dec($_) } @{ take($L, $CH_BOTH, 400) } ];
$nn = [ map { dec($_) } @{ take($L, $CH_NONLY, 400) } ];
is(join(',', map { el($_)->{id} } @$nn), join(',', map { "tick:$_" } 1 .. 400),
	'sink notify: across restarts every tick exactly once, in commit order');
check_contiguous($CH_NONLY, $nn, 'sink notify, across restarts');
is(join(',', map { el($_)->{id} } @$nb), join(',', map { "tick:$_" } 1 .. 400),
	'sink both: across a restart every tick exactly once, in commit order');
check_contiguous($CH_BOTH, $nb, 'sink both, across a restart');
is_deeply($nb, queued('Notify.Both', "element_id LIKE 'tick:%'"), 'sink both: notifications equal the queue');
is(pending($L, $CH_NONLY) + pending($L, $CH_BOTH), 0, 'no notification was repeated after the restarts');
is($node->safe_psql('postgres', "SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'nonly'"),
	$last_seq{$CH_NONLY}, 'sink notify: source_progress.last_seq is the last seq notified');
ok( $node->safe_psql('postgres', "SELECT reconnects >= 3 FROM pgcdc_drasi.status WHERE source_id = 'nonly'") eq 't',
	'sink notify: the restarts are counted in reconnects');
is( $node->safe_psql('postgres', "SELECT events_published FROM pgcdc_drasi.status WHERE source_id = 'nonly'"),
	$last_seq{$CH_NONLY}, 'events_published keeps counting across worker restarts');
is( $node->safe_psql('postgres', "SELECT notifications_sent FROM pgcdc_drasi.status WHERE source_id = 'nonly'"),
	$last_seq{$CH_NONLY},
	'notifications_sent keeps counting across worker restarts (like events_published)');

# ------------------------------------------------------------------------
# 6b. alter_source under a steady writer: the sink switches between local
# transactions; every event goes to the sinks of its time, seq numbers all
# of them once: notified and queued seqs together are exactly 1..300.
# ------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
CREATE TABLE swt (id int PRIMARY KEY);
CREATE PUBLICATION pub5 FOR TABLE swt;
SELECT pgcdc_drasi.create_source('sw', 'pub5', sink => 'both', channel => 'sw_chan');
});
wait_streaming($node, 'sw');
lsql($L, 'LISTEN sw_chan');
my $swriter = start_tick_writer($node, 'swt', 300, 0.005);
my $k = 0;
foreach my $sink (qw(queue notify both notify queue both))
{
	$k++;
	$node->poll_query_until('postgres', 'SELECT count(*) >= ' . ($k * 40) . ' FROM swt') or diag('writer is slow');
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.alter_source('sw', sink => '$sink')");
}
is(stop_tick_writer($node, $swriter), 300, 'the writer committed 300 rows while the sink was switched six times');
catchup($node, 'sw');
my $sw_sent = $node->safe_psql('postgres', "SELECT notifications_sent FROM pgcdc_drasi.status WHERE source_id = 'sw'");
my $swn = [ map { dec($_) } @{ take($L, 'sw_chan', $sw_sent) } ];
my @nseq = map { $_->{metadata}{seq} } @$swn;
my @qseq = split /\n/, $node->safe_psql('postgres', "SELECT seq FROM pgcdc_drasi.events WHERE source_id = 'sw' ORDER BY seq");
is(scalar(grep { $nseq[$_] <= $nseq[ $_ - 1 ] } 1 .. $#nseq), 0, 'sink switch: notified seqs strictly increase (nothing twice)');
is(scalar(grep { el($swn->[$_])->{id} ne "swt:$nseq[$_]" } 0 .. $#nseq), 0,
	'sink switch: each notified seq is the row committed in that position');
my %union = map { $_ => 1 } (@nseq, @qseq);
is(join(',', sort { $a <=> $b } keys %union), join(',', 1 .. 300),
	'sink switch: notified and queued seqs together are exactly 1..300: no gap, no repeat');
my %in_q = map { $_ => 1 } @qseq;
my %in_n = map { $_ => 1 } @nseq;
my $only_q = grep { !$in_n{$_} } @qseq;
my $only_n = grep { !$in_q{$_} } @nseq;
my $both = grep { $in_q{$_} } @nseq;
note("sink switch: $only_q events only queued, $only_n only notified, $both both");
ok($only_q > 0 && $only_n > 0 && $both > 0, 'sink switch: each of queue, notify and both took effect');
is($node->safe_psql('postgres', "SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'sw'"),
	'300', 'sink switch: last_seq 300');
is(pending($L, 'sw_chan'), 0, 'sink switch: no further notification');

# ------------------------------------------------------------------------
# 7. The notification queue is full
# ------------------------------------------------------------------------
# A listener idle in an open transaction holds the notification queue;
# 280 kB of other notifications then fill 35 of its 8 kB pages, about 3e-5
# of the queue: more than notify_max_usage = 1e-5.
$node->safe_psql('postgres', 'ALTER SYSTEM SET pgcdc_drasi.notify_max_usage = 0.00001');
$node->reload;
ok($node->poll_query_until('postgres', "SELECT current_setting('pgcdc_drasi.notify_max_usage')", '1e-05'),
	'notify_max_usage = 0.00001 is in effect');
is(pending($L, $CH_BOTH) + pending($L, $CH_NONLY), 0, 'the listener has read everything');
my ($bin, $bout, $berr) = ('', '', '');
my $blocker = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$bin, '>', \$bout, '2>', \$berr);
$bin .= "LISTEN blk;\nBEGIN;\nSELECT 'blocking';\n";
$blocker->pump until $bout =~ /blocking/;
pass('a LISTENing session sits idle in an open transaction');
$node->safe_psql('postgres', q{SELECT pg_notify('fill', repeat('x', 7000) || g) FROM generate_series(1, 40) g});
my $usage = $node->safe_psql('postgres', 'SELECT pg_notification_queue_usage()');
cmp_ok($usage, '>', 0.00001, "the notification queue usage ($usage) exceeds notify_max_usage");
note("notification queue usage while blocked: $usage");

my $skipped_before = $node->safe_psql('postgres', "SELECT notifications_skipped FROM pgcdc_drasi.status WHERE source_id = 'Notify.Both'");
is($skipped_before, '0', 'sink both: nothing skipped so far');
my $nonly_reconnects = $node->safe_psql('postgres', "SELECT reconnects FROM pgcdc_drasi.status WHERE source_id = 'nonly'");
$node->safe_psql('postgres', q{INSERT INTO t VALUES (501, 'full'), (502, 'full'), (503, 'full')});
catchup($node, 'Notify.Both');
is( $node->safe_psql('postgres',
		"SELECT notifications_skipped || ':' || last_seq FROM pgcdc_drasi.status WHERE source_id = 'Notify.Both'"),
	'3:' . ($last_seq{$CH_BOTH} + 3),
	'sink both: the three events were not notified (notifications_skipped 3) but published');
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(seq || ':' || element_id, ',' ORDER BY seq) FROM pgcdc_drasi.events
		  WHERE source_id = 'Notify.Both' AND seq > $last_seq{$CH_BOTH}"),
	join(',', map { ($last_seq{$CH_BOTH} + $_) . ':t:' . (500 + $_) } 1 .. 3),
	'sink both: the queue has all three');

ok( $node->poll_query_until(
		'postgres',
		"SELECT last_error = 'the notification queue is too full to notify' FROM pgcdc_drasi.status WHERE source_id = 'nonly'"),
	'sink notify: the worker stops with "the notification queue is too full to notify"');
ok( $node->poll_query_until(
		'postgres',
		"SELECT reconnects >= $nonly_reconnects + 2 FROM pgcdc_drasi.status WHERE source_id = 'nonly'"),
	'sink notify: and retries');
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT pgcdc_drasi.wait_for_catchup('nonly', '500ms')});
like($err, qr/source "nonly" did not catch up within the timeout/, 'sink notify: it cannot publish while the queue is full');
is( $node->safe_psql('postgres', "SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'nonly'"),
	$last_seq{$CH_NONLY}, 'sink notify: its last_seq has not moved');
like( slurp_file($node->logfile),
	qr/ERROR:  the notification queue is too full to notify\n.*DETAIL:  The source publishes only through NOTIFY, so it waits until listeners have consumed their notifications\./,
	'sink notify: the server log has the error and its detail');

# Release the blocker: the queue empties.
$bin .= "COMMIT;\nSELECT 'released';\n";
$blocker->pump until $bout =~ /released/;
$bin .= "\\q\n";
$blocker->finish;
ok($node->poll_query_until('postgres', 'SELECT pg_notification_queue_usage() <= 0.00001'),
	'after COMMIT of the idle listener the notification queue drains');
catchup($node, 'nonly');
$node->safe_psql('postgres', q{INSERT INTO t VALUES (504, 'after')});
catchup($node, 'Notify.Both');
catchup($node, 'nonly');
$nn = [ map { dec($_) } @{ take($L, $CH_NONLY, 4) } ];
is(join(',', map { el($_)->{id} } @$nn), 't:501,t:502,t:503,t:504',
	'sink notify: once there is room, the three held events and the next one are notified');
check_contiguous($CH_NONLY, $nn, 'sink notify, after the queue was full');
$nb = [ map { dec($_) } @{ take($L, $CH_BOTH, 1) } ];
is(sig($nb->[0]), ($last_seq{$CH_BOTH} + 4) . ':i:t:504',
	'sink both: the listener sees a gap of three seqs, then the next event');
$last_seq{$CH_BOTH} += 4;
is_deeply($nb->[0], queued('Notify.Both', "seq = $last_seq{$CH_BOTH}")->[0], 'sink both: its payload is the queued event');
is(pending($L, $CH_NONLY) + pending($L, $CH_BOTH), 0, 'nothing else was notified');
is( $node->safe_psql('postgres',
		"SELECT notifications_skipped FROM pgcdc_drasi.status WHERE source_id = 'Notify.Both'"),
	'3', 'sink both: notifications_skipped stays 3');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pgcdc_drasi.notify_max_usage');
$node->reload;

# ------------------------------------------------------------------------
# 8. A new source starts with no notifications counted
# ------------------------------------------------------------------------
$node->safe_psql('postgres', q{SELECT pgcdc_drasi.drop_source('ovf')});
$node->safe_psql('postgres', q{SELECT pgcdc_drasi.create_source('fresh', 'pub4')});
wait_streaming($node, 'fresh');
is( $node->safe_psql('postgres',
		"SELECT events_published || ':' || notifications_sent || ':' || notifications_skipped FROM pgcdc_drasi.status WHERE source_id = 'fresh'"),
	'0:0:0', 'a new source reports 0 events and 0 notifications (nothing left from a dropped source)');

lsql($L, 'UNLISTEN *');
${ $L->{in} } .= "\\q\n";
$L->{h}->finish;
$node->stop;
done_testing();
