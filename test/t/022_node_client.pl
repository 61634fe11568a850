# 022_node_client.pl: a real Node.js client (test/node/listen_and_ack.js,
# node-postgres from the npm registry) LISTENs on a source's channel and
# reads/acks through a consumer, over the unix socket.
#
# Nothing is skipped: without node, or without test/node/node_modules (which
# test/run.sh installs with "npm ci"; this test runs "npm ci" itself when
# they are missing), the test fails.
#
#   1. sink both, full payloads: a multi-row transaction, an update, a
#      delete and a large event (a reference the client fetches with
#      get_events); the client reports the exact seqs, ops and element ids
#      from both paths, and its acks move the consumer.
#   2. wake-up payloads: the client fetches each announced range with
#      get_events; the consumer goes on where it stopped.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $nodedir = abs_path(dirname(__FILE__) . '/../node');
my $script = "$nodedir/listen_and_ack.js";

# node and its modules: required, never skipped.
my ($node_version, $err) = ('', '');
my $have_node = IPC::Run::run([ 'node', '--version' ], '>', \$node_version, '2>', \$err);
chomp $node_version;
ok($have_node && $node_version =~ /^v\d+\./, "node is installed ($node_version)")
  or BAIL_OUT('node is not installed: install nodejs and npm (scripts/install-deps.sh does)');
if (!-f "$nodedir/node_modules/pg/package.json")
{
	note('test/node/node_modules is missing: running npm ci');
	my ($out, $nerr) = ('', '');
	IPC::Run::run([ 'npm', 'ci', '--no-audit', '--no-fund', '--prefix', $nodedir ], '>', \$out, '2>', \$nerr)
	  or diag("npm ci failed:\n$out\n$nerr");
}
ok(-f "$nodedir/node_modules/pg/package.json", 'node-postgres (pg) is installed in test/node/node_modules')
  or BAIL_OUT('node-postgres is missing: run "npm ci" in test/node');
my $pg_version = JSON::PP->new->decode(slurp_file("$nodedir/node_modules/pg/package.json"))->{version};
note("node $node_version, node-postgres $pg_version");

my $node = cdc_node('node_client');
$node->safe_psql(
	'postgres', q{
CREATE TABLE items (id int PRIMARY KEY, name text, blob text);
CREATE PUBLICATION items_pub FOR TABLE items;
SELECT pgcdc_drasi.create_source('node-src', 'items_pub', sink => 'both');
SELECT pgcdc_drasi.create_consumer('node-app', 'node-src', 'latest');
});
wait_streaming($node, 'node-src');
my $channel = $node->safe_psql('postgres', "SELECT channel FROM pgcdc_drasi.sources WHERE source_id = 'node-src'");
is($channel, 'pgcdc_node_src', 'the channel is pgcdc_ + the sanitized source id');

# Run the client in the background until it printed READY (it LISTENs).
sub start_client
{
	my (%args) = @_;
	my ($out, $cerr) = ('', '');
	my $user = getpwuid($<);
	local %ENV = (
		%ENV,
		PGHOST => $node->host,
		PGPORT => $node->port,
		PGDATABASE => 'postgres',
		PGUSER => $user);
	my $h = IPC::Run::start(
		[
			'node', $script, '--source', 'node-src', '--channel', $channel,
			'--consumer', 'node-app', '--events', $args{events}, '--batch', $args{batch},
			'--timeout', 60000
		],
		'>', \$out, '2>', \$cerr,
		IPC::Run::timeout(120));
	$h->pump until $out =~ /^READY$/m || $cerr ne '' || !$h->pumpable;
	ok($out =~ /^READY$/m, 'the client is connected and LISTENing') or diag("client stderr: $cerr");
	return { h => $h, out => \$out, err => \$cerr };
}

