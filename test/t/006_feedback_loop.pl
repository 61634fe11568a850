# 006_feedback_loop.pl: a publication FOR ALL TABLES also publishes the
# extension's own tables (pgcdc_drasi.events, ...).  The worker's own queue
# writes must not come back as events (no feedback loop), also with two
# sources on the same publication, where each worker's writes are decoded by
# the other one.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $node = cdc_node('feedback');

$node->safe_psql(
	'postgres', q{
CREATE TABLE items(id int PRIMARY KEY, name text);
CREATE SCHEMA inv;
CREATE TABLE inv.stock(id int PRIMARY KEY, qty int);
CREATE PUBLICATION drasi_all FOR ALL TABLES;
});

# The query must keep returning the same result for $seconds (polled every
# 100ms); fails as soon as it changes.
sub stays_stable
{
	my ($query, $seconds, $desc) = @_;
	my $first = $node->safe_psql('postgres', $query);
	for (my $i = 0; $i < $seconds * 10; $i++)
	{
		usleep(100_000);
		my $now = $node->safe_psql('postgres', $query);
		if ($now ne $first)
		{
			fail($desc);
			diag("changed from '$first' to '$now' after ${i}00 ms");
			return 0;
		}
	}
	pass($desc);
	return 1;
}

sub no_own_tables
{
	my ($source, $desc) = @_;
	is( $node->safe_psql(
			'postgres', qq{
SELECT count(*) FROM pgcdc_drasi.events
 WHERE source_id = '$source'
   AND (label IN ('events', 'sources', 'table_keys')
        OR label LIKE 'pgcdc_drasi%'
        OR element_id LIKE 'events:%'
        OR element_id LIKE 'pgcdc_drasi.%')}),
		'0',
		"$desc: no events of the extension's own tables");
	return;
}

my $sql = "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g;\n";
$sql .= "INSERT INTO inv.stock VALUES ($_, $_ * 10);\n" for 1 .. 20;
$sql .= "UPDATE items SET name = upper(name) WHERE id <= 5;\nDELETE FROM items WHERE id = 20;\n";
my @expected = (
	[ 'items',     1, 20, 'i' ],
	[ 'inv.stock', 1, 20, 'i' ],
	[ 'items',     1, 5,  'u' ],
	'items:20:d');

# One source.
create_source($node, 'all-db', 'drasi_all');
wait_streaming($node, 'all-db', desc => 'worker streaming');
$node->safe_psql('postgres', $sql);
catchup($node, 'all-db', desc => 'caught up');
check_queue($node, 'all-db', expected_sql(@expected), 'user tables only');
no_own_tables('all-db', 'one source');
catchup($node, 'all-db', desc => 'caught up again');
stays_stable(
	"SELECT count(*) FROM pgcdc_drasi.events",
	3, 'queue size stays stable (no feedback loop)');
stays_stable(
	"SELECT events_published FROM pgcdc_drasi.status WHERE source_id = 'all-db'",
	2, 'events_published stays stable');
check_queue($node, 'all-db', expected_sql(@expected), 'still user tables only');
check_invariants($node, 'all-db', 'one source');

# A second source on the same publication: each worker now also decodes the
# queue writes of the other one.
create_source($node, 'all-db-2', 'drasi_all');
wait_streaming($node, 'all-db-2', desc => 'second worker streaming');
isnt(source_slot($node, 'all-db-2'), source_slot($node, 'all-db'), 'sources have their own slots');
$node->safe_psql('postgres',
	"INSERT INTO items VALUES (21, 'twenty-one');\nUPDATE inv.stock SET qty = 0 WHERE id = 1;");
catchup($node, 'all-db', desc => 'first source caught up');
catchup($node, 'all-db-2', desc => 'second source caught up');
push @expected, 'items:21:i', 'inv.stock:1:u';
check_queue($node, 'all-db', expected_sql(@expected), 'two sources: first source');
check_queue($node, 'all-db-2', expected_sql('items:21:i', 'inv.stock:1:u'),
	'two sources: second source starts at its creation');
no_own_tables('all-db',   'two sources, first');
no_own_tables('all-db-2', 'two sources, second');
stays_stable(
	"SELECT count(*) FROM pgcdc_drasi.events",
	3, 'queue size stays stable with two sources');
check_invariants($node, 'all-db',   'two sources, first');
check_invariants($node, 'all-db-2', 'two sources, second');

$node->stop;
done_testing();
