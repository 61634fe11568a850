# 040_dump_restore.pl: the configuration survives pg_dump and pg_restore
# into another cluster, naming the same roles and publications.
#
# The owners of a source and of a consumer are regrole, so the dump names
# them; the second cluster has the same roles under other oids (created in
# another order, after an extra role).  The rename guard works from the
# statement, so it still protects the restored source's publication (a
# raw oid would name nothing, or another publication, there).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $node1 = cdc_node('dump_from');
my $node2 = cdc_node('restore_to');

$node1->safe_psql(
	'postgres', q{
CREATE ROLE dr_src_owner NOLOGIN;
CREATE ROLE dr_con_owner NOLOGIN;
GRANT pgcdc_drasi_admin TO dr_src_owner;
GRANT pgcdc_drasi_reader TO dr_con_owner;
CREATE DATABASE dumpdb;
});
$node1->safe_psql(
	'dumpdb', q{
CREATE EXTENSION pgcdc_drasi;
GRANT USAGE ON SCHEMA pgcdc_drasi TO dr_src_owner, dr_con_owner;
CREATE TABLE item (id int PRIMARY KEY, name text);
GRANT SELECT ON item TO dr_src_owner;
CREATE PUBLICATION dr_pub FOR TABLE item;
SET ROLE dr_src_owner;
SELECT pgcdc_drasi.create_source('dr', 'dr_pub', slot_name => 'dr_slot', enabled => false);
SET ROLE dr_con_owner;
SELECT pgcdc_drasi.create_consumer('dr_c', 'dr');
});

# The same roles in the second cluster, with other oids: each oid of the
# first cluster is another of these roles here.
$node2->safe_psql(
	'postgres', q{
CREATE ROLE dr_filler NOLOGIN;
CREATE ROLE dr_src_owner NOLOGIN;
CREATE ROLE dr_con_owner NOLOGIN;
GRANT pgcdc_drasi_admin TO dr_src_owner;
GRANT pgcdc_drasi_reader TO dr_con_owner;
CREATE DATABASE dumpdb;
});
my $oid_query =
  q{SELECT string_agg(rolname || '=' || oid, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'dr\_%\_owner'};
isnt($node1->safe_psql('postgres', $oid_query),
	$node2->safe_psql('postgres', $oid_query),
	'the owner roles have other oids in the second cluster');

my $dump = "$PostgreSQL::Test::Utils::tmp_check/dumpdb.dump";
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node1->connstr('dumpdb') ], 'pg_dump of the database');
command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $node2->connstr('dumpdb'), $dump ],
	'pg_restore into the second cluster');

is( $node2->safe_psql(
		'dumpdb', 'SELECT source_id, publication, slot_name, enabled, owner::text FROM pgcdc_drasi.sources'),
	'dr|dr_pub|dr_slot|f|dr_src_owner',
	'the restored source is owned by the same role, by name');
is( $node2->safe_psql('dumpdb', 'SELECT consumer, source_id, owner::text FROM pgcdc_drasi.consumer_status'),
	'dr_c|dr|dr_con_owner',
	'the restored consumer is owned by the same role, by name');

my ($ret, $stdout, $stderr) =
  $node2->psql('dumpdb', 'ALTER PUBLICATION dr_pub RENAME TO dr_pub_renamed');
isnt($ret, 0, 'renaming the restored source\'s publication is refused');
like(
	$stderr,
	qr/publication "dr_pub" is used by pgcdc_drasi source "dr"/,
	'by the rename guard');
is($node2->safe_psql('dumpdb', q{SELECT count(*) FROM pg_publication WHERE pubname = 'dr_pub'}),
	'1', 'the publication keeps its name');

# The restored owner can act on its source and its consumer.
is( $node2->safe_psql(
		'dumpdb', q{
SET ROLE dr_con_owner;
SELECT acked_seq FROM pgcdc_drasi.consumer_status WHERE consumer = 'dr_c';
SELECT pgcdc_drasi.drop_consumer('dr_c');
SET ROLE dr_src_owner;
SELECT pgcdc_drasi.drop_source('dr');
RESET ROLE;
SELECT count(*) FROM pgcdc_drasi.sources;
}),
	"0\n\n\n0",
	'the restored owners drop their consumer and source');

$node1->stop;
$node2->stop;
done_testing();
