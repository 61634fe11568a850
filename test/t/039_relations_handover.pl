# 039_relations_handover.pl: relations (foreign keys, a self-reference and
# a join table) through the initial snapshot's hand-over to the stream,
# while writers keep changing the tables.
#
# Two sessions insert, update (foreign keys set, changed, set to NULL; keys
# of both ends, the referenced ones by ON UPDATE CASCADE) and delete rows of
# pre-filled tables while the source takes its initial snapshot.  After the
# writers stop, the graph rebuilt from the queue (events applied in seq
# order: i/u put the element, d removes it by id) must equal the graph the
# tables describe, nodes and relations with their ends, and equal
# pgcdc_drasi.bootstrap().  A kill -9 of the worker in the middle of a
# streamed transaction of relation changes loses and repeats nothing.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;
use PgcdcBootstrapTest;

my $source = 'relho';
my $node = cdc_node('relho', restart_after_crash => 1, extra_conf => "deadlock_timeout = '50ms'");

$node->safe_psql('postgres', q{
CREATE TABLE cust (id int PRIMARY KEY, name text);
CREATE TABLE ord (id int PRIMARY KEY, cust_id int REFERENCES cust ON UPDATE CASCADE ON DELETE SET NULL,
	note text);
CREATE TABLE emp (id int PRIMARY KEY, mgr_id int REFERENCES emp ON UPDATE CASCADE ON DELETE SET NULL);
ALTER TABLE emp REPLICA IDENTITY FULL;
CREATE TABLE item (ord_id int REFERENCES ord ON UPDATE CASCADE ON DELETE CASCADE,
	cust_id int REFERENCES cust ON UPDATE CASCADE ON DELETE CASCADE, qty int,
	PRIMARY KEY (ord_id, cust_id));
CREATE TABLE rel_ctl (stop boolean NOT NULL);
INSERT INTO rel_ctl VALUES (false);
INSERT INTO cust SELECT g, 'c' || g FROM generate_series(1, 2000) g;
INSERT INTO ord SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 1 + g % 2000 END, 'o' || g
  FROM generate_series(1, 40000) g;
INSERT INTO emp SELECT g, NULL FROM generate_series(1, 2000) g;
UPDATE emp SET mgr_id = 1 + (id * 7) % 2000 WHERE id % 5 <> 0 AND 1 + (id * 7) % 2000 <> id;
INSERT INTO item SELECT g, 1 + (g * 13) % 2000, g % 9 FROM generate_series(1, 20000) g;
CREATE PUBLICATION relho_pub FOR TABLE cust, ord, emp, item;
CREATE PROCEDURE rel_writer(seed float8) LANGUAGE plpgsql AS $$
DECLARE
	k int;
	c int;
	r float8;
BEGIN
	PERFORM setseed(seed);
	LOOP
		EXIT WHEN (SELECT stop FROM rel_ctl);
		BEGIN
			k := 1 + floor(random() * 44000)::int;
			c := 1 + floor(random() * 2200)::int;
			r := random();
			IF r < 0.15 THEN
				INSERT INTO ord VALUES (k, CASE WHEN random() < 0.2 THEN NULL ELSE c END, 'n')
				ON CONFLICT (id) DO UPDATE SET cust_id = excluded.cust_id;
			ELSIF r < 0.30 THEN
				UPDATE ord SET cust_id = CASE WHEN random() < 0.3 THEN NULL ELSE c END WHERE id = k;
			ELSIF r < 0.37 THEN
				UPDATE ord SET note = md5(random()::text) WHERE id = k;
			ELSIF r < 0.42 THEN
				UPDATE ord SET id = 1 + floor(random() * 44000)::int WHERE id = k;
			ELSIF r < 0.47 THEN
				DELETE FROM ord WHERE id = k;
			ELSIF r < 0.52 THEN
				INSERT INTO cust VALUES (c, 'n') ON CONFLICT (id) DO NOTHING;
			ELSIF r < 0.55 THEN
				UPDATE cust SET id = 1 + floor(random() * 2200)::int WHERE id = c;
			ELSIF r < 0.57 THEN
				DELETE FROM cust WHERE id = c;
			ELSIF r < 0.67 THEN
				UPDATE emp SET mgr_id = CASE WHEN random() < 0.3 THEN NULL ELSE 1 + floor(random() * 2000)::int END
				WHERE id = 1 + floor(random() * 2000)::int;
			ELSIF r < 0.70 THEN
				UPDATE emp SET id = 1 + floor(random() * 2200)::int WHERE id = 1 + floor(random() * 2200)::int;
			ELSIF r < 0.80 THEN
				INSERT INTO item VALUES (k, c, 1) ON CONFLICT (ord_id, cust_id) DO UPDATE SET qty = item.qty + 1;
			ELSIF r < 0.90 THEN
				UPDATE item SET qty = qty + 1 WHERE ord_id = k;
			ELSE
				DELETE FROM item WHERE ord_id = k;
			END IF;
		EXCEPTION WHEN unique_violation OR foreign_key_violation OR deadlock_detected THEN
			NULL;
		END;
		COMMIT;
	END LOOP;
END
$$;
});