sub finish_client
{
	my ($c) = @_;
	my $ok = $c->{h}->finish;
	ok($ok, 'the client finished successfully') or diag("client stderr: ${ $c->{err} }\nstdout: ${ $c->{out} }");
	my ($line) = grep { /^\{/ } split /\n/, ${ $c->{out} };
	my $summary = defined $line ? JSON::PP->new->decode($line) : {};
	is($summary->{error}, undef, 'the client reports no error');
	return $summary;
}

sub sigs
{
	my ($list) = @_;
	return join(' ', map { "$_->{seq}:$_->{op}:" . ($_->{id} // '-') } @$list);
}

# ------------------------------------------------------------------------
# 1. Full payloads, one large event by reference
# ------------------------------------------------------------------------
my $c = start_client(events => 8, batch => 3);
$node->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO items VALUES (1, 'one', NULL), (2, 'two', NULL), (3, 'three', NULL);
COMMIT;
UPDATE items SET name = 'TWO' WHERE id = 2;
DELETE FROM items WHERE id = 3;
INSERT INTO items VALUES (4, 'large', repeat('z', 12000));
BEGIN;
INSERT INTO items VALUES (5, 'five', NULL);
INSERT INTO items VALUES (6, 'six', NULL);
COMMIT;
});
my $s = finish_client($c);
my $want = '1:i:items:1 2:i:items:2 3:i:items:3 4:u:items:2 5:d:items:3 6:i:items:4 7:i:items:5 8:i:items:6';
is(sigs($s->{notified}), $want, 'notifications: the exact seqs, ops and element ids, in commit order');
is(join(' ', map { $_->{via} } @{ $s->{notified} }), 'event event event event event ref event event',
	'notifications: the large event came as a reference, the others whole');
is($s->{notifications}[5], '{"source":"node-src","seq":6,"op":"i","label":"items","id":"items:4","ref":true}',
	'notifications: the exact reference payload');
is($s->{notified}[5]{maxValueLength}, 12000, 'the client fetched the whole large event with get_events');
is_deeply($s->{duplicates}, [], 'no event was notified twice');
is(scalar(@{ $s->{notifications} }), 8, 'eight notifications');
is(sigs($s->{consumed}), $want, 'consumer: the same events, read in seq order');
is($s->{consumed}[5]{maxValueLength}, 12000, 'consumer: the large event is read whole from the queue');
is($s->{acked}, 8, 'the client acknowledged up to seq 8');
is( $node->safe_psql('postgres',
		"SELECT acked_seq || ':' || last_seq || ':' || lag_events FROM pgcdc_drasi.consumer_status WHERE consumer = 'node-app'"),
	'8:8:0', 'consumer_status: acked 8, no lag');

# ------------------------------------------------------------------------
# 2. Wake-up payloads: ranges fetched with get_events
# ------------------------------------------------------------------------
$node->safe_psql('postgres', q{SELECT pgcdc_drasi.alter_source('node-src', notify_payload => 'wakeup')});
$c = start_client(events => 4, batch => 100);
$node->safe_psql('postgres', q{INSERT INTO items VALUES (7, 'seven', NULL), (8, 'eight', NULL)});
catchup($node, 'node-src');
$node->safe_psql('postgres', q{INSERT INTO items VALUES (9, 'nine', repeat('w', 9000)); DELETE FROM items WHERE id = 1;});
$s = finish_client($c);
$want = '9:i:items:7 10:i:items:8 11:i:items:9 12:d:items:1';
is(sigs($s->{notified}), $want, 'wake-up: the events fetched from the announced ranges, in order');
is(join(' ', map { $_->{via} } @{ $s->{notified} }), 'range range range range', 'wake-up: every event came from a range');
is($s->{notifications}[0], '{"source":"node-src","firstSeq":9,"lastSeq":10}',
	'wake-up: one notification for the two-row transaction, exactly');
my ($next, $ranges_ok) = (9, 1);
foreach my $n (@{ $s->{notifications} })
{
	if ($n =~ /^\{"source":"node-src","firstSeq":(\d+),"lastSeq":(\d+)\}$/ && $1 == $next && $2 >= $1) { $next = $2 + 1; }
	else { $ranges_ok = 0; diag("unexpected notification $n"); }
}
ok($ranges_ok && $next == 13, 'wake-up: the ranges are contiguous and cover 9..12');
is($s->{notified}[2]{maxValueLength}, 9000, 'wake-up: the large event is fetched whole');
is_deeply($s->{duplicates}, [], 'wake-up: no event twice');
is(sigs($s->{consumed}), $want, 'consumer: goes on at seq 9');
is($s->{acked}, 12, 'the client acknowledged up to seq 12');
is( $node->safe_psql('postgres',
		"SELECT acked_seq || ':' || lag_events FROM pgcdc_drasi.consumer_status WHERE consumer = 'node-app'"),
	'12:0', 'consumer_status: acked 12, no lag');

$node->stop;
done_testing();
