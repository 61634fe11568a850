# 041_roles_per_database.pl: the access model of README "Security": the
# roles pgcdc_drasi_admin and pgcdc_drasi_reader are cluster-wide, so a
# member reads the queue of every database with the extension that it may
# connect to; taking CONNECT from PUBLIC confines it to the databases where
# it is granted CONNECT.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $node = cdc_node('roles_per_db');

$node->safe_psql(
	'postgres', q{
CREATE ROLE app_a LOGIN;
GRANT pgcdc_drasi_reader TO app_a;
CREATE DATABASE db_a;
CREATE DATABASE db_b;
});
foreach my $db ('db_a', 'db_b')
{
	$node->safe_psql(
		$db, qq{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION pub FOR TABLE t;
SELECT pgcdc_drasi.create_source('src_$db', 'pub', slot_name => 'roles_$db', enabled => false);
});
}

# What app_a may read in a database: the sources' progress, as app_a.
sub read_as_app_a
{
	my ($db) = @_;
	my ($ret, $out, $err) = $node->psql($db,
		'SELECT source_id FROM pgcdc_drasi.source_progress',
		connstr => $node->connstr($db) . ' user=app_a');
	return ($ret, $out, $err);
}

my ($ret, $out, $err) = read_as_app_a('db_a');
is($out, 'src_db_a', 'the reader reads the database it was meant for');
($ret, $out, $err) = read_as_app_a('db_b');
is($out, 'src_db_b',
	'by default the same membership reads every database with the extension (documented)');

# The documented confinement: CONNECT per database.
$node->safe_psql(
	'postgres', q{
REVOKE CONNECT ON DATABASE db_a, db_b FROM PUBLIC;
GRANT CONNECT ON DATABASE db_a TO app_a;
});
($ret, $out, $err) = read_as_app_a('db_b');
isnt($ret, 0, 'without CONNECT on db_b the reader cannot read its queue');
like($err, qr/permission denied for database "db_b"/, 'refused at connection');
($ret, $out, $err) = read_as_app_a('db_a');
is($out, 'src_db_a', 'the reader still reads db_a');

foreach my $db ('db_a', 'db_b')
{
	$node->safe_psql($db, "SELECT pgcdc_drasi.drop_source('src_$db')");
}
$node->stop;
done_testing();
