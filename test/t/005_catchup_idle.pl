# 005_catchup_idle.pl: an idle source does not pin WAL; wait_for_catchup;
# pause_source / resume_source.
#
# - Writes only to an unpublished table must move the slot's
#   confirmed_flush_lsn past them (the worker confirms what it was sent even
#   when nothing was published), and wait_for_catchup must return.
# - pause_source stops the worker (state 'paused', no backend, slot
#   inactive); wait_for_catchup then fails on its timeout; resume_source
#   brings the worker back and the changes made while paused arrive exactly
#   once.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $source = 'idle-db';
my $src = q_lit($source);
my $node = cdc_node('catchup_idle');

$node->safe_psql(
	'postgres', q{
CREATE TABLE pub_t(id int PRIMARY KEY, v text);
CREATE TABLE unpub_t(id int PRIMARY KEY, v text);
CREATE PUBLICATION idle_pub FOR TABLE pub_t;
});
create_source($node, $source, 'idle_pub');
my $pid = wait_streaming($node, $source, desc => 'worker streaming');
my $slot = source_slot($node, $source);
like($slot, qr/\S/, "source has slot $slot");
is( $node->safe_psql('postgres',
		"SELECT plugin FROM pg_replication_slots WHERE slot_name = " . q_lit($slot)),
	'pgoutput',
	'the slot is a pgoutput logical slot');

$node->safe_psql('postgres', q{INSERT INTO pub_t VALUES (1, 'a'), (2, 'b')});
catchup($node, $source, desc => 'first changes caught up');
my @expected = ('pub_t:1:i', 'pub_t:2:i');
check_queue($node, $source, expected_sql(@expected), 'published changes');

# Writes to the unpublished table only.
my $sql = "INSERT INTO unpub_t SELECT g, 'x' FROM generate_series(1, 1000) g;\n";
$sql .= "INSERT INTO unpub_t VALUES ($_, 'y');\n" for 1001 .. 1020;
$sql .= "UPDATE unpub_t SET v = 'z';\nDELETE FROM unpub_t WHERE id > 500;\n";
$node->safe_psql('postgres', $sql);
my $lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');

ok( $node->poll_query_until(
		'postgres',
		"SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = "
		  . q_lit($slot)),
	"confirmed_flush_lsn moves past $lsn with only unpublished writes")
  or diag(
	$node->safe_psql(
		'postgres', 'SELECT * FROM pg_replication_slots',
		extra_params => ['-x']));
is( $node->safe_psql('postgres',
		"SELECT confirmed_lsn >= '$lsn' FROM pgcdc_drasi.status WHERE source_id = $src"),
	't',
	'status shows the confirmed position');
catchup($node, $source, desc => 'wait_for_catchup returns after unpublished writes');
catchup($node, $source, desc => 'wait_for_catchup returns with no new WAL');
check_queue($node, $source, expected_sql(@expected), 'unpublished writes add nothing');

# Pause.
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source($src)");
ok( $node->poll_query_until(
		'postgres', qq{
SELECT s.state = 'paused' AND NOT s.enabled
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source')
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity
                        WHERE backend_type = 'walsender' AND application_name = 'pgcdc_drasi:$source')
       AND NOT r.active
  FROM pgcdc_drasi.status s JOIN pg_replication_slots r USING (slot_name)
 WHERE s.source_id = $src}),
	'pause_source: state paused, no worker, no walsender, slot inactive')
  or diag(status_row($node, $source));

# Changes while paused.
$node->safe_psql(
	'postgres', q{
INSERT INTO pub_t VALUES (3, 'c');
UPDATE pub_t SET v = 'bb' WHERE id = 2;
DELETE FROM pub_t WHERE id = 1;
INSERT INTO pub_t SELECT g, 'm' FROM generate_series(4, 50) g;
});
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT pgcdc_drasi.wait_for_catchup($src, '2s')");
isnt($ret, 0, 'wait_for_catchup fails on its timeout while paused');
like($err, qr/ERROR/, 'with an error');
is(queue_count($node, $source), scalar(@expected), 'nothing published while paused');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source'"),
	'0',
	'still no worker while paused');

# Resume.
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source($src)");
my $pid2 = wait_streaming($node, $source, not_pid => $pid,
	desc => 'resume_source starts the worker again');
is( $node->safe_psql('postgres',
		"SELECT enabled FROM pgcdc_drasi.status WHERE source_id = $src"),
	't',
	'enabled again');
catchup($node, $source, desc => 'caught up after resume');
push @expected, 'pub_t:3:i', 'pub_t:2:u', 'pub_t:1:d', [ 'pub_t', 4, 50, 'i' ];
check_queue($node, $source, expected_sql(@expected), 'changes made while paused, exactly once');
check_invariants($node, $source, 'after pause and resume');

# Pause and resume again without changes in between, then one change.
$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source($src)");
ok( $node->poll_query_until(
		'postgres', qq{
SELECT state = 'paused'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source')
  FROM pgcdc_drasi.status WHERE source_id = $src}),
	'paused again');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source($src)");
wait_streaming($node, $source, not_pid => $pid2, desc => 'resumed again');
$node->safe_psql('postgres', q{INSERT INTO pub_t VALUES (51, 'last')});
catchup($node, $source, desc => 'caught up after second resume');
push @expected, 'pub_t:51:i';
check_queue($node, $source, expected_sql(@expected), 'after second pause and resume');
check_invariants($node, $source, 'after second pause and resume');

$node->stop;
done_testing();
