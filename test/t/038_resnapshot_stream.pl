# 038_resnapshot_stream.pl: re-snapshots and the stream around them.
#
#   1. A re-snapshot that takes longer than wal_sender_timeout (3 s here):
#      the worker tells the server it is alive between batches, so the
#      walsender does not give up on it; the same worker streams on.
#   2. A re-snapshot whose snapshot lists a transaction the worker has
#      published but that still runs (it waits for a synchronous standby
#      that does not exist): the worker waits for it to end, and says so
#      in the status view (waiting_for), then takes the re-snapshot.
#   3. A re-snapshot of all tables taken after a table left the
#      publication, before the stream brought an earlier change to that
#      table: the change (which the snapshot did not read) is still
#      published.
#   4. A server that stops answering (its walsender is stopped with
#      SIGSTOP): the worker gives up the connection after
#      wal_receiver_timeout (2 s here) and streams again once it answers.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $wide_rows = $ENV{PGCDC_TEST_RESNAPSHOT_ROWS} // 300000;
my $node = cdc_node(
	'resnapshot_stream', extra_conf => q{
wal_sender_timeout = 3s
pgcdc_drasi.batch_size = 100
});
$node->safe_psql(
	'postgres', qq{
CREATE TABLE wide (id int PRIMARY KEY, pad text);
INSERT INTO wide SELECT g, repeat('x', 200) FROM generate_series(1, $wide_rows) g;
CREATE PUBLICATION wide_pub FOR TABLE wide;
CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (id int PRIMARY KEY);
CREATE PUBLICATION ab_pub FOR TABLE a, b;
INSERT INTO a VALUES (1), (2);
});

##############################################################################
# 1. a long re-snapshot
##############################################################################

create_source($node, 'wide', 'wide_pub');
wait_streaming($node, 'wide');
my $pid = source_pid($node, 'wide');
my $t0 = time();
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot('wide')");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'wide' AND op = 'i' AND snapshot IS NOT NULL",
		$wide_rows),
	"(1) the re-snapshot wrote $wide_rows rows");
note(sprintf('(1) the re-snapshot took about %d s', time() - $t0));
$node->safe_psql('postgres', "INSERT INTO wide VALUES (0, 'after')");
catchup($node, 'wide', desc => '(1) the worker streams after the re-snapshot');
is(queue_count($node, 'wide', "element_id = 'wide:0'"), '1', '(1) the change after it is published');
is(source_pid($node, 'wide'), $pid, '(1) the same worker: the walsender did not time out');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminating walsender process due to replication timeout/,
	'(1) no walsender timeout in the server log');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.drop_source('wide')");

##############################################################################
# 2. waiting for a transaction that committed but still runs
##############################################################################

create_source($node, 'ab', 'ab_pub');
wait_streaming($node, 'ab');
$node->safe_psql('postgres', q{
ALTER SYSTEM SET synchronous_standby_names = 'nobody';
ALTER SYSTEM SET synchronous_commit = local;
SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', 'SHOW synchronous_standby_names', 'nobody'),
	'(2) a synchronous standby that does not exist is required');

my ($in, $out, $err) = ('', '', '');
my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "SET synchronous_commit = on;\nBEGIN;\nINSERT INTO a VALUES (3);\n"
  . "SELECT 'xid=' || pg_current_xact_id();\nCOMMIT;\n";
$h->pump until $out =~ /xid=(\d+)/;
my $xid = $1;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'ab' AND element_id = 'a:3'", '1'),
	"(2) transaction $xid is published while it waits for the standby");
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot('ab')");
ok( $node->poll_query_until('postgres',
		"SELECT waiting_for LIKE 'transaction $xid %' FROM pgcdc_drasi.status WHERE source_id = 'ab'"),
	"(2) the status view shows the worker waiting for transaction $xid");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'ab' AND snapshot IS NOT NULL"),
	'0', '(2) no re-snapshot while it runs');
# End the wait for the standby: the transaction leaves the proc array.
$node->safe_psql('postgres',
	"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE backend_xid = '$xid'");
$h->finish;
ok( $node->poll_query_until('postgres',
		"SELECT string_agg(element_id, ',' ORDER BY seq) FROM pgcdc_drasi.events
		  WHERE source_id = 'ab' AND snapshot IS NOT NULL AND op = 'i' AND label = 'a'",
		'a:1,a:2,a:3'),
	'(2) then the re-snapshot is taken, and shows the transaction');
is($node->safe_psql('postgres', "SELECT waiting_for FROM pgcdc_drasi.status WHERE source_id = 'ab'"),
	'', '(2) the worker waits for nothing any more');
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET synchronous_standby_names;
ALTER SYSTEM RESET synchronous_commit;
SELECT pg_reload_conf();});

##############################################################################
# 3. all tables, one of which left the publication
##############################################################################

$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source('ab')");
ok($node->poll_query_until('postgres', "SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = 'ab'"),
	'(3) the source is paused');
# A large transaction on a table outside the publication comes first: the
# walsender takes seconds to decode it, so the worker, idle meanwhile,
# takes the re-snapshot before the change to b reaches it.
$node->safe_psql('postgres',
	'CREATE TABLE other (id int); INSERT INTO other SELECT generate_series(1, 1000000)');
$node->safe_psql('postgres', 'INSERT INTO b VALUES (1)');
$node->safe_psql('postgres', 'ALTER PUBLICATION ab_pub DROP TABLE b');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resnapshot('ab')");
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source('ab')");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'ab' AND snapshot IS NOT NULL AND op = 't'",
		'3'),
	'(3) the second re-snapshot was taken');
$node->safe_psql('postgres', 'INSERT INTO a VALUES (4)');
catchup($node, 'ab', desc => '(3) the worker catches up');
note('(3) events: ' . $node->safe_psql('postgres',
		"SELECT string_agg(seq || ' ' || op || ' ' || coalesce(element_id, label) || CASE WHEN snapshot IS NULL THEN '' ELSE ' (snapshot)' END, ', ' ORDER BY seq)
		   FROM pgcdc_drasi.events WHERE source_id = 'ab'"));
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'ab' AND element_id = 'b:1' AND op = 'i'"),
	'1', '(3) the change to b, which the re-snapshot did not read, is published once');
is(queue_count($node, 'ab', "element_id = 'a:4'"), '1', '(3) the stream goes on');

##############################################################################
# 4. a server that stops answering
##############################################################################

$node->safe_psql('postgres', q{
ALTER SYSTEM SET wal_receiver_timeout = '2s';
SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', 'SHOW wal_receiver_timeout', '2s'),
	'(4) wal_receiver_timeout = 2s is in effect');
sleep(2);	# the worker takes the reload at its next loop
my $ws = walsender_pid($node, 'ab');
like($ws, qr/^\d+$/, "(4) the walsender of source ab is process $ws");
kill 'STOP', $ws;
my $timed_out = 0;
for (1 .. 300)
{
	$timed_out = 1
	  if slurp_file($node->logfile) =~
	  /ERROR:  terminating replication stream of source "ab" due to timeout/;
	last if $timed_out;
	usleep(100_000);
}
kill 'CONT', $ws;
ok($timed_out, '(4) the worker gave up the silent connection ("terminating replication stream of source \"ab\" due to timeout" in the server log)');
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET wal_receiver_timeout;
SELECT pg_reload_conf();});
$node->safe_psql('postgres', 'INSERT INTO a VALUES (5)');
catchup($node, 'ab', desc => '(4) the worker streams again');
is(queue_count($node, 'ab', "element_id = 'a:5'"), '1', '(4) the change after it is published');

$node->stop;
done_testing();
