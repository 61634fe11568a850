# 050_snapshot_ddl.pl: a table-rewriting ALTER TABLE never makes a
# snapshot lose a table's rows.
#
# A rewrite (ALTER COLUMN ... TYPE) is not MVCC-safe: a snapshot older
# than it sees the rewritten table empty, and the rewrite is no change in
# the stream.  So
#
# 1. a snapshot holds AccessShareLock on every table it lists until it ends:
#    bootstrap() read through a cursor has listed the tables after its first
#    row; the ALTER of a table not read yet waits for it (lock_timeout), and
#    the rest of the cursor brings every row of that table;
# 2. a rewrite committed between the snapshot and the listing is detected:
#    bootstrap() fails with a serialization failure instead of returning
#    the table without rows;
# 3. the same for the worker's initial snapshot: with a table rewritten
#    between the slot's snapshot and the worker's listing, the worker takes
#    the snapshot again (not testable deterministically here; the code is
#    the same as 2, see src/snapshot.c).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $node = cdc_node('snapshot_ddl');
$node->safe_psql('postgres', q{
CREATE TABLE a (id int PRIMARY KEY, v int);
CREATE TABLE z (id int PRIMARY KEY, c int);
INSERT INTO a SELECT g, g FROM generate_series(1, 10) g;
INSERT INTO z SELECT g, g * 10 FROM generate_series(1, 5) g;
CREATE PUBLICATION p FOR TABLE a, z;
-- bootstrap() in a function, to see its error without ending the session
CREATE FUNCTION try_bootstrap() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	SELECT count(*) INTO n FROM pgcdc_drasi.bootstrap('s');
	RETURN n::text;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
});
create_source($node, 's', 'p');

# 1. The lock is held from the listing to the end of the snapshot.
my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$bg->query_safe(q{DECLARE c CURSOR FOR SELECT pgcdc_drasi.bootstrap('s') AS e});
is($bg->query_safe('FETCH 1 FROM c'),
	'{"id": "a:1", "labels": ["a"], "properties": {"v": 1, "id": 1}}',
	'1. the first element comes from table a');
my $bgpid = $bg->query_safe('SELECT pg_backend_pid()');
is( $node->safe_psql('postgres', qq{
SELECT string_agg(relation::regclass::text || ' ' || mode, ', ' ORDER BY relation::regclass::text)
  FROM pg_locks WHERE pid = $bgpid AND locktype = 'relation' AND relation IN ('a'::regclass, 'z'::regclass)}),
	'a AccessShareLock, z AccessShareLock',
	'1. the snapshot holds AccessShareLock on both tables, z not read yet');
my ($ret, $out, $err) = $node->psql('postgres', q{
SET lock_timeout = '500ms';
ALTER TABLE z ALTER COLUMN c TYPE bigint;});
isnt($ret, 0, '1. ALTER TABLE z ... TYPE bigint waits for the snapshot');
like($err, qr/canceling statement due to lock timeout/, '1. and times out on its lock');
my $rest = $bg->query_safe('FETCH ALL FROM c');
my @elements = split /\n/, $rest;
is(scalar(grep { /"labels": \["a"\]/ } @elements), 9, '1. the other 9 rows of a');
is_deeply(
	[ grep { /"labels": \["z"\]/ } @elements ],
	[ map { qq({"id": "z:$_", "labels": ["z"], "properties": {"c": @{[$_ * 10]}, "id": $_}}) } 1 .. 5 ],
	'1. all 5 rows of z');
$bg->query_safe('COMMIT');

# Once the snapshot is over, the ALTER goes through.
$node->safe_psql('postgres', 'ALTER TABLE z ALTER COLUMN c TYPE bigint');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgcdc_drasi.bootstrap('s') e WHERE e->'labels' ? 'z'}),
	5, '1. after it, bootstrap() shows z\'s 5 rows');

# 2. A rewrite between the snapshot and the listing is detected.
$bg->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($bg->query_safe('SELECT 1'), 1, '2. the snapshot is taken (no table locked)');
$node->safe_psql('postgres', 'ALTER TABLE z ALTER COLUMN c TYPE int');
is($bg->query_safe('SELECT try_bootstrap()'),
	'40001: table public.z was rewritten after the snapshot was taken',
	'2. bootstrap() in the older snapshot fails: z was rewritten after the snapshot');
$bg->query_safe('ROLLBACK');
$bg->quit;

# A new snapshot reads it all.
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgcdc_drasi.bootstrap('s')}),
	15, '2. bootstrap() in a new transaction returns all 15 rows');

$node->stop;
done_testing();
