# 071_http_target.pl: an HTTP target delivers a source's events to a real
# HTTP receiver (test/node/http_receiver.js, which implements Drasi's HTTP
# source contract), in seq order and at least once, through failures:
#
#   1. steady delivery in the drasi-http format (single event and batch
#      endpoints), the Authorization header sent and never shown;
#   2. 503, 429, 500, timeouts and connection resets: retried with
#      backoff, counted in target_status, nothing lost or duplicated;
#      pause_target ends a request that hangs at once;
#   3. kill -9 of the delivery worker while the receiver holds a batch it
#      has accepted (the server reinitialises): the batch is sent again,
#      with an Idempotency-Key that shows it;
#   4. a PostgreSQL immediate restart in the middle of a backlog;
#   5. a 400: the target stops in state error with the response body in
#      target_status, moves no further, and resume_target sends again;
#   6. a 200 with a partial failure from Drasi: the target moves past the
#      batch (Drasi took the rest) and stops, saying so;
#   7. the webhook format (our events in a JSON array);
#   8. HTTPS to a receiver with a self-signed certificate: refused (and
#      retried) with the system's CAs, delivered with it as ca_file;
#   9. a foreign-key relation: Drasi's relation element (type relation,
#      from, to), and its delete by id.
#
# After each step the receiver's log, read back, must hold every event
# 1..last_seq at least once, in order, with the queue's id and operation;
# a request whose range overlaps the ones before (a duplicate) is allowed
# only after a crash, and its Idempotency-Key starts at the first seq not
# acknowledged.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $script = abs_path(dirname(__FILE__) . '/../node') . '/http_receiver.js';
my ($node_version, $err) = ('', '');
IPC::Run::run([ 'node', '--version' ], '>', \$node_version, '2>', \$err)
  or BAIL_OUT('node is not installed: install nodejs (scripts/install-deps.sh does)');

# ------------------------------------------------------------------------
# The receiver
# ------------------------------------------------------------------------
my $hport = PostgreSQL::Test::Cluster::get_free_port();
my ($rout, $rerr) = ('', '');
my $receiver = IPC::Run::start([ 'node', $script, $hport, 'ht' ], '>', \$rout, '2>', \$rerr);
END { $receiver->kill_kill if defined $receiver; }
my $ua = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$hport";
for (my $i = 0; $i < 100; $i++)
{
	last if $ua->get("$base/_stats")->{success};
	usleep(100_000);
}
ok($ua->get("$base/_stats")->{success}, "the receiver listens on port $hport");

sub control
{
	my ($path, $body) = @_;
	my $r = $ua->post("$base$path", { content => encode_json($body) });
	die "receiver: $path: $r->{status}" unless $r->{success};
	return;
}

sub receiver_get
{
	my ($path) = @_;
	my $r = $ua->get("$base$path");
	die "receiver: $path: $r->{status} $r->{content}" unless $r->{success};
	return decode_json($r->{content});
}

# ------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------
my $node = cdc_node(
	'http', restart_after_crash => 1, extra_conf => q{
pgcdc_drasi.retry_min_interval = '100ms'
pgcdc_drasi.retry_max_interval = '1s'
});
$node->safe_psql(
	'postgres', q{
CREATE TABLE ht_t (id bigint PRIMARY KEY, v text);
CREATE PUBLICATION ht_pub FOR TABLE ht_t;
});
create_source($node, 'ht', 'ht_pub');
wait_streaming($node, 'ht');
my $secret = 'Bearer sekret-token-42';
$node->safe_psql('postgres',
	    "SELECT pgcdc_drasi.create_consumer('keep', 'ht');"
	  . "SELECT pgcdc_drasi.create_target('h1', 'ht', kind => 'http', "
	  . "url => '$base/sources/ht/events', "
	  . "options => '{\"format\": \"drasi-http\", \"batch_size\": 200, \"timeout_ms\": 1000, "
	  . "\"headers\": {\"Authorization\": \"$secret\", \"X-Test\": \"yes\"}}')");

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
			"INSERT INTO ht_t SELECT g, 'v' || g FROM generate_series($next_id, $last) g");
		$next_id = $last + 1;
		$n -= $k;
	}
	return;
}

sub last_seq
{
	return $node->safe_psql('postgres',
		"SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'ht'");
}

sub target_row
{
	return $node->safe_psql('postgres',
		"SELECT state, delivered_seq, lag_events, retries, coalesce(last_error, ''), "
		  . "coalesce(last_error_detail, '') FROM pgcdc_drasi.target_status WHERE target_id = 'h1'");
}

