# 013_multi_db.pl: sources in two databases of one cluster.
#
# Both databases have the extension and a source with the same id 'orders'.
# Slot names are cluster-wide, so the second source must choose another slot
# name; without one create_source refuses (the default slot belongs to the
# other database).  Each source writes only its own database's queue.  After
# a restart of the node both sources come back by themselves (the launcher
# scans every database; there is no per-database setting), and every change
# is in its queue exactly once, in commit order.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('multi_db');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pgcdc_drasi'
pgcdc_drasi.retry_min_interval = '200ms'
max_worker_processes = 16
});
$node->start;

my @dbs = ('db1', 'db2');
my %first = (db1 => 1, db2 => 1001);
foreach my $db (@dbs)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql(
		$db, qq{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE orders(id int PRIMARY KEY, db text NOT NULL);
CREATE PUBLICATION orders_pub FOR TABLE orders;
INSERT INTO orders SELECT g, '$db' FROM generate_series($first{$db}, $first{$db} + 49) g;
});
}

# Wait until the source of a database streams; returns its worker pid.
sub wait_streaming
{
	my ($db, $desc) = @_;
	my $ok = $node->poll_query_until(
		$db, q{
SELECT s.state = 'streaming' AND a.backend_type = 'pgcdc_drasi source' AND a.datname = current_database()
  FROM pgcdc_drasi.status s JOIN pg_stat_activity a ON a.pid = s.pid
 WHERE s.source_id = 'orders'});
	ok($ok, $desc)
	  or diag($node->safe_psql($db, 'SELECT * FROM pgcdc_drasi.status', extra_params => ['-x']));
	return $node->safe_psql($db, "SELECT pid FROM pgcdc_drasi.status WHERE source_id = 'orders'");
}

# Default settings: the worker takes an initial snapshot of the 50 rows, then
# streams.
$node->safe_psql('db1', "SELECT pgcdc_drasi.create_source('orders', publication => 'orders_pub')");
wait_streaming('db1', 'db1: source streaming');

# The default slot name pgcdc_orders is taken by db1's source.
my ($ret, $out, $err) = $node->psql('db2',
	"\\set VERBOSITY verbose\nSELECT pgcdc_drasi.create_source('orders', publication => 'orders_pub')");
isnt($ret, 0, 'db2: create_source with the default slot name fails');
like(
	$err,
	qr/ERROR:  55006: replication slot "pgcdc_orders" is used by another consumer\nDETAIL:  The slot belongs to another database\.\nHINT:  Choose another slot_name\./,
	'db2: error says the slot belongs to another database, SQLSTATE 55006');
is( $node->safe_psql('db2', 'SELECT count(*) FROM pgcdc_drasi.sources'),
	'0', 'db2: no source recorded by the failed call');

$node->safe_psql('db2',
	"SELECT pgcdc_drasi.create_source('orders', publication => 'orders_pub', slot_name => 'pgcdc_orders_db2')"
);
wait_streaming('db2', 'db2: source streaming');

is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(s.slot_name || ':' || d.datname || ':' || s.plugin, ',' ORDER BY s.slot_name)
  FROM pg_replication_slots s JOIN pg_database d ON d.oid = s.datoid}),
	'pgcdc_orders:db1:pgoutput,pgcdc_orders_db2:db2:pgoutput',
	'one slot per database');
is( $node->safe_psql('postgres',
		'SELECT string_agg(roname, \',\' ORDER BY roname) FROM pg_replication_origin'),
	'pgcdc_drasi_pgcdc_orders,pgcdc_drasi_pgcdc_orders_db2',
	'one origin per source');

my %pid;
foreach my $db (@dbs)
{
	$pid{$db} = $node->safe_psql($db, "SELECT pid FROM pgcdc_drasi.status WHERE source_id = 'orders'");
}
isnt($pid{db1}, $pid{db2}, 'one worker per database');

# Insert ids $from..$to into $db's orders, one transaction each.
sub insert_rows
{
	my ($db, $from, $to) = @_;
	my $sql = '';
	$sql .= "INSERT INTO orders VALUES ($_, '$db');\n" for $from .. $to;
	$node->safe_psql($db, $sql);
	return;
}

# The queue of $db holds exactly the rows of its orders table, once each, in
# id (= commit) order, and nothing else.
sub check_queue
{
	my ($db, $n, $desc) = @_;
	my $res = $node->safe_psql(
		$db, q{
WITH e AS (SELECT row_number() OVER (ORDER BY seq) AS n, element_id || ':' || op AS v, source_id,
                  payload->'payload'->'after'->'properties'->>'db' AS db,
                  payload->'payload'->'source'->>'db' AS src
             FROM pgcdc_drasi.events),
     x AS (SELECT row_number() OVER (ORDER BY id) AS n, 'orders:' || id || ':i' AS v FROM orders)
SELECT (SELECT count(*) FROM e) || ',' || (SELECT count(*) FROM x) || ',' ||
       (SELECT count(*) FROM e FULL JOIN x USING (n) WHERE e.v IS DISTINCT FROM x.v) || ',' ||
       (SELECT count(*) FROM e WHERE db IS DISTINCT FROM current_database()
                                  OR source_id <> 'orders' OR src <> 'orders')});
	is($res, "$n,$n,0,0",
		"$db: $desc: $n events, each row once in commit order, all from this database");
	return;
}

