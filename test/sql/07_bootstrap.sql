-- Bootstrap: the initial snapshot of a new source (bootstrap => true, the
-- default), pgcdc_drasi.bootstrap(), a late-joining consumer, and
-- resnapshot().  Tables of every shape: a composite key, no key at all,
-- another schema, a publication column list and a row filter.
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE SCHEMA bs_inv;
CREATE TABLE bs_items (id int PRIMARY KEY, name text, price numeric(8,2));
CREATE TABLE bs_pairs (a int, b text, v jsonb, PRIMARY KEY (b, a));
CREATE TABLE bs_nokey (x int, y text);
CREATE TABLE bs_inv.stock (sku text PRIMARY KEY, qty int);
CREATE TABLE bs_cols (a int PRIMARY KEY, b text, secret text);
CREATE TABLE bs_filtered (id int PRIMARY KEY, note text);
CREATE TABLE bs_other (id int PRIMARY KEY);
INSERT INTO bs_items VALUES (1, 'apple', 1.50), (2, 'pear', 2.25), (3, NULL, NULL);
INSERT INTO bs_pairs VALUES (1, 'x', '{"k": [1, 2]}'), (2, 'x', 'null'), (1, 'y', NULL);
INSERT INTO bs_nokey VALUES (1, 'one'), (2, NULL), (1, 'one');
INSERT INTO bs_inv.stock VALUES ('sku-1', 10), ('sku-2', 0);
INSERT INTO bs_cols VALUES (1, 'b1', 'hidden'), (2, 'b2', 'hidden too');
INSERT INTO bs_filtered VALUES (5, 'filtered out'), (11, 'eleven'), (12, 'twelve');
INSERT INTO bs_other VALUES (1);
CREATE PUBLICATION pub_bs FOR TABLE bs_items, bs_pairs, bs_nokey, bs_inv.stock,
	bs_cols (a, b), bs_filtered WHERE (id > 10);

-- bootstrap defaults to true; create_source then leaves the slot to the
-- worker, which creates it with an exported snapshot after the commit.
BEGIN;
SELECT pgcdc_drasi.create_source('bs', publication => 'pub_bs');
SELECT bootstrap FROM pgcdc_drasi.sources WHERE source_id = 'bs';
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgcdc_bs';
SELECT snapshot_lsn FROM pgcdc_drasi.source_progress WHERE source_id = 'bs';
COMMIT;
-- Returns once the snapshot is committed and the stream has caught up;
-- the worker then switches to streaming.
SELECT pgcdc_drasi.wait_for_catchup('bs');
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN (SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'bs');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT state, bootstrap, snapshot_lsn IS NOT NULL AS has_snapshot_lsn,
	   snapshot_table, events_published
FROM pgcdc_drasi.status WHERE source_id = 'bs';

-- One insert event per published row, every one marked as a snapshot
-- event, tables in (schema, name) order: column list and row filter
-- applied, the keyless table's ids derived from the row values.
SELECT * FROM show_events('bs');
SELECT * FROM check_events('bs');

-- All of them are one byte before the slot's consistent point (recorded
-- as snapshot_lsn, where the slot starts: a transaction may commit exactly
-- there), in one transaction: the worker's own, the one that wrote them.
-- The origin is at the consistent point.
SELECT count(*) AS events,
	   count(*) FILTER (WHERE e.lsn = p.snapshot_lsn - 1) AS before_snapshot_lsn,
	   count(DISTINCT e.xid) AS xids,
	   count(*) FILTER (WHERE e.xid::text::bigint % 4294967296 = t.xmin::text::bigint) AS written_by_xid,
	   count(*) FILTER (WHERE (e.payload->'metadata'->'snapshot') = 'true') AS marked_snapshot,
	   min(e.tx_index) AS first_index, max(e.tx_index) AS last_index
FROM pgcdc_drasi.events e JOIN pgcdc_drasi.source_progress p USING (source_id)
JOIN pgcdc_drasi.queue_transactions t ON t.source_id = e.source_id AND t.first_seq = e.seq - e.tx_index
WHERE e.source_id = 'bs';
SELECT s.restart_lsn <= p.snapshot_lsn AS slot_starts_before,
	   s.confirmed_flush_lsn >= p.snapshot_lsn AS slot_confirmed_from,
	   o.remote_lsn = p.snapshot_lsn AS origin_at_snapshot