sub wait_delivered
{
	my ($desc) = @_;
	catchup($node, 'ht');
	my $last = last_seq();
	ok( $node->poll_query_until(
			'postgres',
			"SELECT delivered_seq = $last FROM pgcdc_drasi.target_status WHERE target_id = 'h1'"),
		"$desc: the target delivered up to seq $last")
	  or diag('target_status: ' . target_row());
	return $last;
}

# The queue: seq => [operation, element id].
sub queue
{
	my %q;
	my %ops = (i => 'insert', u => 'update', d => 'delete');
	foreach my $line (
		split /\n/,
		$node->safe_psql('postgres',
			"SELECT seq, op, element_id FROM pgcdc_drasi.events WHERE source_id = 'ht' ORDER BY seq"))
	{
		my ($seq, $op, $id) = split /\|/, $line;
		$q{$seq} = [ $ops{$op}, $id ];
	}
	return \%q;
}

# Compare the receiver's log with the queue: every event at least once, in
# order, right id and operation; duplicates only if allowed, and then a
# replay starts at a seq the key of an earlier request covered.  Returns
# the number of duplicate events.
sub check_receiver
{
	my ($desc, $allow_dups, $skip) = @_;
	my $last = wait_delivered($desc);
	my $q = queue();
	my $log = receiver_get('/_log');
	my ($max, $dups, $bad, $replays) = (0, 0, 0, 0);
	my %seen;
	foreach my $req (@$log)
	{
		next if $req->{path} eq '/webhook';
		my ($first, $to) = ($req->{key} // '') =~ /^ht:(\d+)-(\d+)$/
		  or do { diag("$desc: bad Idempotency-Key " . ($req->{key} // 'none')); $bad++; next; };
		my @events = @{ $req->{events} };
		my $expect = $to - $first + 1 - ($req->{failed} // 0);
		if (scalar(@events) != $expect)
		{
			diag("$desc: request $req->{key} holds " . scalar(@events) . " events, not $expect");
			$bad++;
		}
		if ($first > $max + 1)
		{
			diag("$desc: gap before $req->{key} (delivered up to $max)");
			$bad++;
		}
		$replays++ if $first <= $max;
		my $seq = $first + ($req->{failed} // 0);
		foreach my $e (@events)
		{
			my $want = $q->{$seq};
			my $id = $e->{operation} eq 'delete' ? $e->{id} : $e->{element}{id};
			if (!defined $want || $e->{operation} ne $want->[0] || $id ne $want->[1])
			{
				diag("$desc: seq $seq is $e->{operation} $id, expected "
					  . (defined $want ? "@$want" : 'nothing'))
				  if $bad++ < 3;
			}
			$dups++ if $seen{$seq}++;
			$seq++;
		}
		$max = $to if $to > $max;
		if (($req->{auth} // '') ne $secret)
		{
			diag("$desc: request $req->{key} came without the Authorization header");
			$bad++;
		}
	}
	my @missing = grep { !$seen{$_} && !($skip && $skip->{$_}) } 1 .. $last;
	is(scalar(@missing), 0, "$desc: the receiver has every event 1..$last")
	  or diag("missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");
	is($bad, 0, "$desc: in seq order, with the queue's ids and operations");
	if ($allow_dups)
	{
		ok($dups == 0 || $replays > 0,
			"$desc: $dups duplicate events, each in a request whose key starts at or below one sent before");
	}
	else
	{
		is($dups, 0, "$desc: no duplicates");
	}
	return $dups;
}

# ------------------------------------------------------------------------
# 1. Steady delivery
# ------------------------------------------------------------------------
insert_rows(1, 1);
wait_delivered('one event');
my $log = receiver_get('/_log');
is($log->[0]{path}, '/sources/ht/events', 'a single event goes to /sources/{id}/events');
is($log->[0]{events}[0]{element}{type}, 'node', 'as a node element');
like(encode_json($log->[0]{events}[0]{element}{properties}), qr/"v":"v1"/, 'with its properties');
ok($log->[0]{events}[0]{timestamp} > 1e18, 'and a timestamp in ns');
insert_rows(500, 50);
$node->safe_psql('postgres', "UPDATE ht_t SET v = 'u' WHERE id <= 10; DELETE FROM ht_t WHERE id > 490");
check_receiver('steady', 0);
$log = receiver_get('/_log');
is($log->[-1]{path}, '/sources/ht/events/batch', 'several events go to /events/batch');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi target'"),
	'1', 'one delivery worker, visible in pg_stat_activity');
is($node->safe_psql('postgres',
		"SELECT options->'headers' FROM pgcdc_drasi.target_status WHERE target_id = 'h1'"),
	'{"X-Test": "********", "Authorization": "********"}', 'target_status masks the header values');

# ------------------------------------------------------------------------
# 2. 503, 429, 500, timeouts, resets
# ------------------------------------------------------------------------
my ($retries0, $reconnects0) = split /\|/,
  $node->safe_psql('postgres', "SELECT retries, reconnects FROM pgcdc_drasi.target_status");
control('/_control/faults',
	[ { mode => '503', count => 3 }, { mode => 'timeout', count => 2 },
	  { mode => 'reset', count => 2 }, { mode => '429', count => 1 },
	  { mode => '500', count => 1 } ]);
insert_rows(300, 30);
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'error' AND last_error LIKE 'HTTP 503 from http://127.0.0.1:$hport/sources/ht/events%' "
		  . "AND last_error_detail LIKE '%WAL capacity exhausted%' FROM pgcdc_drasi.target_status"),
	'a 503 shows in target_status with its body')
  or diag('target_status: ' . target_row());
check_receiver('after 503, timeouts, resets, 429 and 500', 0);
is(receiver_get('/_stats')->{pending_faults}, 0, 'every fault was met');
my $retries1 = $node->safe_psql('postgres', "SELECT retries FROM pgcdc_drasi.target_status");
ok($retries1 - $retries0 >= 7, 'each failure was retried (' . ($retries1 - $retries0) . ' retries)');
# curl keeps the connection alive across 503, 429 and 500, but not across
# a reset or a timeout: each of those four makes it connect again.
my $reconnects1 = $node->safe_psql('postgres', "SELECT reconnects FROM pgcdc_drasi.target_status");
ok($reconnects1 - $reconnects0 >= 4,
	'the connections after resets and timeouts are counted (' . ($reconnects1 - $reconnects0) . ' reconnects)');
is($node->safe_psql('postgres', "SELECT state FROM pgcdc_drasi.target_status"),
	'streaming', 'the target streams again');
my $loglines = slurp_file($node->logfile);
like($loglines, qr/could not deliver: could not POST to http:\/\/127\.0\.0\.1:$hport\/sources\/ht\/events\S*: Timeout was reached/,
	'a timeout is logged');
like($loglines, qr/could not deliver: could not POST to \S+: (Failure when receiving data from the peer|Send failure|Recv failure|Server returned nothing)/,
	'a connection reset is logged');

# pause_target while a request hangs (timeout_ms 60 s): the worker ends
# within about a second, not at the timeout.
my $opts = "{\"format\": \"drasi-http\", \"batch_size\": 200, \"headers\": {\"Authorization\": \"$secret\", \"X-Test\": \"yes\"}";
$node->safe_psql('postgres', "SELECT pgcdc_drasi.alter_target('h1', options => '$opts, \"timeout_ms\": 60000}')");
control('/_control/faults', [ { mode => 'timeout', count => 1 } ]);
my $requests = receiver_get('/_stats')->{requests};
insert_rows(5, 5);
for (my $i = 0; $i < 300 && receiver_get('/_stats')->{pending_faults} > 0; $i++)
{
	usleep(100_000);
}
is(receiver_get('/_stats')->{pending_faults}, 0, 'a request hangs in the receiver');
my $t_pause = time();
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_target('h1')");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi target'"),
	'pause_target ends the worker in the middle of the request');
ok(time() - $t_pause < 10, 'within seconds, not at the 60 s timeout (' . (time() - $t_pause) . ' s)');
$node->safe_psql('postgres',
	"SELECT pgcdc_drasi.alter_target('h1', options => '$opts, \"timeout_ms\": 1000}'); SELECT pgcdc_drasi.resume_target('h1')");
check_receiver('after a pause in the middle of a request', 0);

# ------------------------------------------------------------------------
# 3. kill -9 of the delivery worker while the receiver holds a batch
# ------------------------------------------------------------------------
control('/_control/faults', [ { mode => 'delay', count => 1, ms => 20000 } ]);
insert_rows(1000, 100);
ok(wait_for_delaying(), 'the receiver accepted a batch and holds its answer');
my $tpid = $node->safe_psql('postgres', "SELECT pid FROM pgcdc_drasi.target_status WHERE target_id = 'h1'");
kill9_and_wait_reinit($node, $tpid);
my $dups = check_receiver('after kill -9 of the delivery worker', 1);
ok($dups > 0, "the batch held at the kill was sent again ($dups duplicates)");

sub wait_for_delaying
{
	for (my $i = 0; $i < 300; $i++)
	{
		return 1 if receiver_get('/_stats')->{delaying} > 0;
		usleep(100_000);
	}
	return 0;
}

# ------------------------------------------------------------------------
# 4. PostgreSQL immediate restart mid-backlog
# ------------------------------------------------------------------------
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_target('h1')");
ok($node->poll_query_until('postgres',
		"SELECT pid IS NULL FROM pgcdc_drasi.target_status WHERE target_id = 'h1'"),
	'paused: no worker');
insert_rows(20000, 20000);
catchup($node, 'ht');
my $before = $node->safe_psql('postgres', "SELECT delivered_seq FROM pgcdc_drasi.target_status");
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_target('h1')");
ok( $node->poll_query_until(
		'postgres',
		"SELECT delivered_seq > $before + 1000 FROM pgcdc_drasi.target_status WHERE target_id = 'h1'"),
	'delivery under way before the immediate stop');
$node->stop('immediate');
$node->start;
wait_recovered($node);
check_receiver('after an immediate restart of PostgreSQL', 1);

# ------------------------------------------------------------------------
# 5. A 400 stops the target with the body in target_status
# ------------------------------------------------------------------------
my $at = wait_delivered('before the 400');
control('/_control/faults', [ { mode => '400', count => 1 } ]);
insert_rows(10, 10);
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'error' AND last_error LIKE 'HTTP 400 from http://127.0.0.1:$hport/sources/ht/events/batch for events seq "
		  . ($at + 1) . " to " . ($at + 10) . "' AND last_error_detail LIKE '%test-refusal-%' "
		  . "FROM pgcdc_drasi.target_status"),
	'a 400 stops the target: state error, the response body in last_error_detail')
  or diag('target_status: ' . target_row());
my $r400 = $node->safe_psql('postgres', "SELECT retries FROM pgcdc_drasi.target_status");
sleep(2);
is($node->safe_psql('postgres', "SELECT delivered_seq || ' ' || retries || ' ' || state FROM pgcdc_drasi.target_status"),
	"$at $r400 error", 'stopped: no retry, the position stays');
like(slurp_file($node->logfile), qr/WARNING:  pgcdc_drasi target "h1" stopped: HTTP 400/,
	'the stop is logged as a WARNING');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_target('h1')");
check_receiver('after resume_target', 1);
is($node->safe_psql('postgres', "SELECT state FROM pgcdc_drasi.target_status"),
	'streaming', 'the target streams again after resume_target');

# ------------------------------------------------------------------------
# 6. 200 with a partial failure: move past the batch, and stop
# ------------------------------------------------------------------------
$at = wait_delivered('before the partial failure');
control('/_control/faults', [ { mode => 'partial', count => 1 } ]);
insert_rows(10, 10);
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'error' AND delivered_seq = " . ($at + 10)
		  . " AND last_error LIKE 'Drasi refused some of events seq " . ($at + 1) . " to " . ($at + 10) . "%' "
		  . "AND last_error_detail LIKE '%Processed 9 events successfully, 1 failed%' FROM pgcdc_drasi.target_status"),
	'a partial failure moves past the batch and stops the target, saying which')
  or diag('target_status: ' . target_row());
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_target('h1')");
insert_rows(5, 5);
check_receiver('after the partial failure', 1, { $at + 1 => 1 });