insert_rows('db1', 51, 100);
insert_rows('db2', 1051, 1150);
$node->safe_psql($_, "SELECT pgcdc_drasi.wait_for_catchup('orders', '120s')") foreach @dbs;
check_queue('db1', 100, 'initial snapshot and changes before the restart');
check_queue('db2', 150, 'initial snapshot and changes before the restart');

# More changes, not waited for: small transactions and a large one in each
# database, then a restart, likely while the workers are still publishing.
insert_rows('db1', 101, 400);
insert_rows('db2', 1151, 1400);
$node->safe_psql('db1', "INSERT INTO orders SELECT g, 'db1' FROM generate_series(401, 30400) g");
$node->safe_psql('db2', "INSERT INTO orders SELECT g, 'db2' FROM generate_series(1401, 31400) g");
note('queued before the restart: db1 '
	  . $node->safe_psql('db1', 'SELECT count(*) FROM pgcdc_drasi.events')
	  . ' of 30400, db2 '
	  . $node->safe_psql('db2', 'SELECT count(*) FROM pgcdc_drasi.events')
	  . ' of 30400');
$node->restart;

my %pid2;
$pid2{$_} = wait_streaming($_, "$_: source streaming again after the restart by itself") foreach @dbs;
isnt($pid2{db1}, $pid{db1}, 'db1: a new worker');
isnt($pid2{db2}, $pid{db2}, 'db2: a new worker');
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source'"
	),
	'db1,db2',
	'after the restart one source worker runs in each database');

insert_rows('db1', 30401, 30500);
insert_rows('db2', 31401, 31500);
$node->safe_psql($_, "SELECT pgcdc_drasi.wait_for_catchup('orders', '120s')") foreach @dbs;
check_queue('db1', 30500, 'after the restart');
check_queue('db2', 30500, 'after the restart');
foreach my $db (@dbs)
{
	is( $node->safe_psql($db,
			"SELECT state || ',' || reconnects || ',' || coalesce(last_error, '<none>') FROM pgcdc_drasi.status WHERE source_id = 'orders'"
		),
		'streaming,0,<none>',
		"$db: status streaming, no reconnect, no error");
}
# Dropping db2's source leaves db1's alone.
$node->safe_psql('db2', "SELECT pgcdc_drasi.drop_source('orders')");
is( $node->safe_psql('postgres',
		'SELECT string_agg(slot_name, \',\') FROM pg_replication_slots'),
	'pgcdc_orders', 'drop_source in db2 dropped only its own slot');
insert_rows('db1', 30501, 30510);
$node->safe_psql('db1', "SELECT pgcdc_drasi.wait_for_catchup('orders', '120s')");
is($node->safe_psql('db1', "SELECT pid FROM pgcdc_drasi.status WHERE source_id = 'orders'"),
	$pid2{db1}, 'db1: the same worker still streams');
check_queue('db1', 30510, 'after the drop in db2');
is($node->safe_psql('db2', 'SELECT count(*) FROM pgcdc_drasi.events'),
	'0', 'db2: drop_source removed its events');

is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'pgcdc_drasi'"),
	'0', 'the database postgres has no extension and no source');

# Slot (and origin) names are cluster-wide, also for a source whose slot does
# not exist yet: a paused source with the initial snapshot pending has no
# slot, and its worker creates it only when resumed.  A second source with
# the same slot name in another database must be refused, or the two sources
# share the slot name and the replication origin (pgcdc_drasi_<slot>).
$node->safe_psql('db1',
	"SELECT pgcdc_drasi.create_source('race', publication => 'orders_pub', slot_name => 'race_slot', enabled => false)"
);
($ret, $out, $err) = $node->psql('db2',
	"SELECT pgcdc_drasi.create_source('race', publication => 'orders_pub', slot_name => 'race_slot')");
isnt($ret, 0,
	'db2: create_source with the slot name of a (not yet started) source of db1 fails');
like($err, qr/replication slot "race_slot"|"pgcdc_drasi_race_slot"/,
	'db2: the error names the slot (or its origin)');
unless ($ret != 0)
{
	$node->safe_psql('db1', "SELECT pgcdc_drasi.resume_source('race')");
	$node->poll_query_until('db1',
		"SELECT last_error IS NOT NULL FROM pgcdc_drasi.status WHERE source_id = 'race'");
	diag(   "both create_source calls succeeded; status of 'race' in db1: "
		  . $node->safe_psql('db1',
			"SELECT state || ' / ' || coalesce(last_error, '') FROM pgcdc_drasi.status WHERE source_id = 'race'")
		  . "; in db2: "
		  . $node->safe_psql('db2',
			"SELECT state || ' / ' || coalesce(last_error, '') FROM pgcdc_drasi.status WHERE source_id = 'race'"));
	$node->psql('db2', "SELECT pgcdc_drasi.drop_source('race')");
}
$node->safe_psql('db1', "SELECT pgcdc_drasi.drop_source('race')");
is( $node->safe_psql('postgres',
		'SELECT string_agg(slot_name, \',\') FROM pg_replication_slots'),
	'pgcdc_orders', 'only db1\'s orders slot is left');

$node->stop;
done_testing();