FROM pgcdc_drasi.source_progress p, pg_replication_slots s, pg_replication_origin_status o
WHERE p.source_id = 'bs' AND s.slot_name = 'pgcdc_bs' AND o.external_id = 'pgcdc_drasi_pgcdc_bs';

-- Changes after the snapshot are streamed after it, not marked.
INSERT INTO bs_items VALUES (4, 'plum', 0.99);
UPDATE bs_items SET price = 1.75 WHERE id = 1;
DELETE FROM bs_pairs WHERE a = 2 AND b = 'x';
UPDATE bs_inv.stock SET qty = qty + 5 WHERE sku = 'sku-2';
UPDATE bs_cols SET secret = 'changed', b = 'b2!' WHERE a = 2;
INSERT INTO bs_filtered VALUES (3, 'filtered out'), (13, 'thirteen');
UPDATE bs_filtered SET id = 15 WHERE id = 5;
UPDATE bs_filtered SET id = 9 WHERE id = 12;
INSERT INTO bs_nokey VALUES (3, 'three');
INSERT INTO bs_other VALUES (2);
SELECT pgcdc_drasi.wait_for_catchup('bs');
SELECT * FROM show_events('bs') WHERE NOT (event->'metadata' ? 'snapshot');
SELECT * FROM check_events('bs');
-- The snapshot events come first, and seq is contiguous.
SELECT max(seq) FILTER (WHERE payload->'metadata' ? 'snapshot') <
	   min(seq) FILTER (WHERE NOT payload->'metadata' ? 'snapshot') AS snapshot_first,
	   max(seq) - min(seq) + 1 = count(*) AS contiguous
FROM pgcdc_drasi.events WHERE source_id = 'bs';