# ------------------------------------------------------------------------
# 7. The webhook format
# ------------------------------------------------------------------------
$at = wait_delivered('before the webhook');
$node->safe_psql('postgres',
	    "SELECT pgcdc_drasi.alter_target('h1', url => '$base/webhook', "
	  . "options => '{\"format\": \"webhook\", \"headers\": {\"Authorization\": \"$secret\"}}')");
insert_rows(3, 3);
wait_delivered('webhook');
$log = receiver_get('/_log');
my @hook = grep { $_->{path} eq '/webhook' } @$log;
is(scalar(@hook), 1, 'one webhook request');
is($hook[0]{key}, 'ht:' . ($at + 1) . '-' . ($at + 3), 'Idempotency-Key: source and seq range');
is(join(',', map { $_->{metadata}{seq} . $_->{op} } @{ $hook[0]{events} }),
	join(',', map { ($at + $_) . 'i' } 1 .. 3), 'the events are our payloads, in a JSON array');

# ------------------------------------------------------------------------
# 8. HTTPS: the certificate is verified, against the system's CAs or ca_file
# ------------------------------------------------------------------------
my $tdir = PostgreSQL::Test::Utils::tempdir();
my ($sslout, $sslerr) = ('', '');
IPC::Run::run(
	[
		'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
		'-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
		'-keyout', "$tdir/key.pem", '-out', "$tdir/cert.pem"
	],
	'>', \$sslout, '2>', \$sslerr) or BAIL_OUT("openssl: $sslerr");