my @writers;
for my $i (1 .. 2)
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
			'-c', "CALL rel_writer(0.$i)" ],
		'>', \$out, '2>', \$err);
	push @writers, { h => $h, out => \$out, err => \$err };
}
ok(bs_wait_until($node, "SELECT count(*) > 0 FROM ord WHERE note = 'n'"), 'writers are running');

# Configured before the worker starts, so that the initial snapshot has relations.
$node->safe_psql('postgres', qq{
SELECT pgcdc_drasi.create_source('$source', publication => 'relho_pub', enabled => false);
SELECT pgcdc_drasi.set_relations('$source', 'foreign_keys');
SELECT pgcdc_drasi.set_table_mode('$source', 'item', 'relation');
SELECT pgcdc_drasi.resume_source('$source');
});
ok( bs_wait_until($node,
		"SELECT snapshot_lsn IS NOT NULL FROM pgcdc_drasi.source_progress WHERE source_id = '$source'"),
	'the initial snapshot is taken while the writers run');
ok( bs_wait_until($node,
		"SELECT count(*) > 200 FROM pgcdc_drasi.events WHERE source_id = '$source' AND snapshot IS NULL"),
	'the stream follows');

# A late joiner: bootstrap() in the snapshot create_consumer records.
$node->safe_psql('postgres', qq{
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pgcdc_drasi.create_consumer('late', '$source', bootstrap => true);
CREATE TABLE late_boot AS SELECT e FROM pgcdc_drasi.bootstrap('$source') e;
COMMIT;
});
ok( bs_wait_until($node,
		"SELECT count(*) > 200 FROM pgcdc_drasi.events WHERE source_id = '$source' AND seq > "
		  . "(SELECT acked_seq FROM pgcdc_drasi.consumers WHERE consumer = 'late')"),
	'writers go on after the late joiner');

$node->safe_psql('postgres', 'UPDATE rel_ctl SET stop = true');
my @errors;
for my $x (@writers)
{
	my $ok = eval { $x->{h}->finish; 1 };
	push @errors, ($ok ? '' : "finish: $@") . ${ $x->{err} }
	  if !$ok || ${ $x->{err} } ne '' || $x->{h}->result != 0;
}
is(scalar(@errors), 0, 'writers ended without an error') or diag(join("\n", @errors));
catchup($node, $source);

# kill -9 of the source worker in the middle of a transaction that changes
# relations (streamed: larger than logical_decoding_work_mem): after the
# crash restart every event is there once, seq contiguous, and the graph
# below still equals the tables.
my $lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres', q{
UPDATE ord SET cust_id = (SELECT array_agg(id ORDER BY id) FROM cust)[1 + (id * 3) % (SELECT count(*) FROM cust)]
 WHERE cust_id IS NOT NULL;
UPDATE emp SET mgr_id = NULL WHERE id % 3 = 0;
UPDATE item SET qty = qty + 1 WHERE ord_id % 2 = 0;
});
wait_mid_publication($node, $source, $lsn, min_ms => 100);
kill9_and_wait_reinit($node, source_pid($node, $source));
catchup($node, $source);
is( $node->safe_psql('postgres', qq{
SELECT count(*) - count(DISTINCT (lsn, xid, tx_index)) FROM pgcdc_drasi.events WHERE source_id = '$source'}),
	'0', 'after the kill -9: no event twice');
is( $node->safe_psql('postgres', qq{
SELECT max(seq) - min(seq) + 1 = count(*) FROM pgcdc_drasi.events WHERE source_id = '$source'}),
	't', 'after the kill -9: seq contiguous');

