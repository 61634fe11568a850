# 012_prerequisites.pl: create_source refuses clearly when a prerequisite is
# missing, and leaves nothing behind.
#
# (a) the library is not in shared_preload_libraries: CREATE EXTENSION works,
#     create_source fails with SQLSTATE 55000;
# (b) wal_level = replica: create_source fails with SQLSTATE 55000; after
#     wal_level = logical and a restart it works (done in (c));
# (c) slot creation waits for a transaction of another session that has
#     written: with pgcdc_drasi.create_slot_timeout = 500ms create_source fails
#     with SQLSTATE 55P03 after about 500 ms and leaves no slot, origin or
#     source; after the other session commits, create_source succeeds.
#     (bootstrap => false: only then does create_source create the slot
#     itself; with the initial snapshot, the default, the worker does.)

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

# Run SQL with verbose errors (SQLSTATE in the message); returns ($ret, $stdout, $stderr).
sub psql_verbose
{
	my ($node, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	return ($ret, $out, $err);
}

sub leftovers
{
	my ($node) = @_;
	return $node->safe_psql(
		'postgres', q{
SELECT (SELECT count(*) FROM pg_replication_slots) || ',' ||
       (SELECT count(*) FROM pg_replication_origin) || ',' ||
       (SELECT count(*) FROM pgcdc_drasi.sources)});
}

##############################################################################
# (a) not preloaded
##############################################################################

my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init(allows_streaming => 'logical');
$plain->append_conf('postgresql.conf', "max_worker_processes = 16\n");
$plain->start;
is($plain->safe_psql('postgres', 'SHOW shared_preload_libraries'), '',
	'(a) shared_preload_libraries is empty');
$plain->safe_psql('postgres',
	'CREATE TABLE t(id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE t');

# Loading the library outside shared_preload_libraries (CREATE FUNCTION ...
# LANGUAGE C loads it) must not fail: the SQL functions report the missing
# preload instead.
my ($ret, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION pgcdc_drasi');
is($ret, 0, '(a) CREATE EXTENSION works without the preload') or diag($err);
is($plain->safe_psql('postgres', "SELECT count(*) FROM pg_extension WHERE extname = 'pgcdc_drasi'"),
	'1', '(a) the extension exists');

($ret, $out, $err) = psql_verbose($plain,
	"SELECT pgcdc_drasi.create_source('s', publication => 'p')");
isnt($ret, 0, '(a) create_source fails');
like(
	$err,
	qr/ERROR:  55000: pgcdc_drasi is not loaded through shared_preload_libraries\n/,
	'(a) error: not loaded through shared_preload_libraries, SQLSTATE 55000');
like(
	$err,
	qr/HINT:  Add pgcdc_drasi to shared_preload_libraries in postgresql.conf and restart the server\./,
	'(a) the hint says what to do');
is( $plain->safe_psql(
		'postgres',
		'SELECT (SELECT count(*) FROM pg_replication_slots) || \',\' || (SELECT count(*) FROM pg_replication_origin)'
	),
	'0,0',
	'(a) no slot or origin left');
($ret, $out, $err) = $plain->psql('postgres', 'SELECT count(*) FROM pgcdc_drasi.sources');
is("$ret:$out", '0:0', '(a) no source recorded') or diag($err);
is( $plain->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pgcdc_drasi%'"),
	'0', '(a) no pgcdc_drasi process runs');
$plain->stop;

##############################################################################
# (b) wal_level = replica
##############################################################################

my $node = PostgreSQL::Test::Cluster->new('prereq');
$node->init(allows_streaming => 1);
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pgcdc_drasi'
pgcdc_drasi.retry_min_interval = '200ms'
max_worker_processes = 16
});
$node->start;
is($node->safe_psql('postgres', 'SHOW wal_level'), 'replica', '(b) wal_level is replica');
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE t(id int PRIMARY KEY);
CREATE TABLE other(id int PRIMARY KEY);
CREATE PUBLICATION p FOR TABLE t;
});
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi launcher'"),
	'(b) the launcher runs');