chmod(0644, "$tdir/key.pem", "$tdir/cert.pem");
my $sport = PostgreSQL::Test::Cluster::get_free_port();
my ($sout, $serr) = ('', '');
my $tls_receiver = IPC::Run::start(
	[ 'node', $script, $sport, 'ht', '--tls', "$tdir/key.pem", "$tdir/cert.pem" ],
	'>', \$sout, '2>', \$serr);
END { $tls_receiver->kill_kill if defined $tls_receiver; }
for (my $i = 0; $i < 100 && $sout !~ /listening/; $i++)
{
	$tls_receiver->pump_nb;
	usleep(100_000);
}
like($sout, qr/listening $sport/, "the HTTPS receiver listens on port $sport");
$at = wait_delivered('before HTTPS');
$node->safe_psql('postgres',
	    "SELECT pgcdc_drasi.alter_target('h1', url => 'https://127.0.0.1:$sport/sources/ht/events', "
	  . "options => '{\"headers\": {\"Authorization\": \"$secret\"}, \"timeout_ms\": 1000}')");
insert_rows(2, 2);
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'error' AND retries > 0 AND last_error LIKE 'could not POST to https://127.0.0.1:$sport/sources/ht/events/batch: %certificate%' "
		  . "FROM pgcdc_drasi.target_status"),
	'a self-signed certificate is refused with the system CAs, and retried')
  or diag('target_status: ' . target_row());