-- bootstrap(): the current rows as Drasi bootstrap elements.
SELECT e FROM pgcdc_drasi.bootstrap('bs') AS e ORDER BY e->>'id';
-- The same ids and values as the stream: the state rebuilt from the
-- queue (last event of each id after its label's last truncate) is
-- exactly bootstrap()'s output.
CREATE FUNCTION bs_rebuilt(src text) RETURNS SETOF jsonb LANGUAGE sql AS $$
	SELECT last.payload->'payload'->'after'
	FROM (SELECT DISTINCT ON (e.element_id) e.*
		  FROM pgcdc_drasi.events e
		  WHERE e.source_id = src AND e.op <> 't'
			AND e.seq > coalesce((SELECT max(t.seq) FROM pgcdc_drasi.events t
								  WHERE t.source_id = src AND t.op = 't' AND t.label = e.label), 0)
		  ORDER BY e.element_id, e.seq DESC) AS last
	WHERE last.op IN ('i', 'u')
$$;
-- (The keyless table's two equal rows are one node, so the comparison
-- takes bootstrap()'s distinct elements.)
CREATE FUNCTION bs_compare(src text)
RETURNS TABLE (rebuilt bigint, bootstrapped bigint, only_rebuilt bigint, only_bootstrapped bigint)
LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM bs_rebuilt(src)),
		   (SELECT count(DISTINCT e) FROM pgcdc_drasi.bootstrap(src) e),
		   (SELECT count(*) FROM (SELECT * FROM bs_rebuilt(src) EXCEPT ALL
								  SELECT DISTINCT * FROM pgcdc_drasi.bootstrap(src)) d),
		   (SELECT count(*) FROM (SELECT DISTINCT * FROM pgcdc_drasi.bootstrap(src) EXCEPT ALL
								  SELECT * FROM bs_rebuilt(src)) d)
$$;
SELECT * FROM bs_compare('bs');

-- A labels filter: labels the source does not have are ignored.
SELECT e->>'id' AS id FROM pgcdc_drasi.bootstrap('bs', ARRAY['bs_items', 'stock', 'no_such_label']) AS e
ORDER BY 1;
SELECT count(*) FROM pgcdc_drasi.bootstrap('bs', ARRAY['bs_other', 'nothing']);
SELECT count(*) FROM pgcdc_drasi.bootstrap('bs', ARRAY[]::text[]);
SELECT count(*) FROM pgcdc_drasi.bootstrap('bs', ARRAY[NULL]::text[]);
SELECT count(*) FROM pgcdc_drasi.bootstrap('bs', NULL);
-- The label is the table name; the schema is only in the id.
SELECT e FROM pgcdc_drasi.bootstrap('bs', ARRAY['stock']) AS e ORDER BY e->>'id';
SELECT count(*) FROM pgcdc_drasi.bootstrap('bs', ARRAY['bs_inv.stock']);

-- bootstrap() reads with the caller's privileges: a pgcdc_drasi_reader
-- may call it for the tables it can read; one unreadable table is an
-- error before any row.
CREATE ROLE regress_bs_reader;
GRANT pgcdc_drasi_reader TO regress_bs_reader;
GRANT USAGE ON SCHEMA pgcdc_drasi TO regress_bs_reader;
GRANT SELECT ON bs_items, bs_pairs, bs_nokey, bs_cols, bs_filtered TO regress_bs_reader;
GRANT USAGE ON SCHEMA bs_inv TO regress_bs_reader;
SET ROLE regress_bs_reader;
SELECT e->>'id' AS id FROM pgcdc_drasi.bootstrap('bs', ARRAY['bs_items', 'bs_pairs']) AS e ORDER BY 1;
SELECT count(*) FROM pgcdc_drasi.bootstrap('bs');
SELECT count(*) FROM pgcdc_drasi.bootstrap('bs', ARRAY['stock']);
RESET ROLE;
GRANT SELECT ON bs_inv.stock TO regress_bs_reader;
SET ROLE regress_bs_reader;
SELECT count(*) FROM pgcdc_drasi.bootstrap('bs');
RESET ROLE;

-- resnapshot() of one table: the worker writes a 't' event for it, then
-- an insert event per row, all marked as snapshot events.  A transaction
-- in progress when it takes its snapshot (here a prepared one) is not in
-- the snapshot, so the stream publishes it afterwards.
BEGIN;
UPDATE bs_items SET price = 100 WHERE id = 2;
PREPARE TRANSACTION 'bs_prepared';
SELECT pgcdc_drasi.resnapshot('bs', ARRAY['bs_items'::regclass]);
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN NOT EXISTS (SELECT 1 FROM pgcdc_drasi.snapshot_requests WHERE source_id = 'bs');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT count(*) FROM pgcdc_drasi.snapshot_requests WHERE source_id = 'bs';
COMMIT PREPARED 'bs_prepared';
INSERT INTO bs_items VALUES (7, 'after the resnapshot', 7);
INSERT INTO bs_pairs VALUES (3, 'z', '[]');
SELECT pgcdc_drasi.wait_for_catchup('bs');
SELECT n, op, element_id, event FROM show_events('bs')
WHERE n >= (SELECT n FROM show_events('bs') WHERE op = 't');
SELECT * FROM check_events('bs');
SELECT label, count(*) FROM pgcdc_drasi.events
WHERE source_id = 'bs' AND op = 't' GROUP BY label;
-- The skip state is dropped once the stream has passed the snapshot.
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN (SELECT resnapshot IS NULL FROM pgcdc_drasi.source_progress WHERE source_id = 'bs');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT resnapshot, resnapshot_tables, resnapshot_until FROM pgcdc_drasi.source_progress
WHERE source_id = 'bs';
SELECT * FROM bs_compare('bs');

-- A late-joining consumer: its snapshot is the one bootstrap() reads,
-- and it reads exactly the events of transactions that snapshot does not
-- show.  With the source paused, changes committed before the consumer
-- (in bootstrap(), not yet in the queue) and after it (in neither) are
-- all published after the consumer was created.  A consumer without
-- bootstrap created at the same time (while the source is paused, so
-- that no retention runs in between) reads all of them.
SELECT pgcdc_drasi.pause_source('bs');
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN (SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = 'bs');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT state, pid FROM pgcdc_drasi.status WHERE source_id = 'bs';
SELECT pgcdc_drasi.create_consumer('bs_all', 'bs', start_at => 'latest');
INSERT INTO bs_items VALUES (5, 'seen by bootstrap', 5);
UPDATE bs_inv.stock SET qty = 99 WHERE sku = 'sku-1';
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pgcdc_drasi.create_consumer('bs_late', 'bs', bootstrap => true);
SELECT e FROM pgcdc_drasi.bootstrap('bs', ARRAY['bs_items', 'stock']) AS e ORDER BY e->>'id';
CREATE TEMP TABLE bs_late_state AS SELECT e FROM pgcdc_drasi.bootstrap('bs') AS e;
COMMIT;
-- A consumer with bootstrap starts at the oldest queued event; read() skips what its snapshot shows.
SELECT acked_seq = (SELECT min(seq) - 1 FROM pgcdc_drasi.events WHERE source_id = 'bs') AS starts_at_oldest_event
FROM pgcdc_drasi.consumers WHERE consumer = 'bs_late';
INSERT INTO bs_items VALUES (6, 'after the consumer', 6);
UPDATE bs_items SET name = 'seen, then changed' WHERE id = 5;
SELECT pgcdc_drasi.resume_source('bs');
SELECT pgcdc_drasi.wait_for_catchup('bs');
SELECT op, element_id, payload->'payload'->'after'->'properties' AS properties
FROM pgcdc_drasi.read('bs_late');
SELECT op, element_id, payload->'payload'->'after'->'properties' AS properties
FROM pgcdc_drasi.read('bs_all');
-- bootstrap() + read() is the state: the events read applied to the
-- elements bootstrap() returned in the consumer's snapshot give exactly
-- what bootstrap() returns now.
CREATE TEMP TABLE bs_late_events AS SELECT * FROM pgcdc_drasi.read('bs_late', 1000000);
WITH last AS (SELECT DISTINCT ON (element_id) op, element_id, payload->'payload'->'after' AS e
			  FROM bs_late_events ORDER BY element_id, seq DESC),
	 state AS (SELECT DISTINCT e FROM bs_late_state
			   WHERE e->>'id' NOT IN (SELECT element_id FROM last)
			   UNION ALL
			   SELECT e FROM last WHERE op IN ('i', 'u')),
	 now AS (SELECT DISTINCT e FROM pgcdc_drasi.bootstrap('bs') AS e)
SELECT (SELECT count(*) FROM bs_late_events WHERE op = 't') AS truncates,
	   (SELECT count(*) FROM state) AS state,
	   (SELECT count(*) FROM now) AS now,
	   (SELECT count(*) FROM (SELECT * FROM state EXCEPT ALL SELECT * FROM now) d) AS only_state,
	   (SELECT count(*) FROM (SELECT * FROM now EXCEPT ALL SELECT * FROM state) d) AS only_now;
DROP TABLE bs_late_state, bs_late_events;
SELECT pgcdc_drasi.drop_consumer('bs_all');
SELECT pgcdc_drasi.drop_consumer('bs_late');
-- bootstrap => true needs a REPEATABLE READ transaction.
SELECT pgcdc_drasi.create_consumer('bs_rc', 'bs', bootstrap => true);
BEGIN;
SELECT pgcdc_drasi.create_consumer('bs_rc', 'bs', bootstrap => true);
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT pgcdc_drasi.create_consumer('bs_ser', 'bs', bootstrap => true);
SELECT consumer, snapshot IS NOT NULL AS has_snapshot FROM pgcdc_drasi.consumers WHERE consumer = 'bs_ser';
ROLLBACK;
SELECT count(*) FROM pgcdc_drasi.consumers WHERE source_id = 'bs';

-- Bad input.
SELECT * FROM pgcdc_drasi.bootstrap('no-such-source');
SELECT pgcdc_drasi.resnapshot('no-such-source');
SELECT pgcdc_drasi.resnapshot('bs', ARRAY['bs_other'::regclass]);
SELECT pgcdc_drasi.resnapshot('bs', ARRAY['bs_items'::regclass, 'bs_other'::regclass]);
SELECT pgcdc_drasi.resnapshot('bs', ARRAY[]::regclass[]);
SELECT pgcdc_drasi.resnapshot('bs', ARRAY[NULL]::regclass[]);
SELECT pgcdc_drasi.resnapshot(NULL);
SELECT * FROM pgcdc_drasi.bootstrap(NULL);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pgcdc_drasi.create_consumer('bs_x', 'no-such-source', bootstrap => true);
ROLLBACK;
SELECT count(*) FROM pgcdc_drasi.snapshot_requests WHERE source_id = 'bs';
-- A slot that already exists cannot have an initial snapshot.
SELECT pgcdc_drasi.create_source('bs2', publication => 'pub_bs', slot_name => 'pgcdc_bs');
SELECT 'init' FROM pg_create_logical_replication_slot('bs_existing', 'pgoutput');
SELECT pgcdc_drasi.create_source('bs2', publication => 'pub_bs', slot_name => 'bs_existing');
SELECT pg_drop_replication_slot('bs_existing');

SELECT pgcdc_drasi.drop_source('bs');
SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'bs';
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgcdc_bs';
DROP PUBLICATION pub_bs;
DROP FUNCTION bs_compare(text);
DROP FUNCTION bs_rebuilt(text);
DROP OWNED BY regress_bs_reader;
DROP ROLE regress_bs_reader;
