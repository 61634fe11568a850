# 041_roles_per_database.pl: the access model of README "Security".  The
# roles pgcdc_drasi_admin and pgcdc_drasi_reader are cluster-wide and say
# what a member may do; USAGE on the schema pgcdc_drasi, granted per
# database, says where.  Membership alone reads no database, and a member
# granted USAGE in one database cannot read or administer another one it
# may connect to.

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
CREATE ROLE admin_a LOGIN;
GRANT pgcdc_drasi_admin TO admin_a;
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

# Run $sql in $db as $user: (exit code, stdout, stderr).
sub run_as
{
	my ($user, $db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql,
		connstr => $node->connstr($db) . " user=$user");
	return ($ret, $out, $err);
}

my $read = 'SELECT source_id FROM pgcdc_drasi.source_progress';

# Membership alone: nothing anywhere.
my ($ret, $out, $err) = run_as('app_a', 'db_a', $read);
isnt($ret, 0, 'membership alone does not read db_a');
like($err, qr/permission denied for schema pgcdc_drasi/, 'refused: no USAGE on the schema');

# USAGE granted in db_a only.
$node->safe_psql('db_a', 'GRANT USAGE ON SCHEMA pgcdc_drasi TO app_a, admin_a');
($ret, $out, $err) = run_as('app_a', 'db_a', $read);
is($out, 'src_db_a', 'the reader reads the database it was granted');
($ret, $out, $err) = run_as('app_a', 'db_b', $read);
isnt($ret, 0, 'the same membership does not read db_b, though the reader may connect to it');
like($err, qr/permission denied for schema pgcdc_drasi/, 'refused in db_b: no USAGE there');
($ret, $out, $err) = run_as('app_a', 'db_b',
	"SELECT count(*) FROM pgcdc_drasi.get_events('src_db_b', 0, 10)");
like($err, qr/permission denied for schema pgcdc_drasi/, 'get_events in db_b is refused too');

# The admin: administers db_a, not db_b.
($ret, $out, $err) = run_as('admin_a', 'db_a', "SELECT pgcdc_drasi.pause_source('src_db_a')");
is($ret, 0, 'the admin administers db_a');
($ret, $out, $err) = run_as('admin_a', 'db_b', "SELECT pgcdc_drasi.drop_source('src_db_b')");
like($err, qr/permission denied for schema pgcdc_drasi/, 'the admin cannot drop a source of db_b');
is($node->safe_psql('db_b', 'SELECT count(*) FROM pgcdc_drasi.sources'), '1',
	'the source of db_b is still there');

# Granting USAGE to one of the two roles would make it cluster-wide again:
# nothing in a fresh install does.
is( $node->safe_psql('db_b',
		"SELECT has_schema_privilege('pgcdc_drasi_reader', 'pgcdc_drasi', 'USAGE'), "
		  . "has_schema_privilege('pgcdc_drasi_admin', 'pgcdc_drasi', 'USAGE')"),
	'f|f', 'the roles themselves have no USAGE on the schema');

foreach my $db ('db_a', 'db_b')
{
	$node->safe_psql($db, "SELECT pgcdc_drasi.drop_source('src_$db')");
}
$node->stop;
done_testing();