($ret, $out, $err) = psql_verbose($node,
	"SELECT pgcdc_drasi.create_source('s', publication => 'p')");
isnt($ret, 0, '(b) create_source fails');
like(
	$err,
	qr/ERROR:  55000: wal_level must be "logical" to capture changes\n/,
	'(b) error: wal_level must be "logical", SQLSTATE 55000');
like($err, qr/HINT:  Set wal_level = logical in postgresql.conf and restart the server\./,
	'(b) the hint says what to do');
is(leftovers($node), '0,0,0', '(b) no slot, origin or source left');

$node->append_conf('postgresql.conf', "wal_level = logical\n");
$node->restart;
is($node->safe_psql('postgres', 'SHOW wal_level'), 'logical', 'wal_level is now logical');

##############################################################################
# (c) slot creation times out behind a transaction that has written
##############################################################################

my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN');
$bg->query_safe('INSERT INTO other VALUES (1)');
my $xid = $bg->query_safe('SELECT pg_current_xact_id_if_assigned()');
like($xid, qr/^\d+$/, "(c) the other session holds transaction $xid, which has written");

my $t0 = time();
($ret, $out, $err) = psql_verbose(
	$node, q{
SET pgcdc_drasi.create_slot_timeout = '500ms';
SELECT pgcdc_drasi.create_source('s', publication => 'p', bootstrap => false);});
my $elapsed = time() - $t0;
isnt($ret, 0, '(c) create_source fails');
like(
	$err,
	qr/ERROR:  55P03: could not create replication slot "pgcdc_s" within 500 ms\n/,
	'(c) error: could not create replication slot within 500 ms, SQLSTATE 55P03');
like($err, qr/HINT:  End or cancel the long-running transactions shown in pg_stat_activity, or raise pgcdc_drasi.create_slot_timeout\./,
	'(c) the hint names the cause and the setting');
note(sprintf('(c) create_source failed after %.2f s', $elapsed));
ok($elapsed >= 0.5 && $elapsed < 5,
	sprintf('(c) it waited about the timeout (%.2f s), not the default 10 s', $elapsed));
is(leftovers($node), '0,0,0', '(c) no slot, origin or source left');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source'"),
	'0', '(c) no source worker');

$bg->query_safe('COMMIT');
$bg->quit;

($ret, $out, $err) = $node->psql(
	'postgres', q{
SET pgcdc_drasi.create_slot_timeout = '500ms';
SELECT pgcdc_drasi.create_source('s', publication => 'p', bootstrap => false);});
is($ret, 0, '(c) after the other session committed, create_source succeeds') or diag($err);
is( $node->safe_psql(
		'postgres', q{
SELECT (SELECT string_agg(slot_name || ':' || plugin || ':' || database, ',') FROM pg_replication_slots) || ',' ||
       (SELECT string_agg(roname, ',') FROM pg_replication_origin) || ',' ||
       (SELECT string_agg(source_id || ':' || slot_name, ',') FROM pgcdc_drasi.sources)}),
	'pgcdc_s:pgoutput:postgres,pgcdc_drasi_pgcdc_s,s:pgcdc_s',
	'(c) one slot, one origin, one source');
ok( $node->poll_query_until(
		'postgres', q{
SELECT s.state = 'streaming' AND a.backend_type = 'pgcdc_drasi source'
  FROM pgcdc_drasi.status s JOIN pg_stat_activity a ON a.pid = s.pid
 WHERE s.source_id = 's'}),
	'(c) the source streams');
$node->safe_psql('postgres', 'INSERT INTO t VALUES (1)');
$node->safe_psql('postgres', "SELECT pgcdc_drasi.wait_for_catchup('s', '60s')");
is( $node->safe_psql('postgres',
		"SELECT string_agg(element_id || ':' || op, ',' ORDER BY seq) FROM pgcdc_drasi.events WHERE source_id = 's'"),
	't:1:i', '(c) the source publishes');

$node->stop;
done_testing();
