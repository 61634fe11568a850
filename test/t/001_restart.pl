# 001_restart.pl: a clean (fast) restart loses and duplicates nothing.
#
# Changes are committed before the shutdown (some of them possibly not yet
# published when it happens) and right after the start (before the worker is
# back).  The worker must come back by itself, and the queue must hold every
# committed change exactly once, in commit order.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $source = 'orders-db';
my $node = cdc_node('restart');

$node->safe_psql(
	'postgres', q{
CREATE TABLE orders(id int PRIMARY KEY, status text, amount numeric(12,2));
CREATE SCHEMA sales;
CREATE TABLE sales.orders(id int PRIMARY KEY, note text);
CREATE TABLE not_published(id int PRIMARY KEY);
CREATE PUBLICATION drasi_publication FOR TABLE orders, sales.orders;
});
create_source($node, $source, 'drasi_publication');
my $pid1 = wait_streaming($node, $source, desc => 'worker starts after create_source');

# Phase 1: streaming normally.
$node->safe_psql(
	'postgres', q{
INSERT INTO orders SELECT g, 'new', g * 10.5 FROM generate_series(1, 5) g;
INSERT INTO sales.orders VALUES (7, 'first');
UPDATE orders SET status = 'paid' WHERE id = 2;
DELETE FROM orders WHERE id = 3;
INSERT INTO not_published VALUES (1);
});
catchup($node, $source, desc => 'phase 1 caught up');

my @phase1 = (
	[ 'orders', 1, 5, 'i' ],
	'sales.orders:7:i', 'orders:2:u', 'orders:3:d');
check_queue($node, $source, expected_sql(@phase1), 'phase 1');

# Phase 2: commit more, then shut down at once (fast) without waiting.
$node->safe_psql(
	'postgres', q{
INSERT INTO orders SELECT g, 'new', g FROM generate_series(6, 10) g;
UPDATE orders SET id = 100 WHERE id = 5;
BEGIN;
INSERT INTO orders VALUES (11, 'new', 1);
INSERT INTO sales.orders VALUES (8, 'second');
UPDATE sales.orders SET note = 'changed' WHERE id = 7;
COMMIT;
});
$node->stop('fast');
$node->start;

# Phase 3: committed right after the start, likely before the worker is up.
$node->safe_psql(
	'postgres', q{
INSERT INTO orders VALUES (12, 'new', 12);
DELETE FROM sales.orders WHERE id = 8;
});

my $pid2 = wait_streaming($node, $source, desc => 'worker is back after fast restart');
isnt($pid2, $pid1, 'a new worker process');

# The worker shows in pg_stat_activity and in pgcdc_drasi.status.
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source'"),
	'1',
	'one pgcdc_drasi source backend');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi launcher'"),
	'1',
	'launcher running');
is( $node->safe_psql(
		'postgres', q{
SELECT s.enabled AND s.state = 'streaming' AND s.slot_name IS NOT NULL
       AND s.confirmed_lsn IS NOT NULL AND a.backend_type = 'pgcdc_drasi source'
  FROM pgcdc_drasi.status s JOIN pg_stat_activity a ON a.pid = s.pid
 WHERE s.source_id = 'orders-db'}),
	't',
	'status shows the running worker');

catchup($node, $source, desc => 'phase 3 caught up');

my @phase2 = (
	[ 'orders', 6, 10, 'i' ],
	'orders:5:d', 'orders:100:i',
	'orders:11:i', 'sales.orders:8:i', 'sales.orders:7:u');
my @phase3 = ('orders:12:i', 'sales.orders:8:d');
check_queue($node, $source, expected_sql(@phase1, @phase2, @phase3),
	'after fast restart');
check_invariants($node, $source, 'after fast restart');

# Phase 4: restart with nothing pending, then one more change.
$node->restart;
my $pid3 = wait_streaming($node, $source, desc => 'worker is back after an idle restart');
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (13, 'new', 13)});
catchup($node, $source, desc => 'phase 4 caught up');
check_queue($node, $source,
	expected_sql(@phase1, @phase2, @phase3, 'orders:13:i'),
	'after idle restart');
check_invariants($node, $source, 'after idle restart');

$node->stop;
done_testing();