$node->safe_psql('postgres', qq{
CREATE TABLE graph (id text PRIMARY KEY, kind text, label text, start_id text, end_id text);
CREATE TABLE late_graph (LIKE graph INCLUDING ALL);
INSERT INTO late_graph SELECT e->>'id', CASE WHEN e ? 'startId' THEN 'rel' ELSE 'node' END,
	e->'labels'->>0, e->>'startId', e->>'endId' FROM late_boot;
CREATE FUNCTION apply_events(g regclass, events text) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
	ev record;
	el jsonb;
BEGIN
	FOR ev IN EXECUTE events LOOP
		el := coalesce(ev.payload->'payload'->'after', ev.payload->'payload'->'before');
		IF ev.op IN ('i', 'u') THEN
			EXECUTE format('INSERT INTO %s VALUES (\$1, \$2, \$3, \$4, \$5) ON CONFLICT (id) DO UPDATE '
						   'SET label = EXCLUDED.label, start_id = EXCLUDED.start_id, end_id = EXCLUDED.end_id', g)
			USING el->>'id', ev.payload->'payload'->'source'->>'table', el->'labels'->>0,
				  el->>'startId', el->>'endId';
		ELSIF ev.op = 'd' THEN
			EXECUTE format('DELETE FROM %s WHERE id = \$1', g) USING el->>'id';
		ELSE
			RAISE EXCEPTION 'unexpected event %', ev.op;
		END IF;
	END LOOP;
END
\$\$;
SELECT apply_events('graph', 'SELECT op, payload FROM pgcdc_drasi.events WHERE source_id = ''$source'' ORDER BY seq');
SELECT apply_events('late_graph', 'SELECT op, payload FROM pgcdc_drasi.read(''late'', 1000000) ORDER BY seq');
CREATE VIEW table_graph AS
	SELECT 'cust:' || id AS id, 'node' AS kind, 'cust' AS label, NULL AS start_id, NULL AS end_id FROM cust
	UNION ALL SELECT 'ord:' || id, 'node', 'ord', NULL, NULL FROM ord
	UNION ALL SELECT 'emp:' || id, 'node', 'emp', NULL, NULL FROM emp
	UNION ALL SELECT 'ord->CUST:' || id, 'rel', 'CUST', 'ord:' || id, 'cust:' || cust_id
		FROM ord WHERE cust_id IS NOT NULL
	UNION ALL SELECT 'emp->MGR:' || id, 'rel', 'MGR', 'emp:' || id, 'emp:' || mgr_id
		FROM emp WHERE mgr_id IS NOT NULL
	UNION ALL SELECT 'item:' || ord_id || '_' || cust_id, 'rel', 'item', 'ord:' || ord_id, 'cust:' || cust_id
		FROM item;
});

my $counts = $node->safe_psql('postgres',
	"SELECT string_agg(kind || ' ' || n, ', ' ORDER BY kind) FROM (SELECT kind, count(*) n FROM table_graph GROUP BY kind) k");
note("tables: $counts");
ok($node->safe_psql('postgres', "SELECT count(*) > 40000 FROM table_graph WHERE kind = 'rel'") eq 't',
	'the tables have relations');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (
	(SELECT * FROM graph EXCEPT SELECT * FROM table_graph)
	UNION ALL
	(SELECT * FROM table_graph EXCEPT SELECT * FROM graph)) d}),
	0, 'the graph rebuilt from the events is the graph of the tables');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (
	(SELECT * FROM late_graph EXCEPT SELECT * FROM table_graph)
	UNION ALL
	(SELECT * FROM table_graph EXCEPT SELECT * FROM late_graph)) d}),
	0, 'the late joiner: bootstrap() and read() rebuild the graph of the tables');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM (
	(SELECT e->>'id', e->'labels'->>0, e->>'startId', e->>'endId' FROM pgcdc_drasi.bootstrap('$source') e
	 EXCEPT SELECT id, label, start_id, end_id FROM table_graph)
	UNION ALL
	(SELECT id, label, start_id, end_id FROM table_graph
	 EXCEPT SELECT e->>'id', e->'labels'->>0, e->>'startId', e->>'endId' FROM pgcdc_drasi.bootstrap('$source') e)) d}),
	0, 'bootstrap() gives the same graph');
ok( $node->safe_psql('postgres', qq{
SELECT count(*) > 0 FROM pgcdc_drasi.events
 WHERE source_id = '$source' AND snapshot IS NOT NULL AND payload->'payload'->'source'->>'table' = 'rel'}) eq 't',
	'the snapshot has relation events');

done_testing();