is($node->safe_psql('postgres', "SELECT delivered_seq FROM pgcdc_drasi.target_status"),
	$at, 'nothing delivered over an unverified connection');
$node->safe_psql('postgres',
	    "SELECT pgcdc_drasi.alter_target('h1', "
	  . "options => '{\"headers\": {\"Authorization\": \"$secret\"}, \"ca_file\": \"$tdir/cert.pem\"}')");
wait_delivered('HTTPS with ca_file');
is($node->safe_psql('postgres', "SELECT state FROM pgcdc_drasi.target_status"),
	'streaming', 'with its certificate as ca_file the target streams');
$tls_receiver->kill_kill;

# ------------------------------------------------------------------------
# 9. Relations: a foreign key becomes a Drasi HTTP relation element
# ------------------------------------------------------------------------
$node->safe_psql('postgres',
	    "SELECT pgcdc_drasi.alter_target('h1', url => '$base/sources/ht/events', "
	  . "options => '{\"headers\": {\"Authorization\": \"$secret\"}}')");
wait_delivered('back on HTTP');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source('ht')");
$node->safe_psql(
	'postgres', q{
CREATE TABLE ht_c (id int PRIMARY KEY, name text);
CREATE TABLE ht_o (id int PRIMARY KEY, c_id int REFERENCES ht_c);
ALTER PUBLICATION ht_pub ADD TABLE ht_c, ht_o;
SELECT pgcdc_drasi.set_relations('ht', 'foreign_keys');
SELECT pgcdc_drasi.resume_source('ht');
});
wait_streaming($node, 'ht');
$node->safe_psql('postgres', "INSERT INTO ht_c VALUES (1, 'a'); INSERT INTO ht_o VALUES (7, 1)");
$node->safe_psql('postgres', "DELETE FROM ht_o WHERE id = 7");
wait_delivered('relations');
{
	my @rel;
	foreach my $req (@{ receiver_get('/_log') })
	{
		next if $req->{path} eq '/webhook';
		foreach my $e (@{ $req->{events} })
		{
			my $id = $e->{operation} eq 'delete' ? $e->{id} : $e->{element}{id};
			next unless $id =~ /->/;
			push @rel,
			  $e->{operation} eq 'delete'
			  ? "delete $e->{id} @{ $e->{labels} }"
			  : "$e->{operation} $e->{element}{type} $e->{element}{id} @{ $e->{element}{labels} } "
			  . "$e->{element}{from} $e->{element}{to}";
		}
	}
	is( join("\n", @rel),
		"insert relation ht_o->C:7 C ht_o:7 ht_c:1\ndelete ht_o->C:7 C",
		'a relation reaches Drasi\'s HTTP format as type relation with from and to, and its delete by id');
}

# The header never reaches the log.
my $slog = join("\n", grep { !/statement:|STATEMENT:/ } split(/\n/, slurp_file($node->logfile)));
unlike($slog, qr/sekret-token-42/, 'the Authorization header is not in the server log (but for statements)');

$node->safe_psql('postgres', "SELECT pgcdc_drasi.drop_target('h1')");
$node->stop;
done_testing();
