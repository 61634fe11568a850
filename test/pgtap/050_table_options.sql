-- 050_table_options.sql: the newer per-table and per-source options and
-- the recovery functions: set_table_label, set_excluded_columns,
-- numeric_as_string (create_source and alter_source), resnapshot's input
-- checks, resync_source (with and without a snapshot), and the event
-- triggers that guard the publications of sources against DROP
-- PUBLICATION, DROP OWNED and ALTER PUBLICATION ... RENAME.
--
-- No enclosing transaction: the workers only see committed changes.
-- Roles this file creates start with "opt_" and are dropped at the end;
-- sources, slots and origins start with "opt" too.  Between sources the
-- file waits until the launcher has applied a drop, so no two scans of a
-- database's sources are in flight around a create.
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

-- The properties of a source's events after a seq, in seq order.
CREATE FUNCTION opt_props(src text, after_seq bigint)
RETURNS TABLE (seq bigint, op text, label text, element_id text, props jsonb, snap boolean)
LANGUAGE sql AS $$
	SELECT seq, op, label, element_id,
		   coalesce(payload->'payload'->'after', payload->'payload'->'before')->'properties',
		   payload->'metadata' ? 'snapshot'
	FROM pgcdc_drasi.events WHERE source_id = src AND seq > after_seq ORDER BY seq
$$;

SET client_min_messages = warning;
DROP ROLE IF EXISTS opt_admin, opt_pubowner;
RESET client_min_messages;
CREATE ROLE opt_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO opt_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO opt_admin;
CREATE ROLE opt_pubowner NOLOGIN;
SELECT current_database() AS opt_db \gset
GRANT CREATE ON DATABASE :"opt_db" TO opt_pubowner;

CREATE TABLE opt_items (id int PRIMARY KEY, name text, price numeric(8,2), secret text);
CREATE TABLE opt_pairs (a int, b text, note text, PRIMARY KEY (a, b));
CREATE TABLE opt_hidden (id int PRIMARY KEY, v text);
CREATE TABLE opt_unpub (id int PRIMARY KEY);
CREATE TABLE opt_part (id int NOT NULL, region text NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE opt_part_eu PARTITION OF opt_part FOR VALUES IN ('eu');
CREATE VIEW opt_view AS SELECT * FROM opt_items;
CREATE SEQUENCE opt_seq;
CREATE TABLE opt_dropped (id int PRIMARY KEY);
CREATE TYPE opt_amount AS (amount numeric, qty int);
CREATE TABLE opt_nums (
	id int PRIMARY KEY,
	n numeric,
	m numeric(12,3),
	i int,
	b bigint,
	f float8,
	r real,
	arr numeric[],
	c opt_amount
);
CREATE TABLE opt_rs (id int PRIMARY KEY, v text);
CREATE TABLE opt_g (id int PRIMARY KEY);
GRANT SELECT ON opt_items, opt_pairs TO opt_admin;

INSERT INTO opt_items VALUES (1, 'apple', 1.50, 's1'), (2, 'pear', 2.25, 's2');
INSERT INTO opt_pairs VALUES (1, 'x', 'one-x');
INSERT INTO opt_nums VALUES
	(1, 1234567890123456789012345678901234567890.0123456789, 1.5, 7, 9007199254740993, 0.1, 1.5, '{1.10,2}', ROW(10.50, 2)),
	(2, 'NaN', -0.25, -1, -9223372036854775808, 'NaN', '-Infinity', '{}', NULL);
INSERT INTO opt_rs VALUES (1, 'one');

CREATE PUBLICATION opt_pub FOR TABLE opt_items, opt_pairs;
CREATE PUBLICATION opt_ex_pub FOR TABLE opt_items, opt_pairs;
CREATE PUBLICATION opt_num_pub FOR TABLE opt_nums;
CREATE PUBLICATION opt_rs_pub FOR TABLE opt_rs;
CREATE PUBLICATION "Opt Guard Pub" FOR TABLE opt_g;
CREATE PUBLICATION opt_owned_pub FOR TABLE opt_g;
ALTER PUBLICATION opt_owned_pub OWNER TO opt_pubowner;
CREATE PUBLICATION opt_free_pub FOR TABLE opt_g;
CREATE PUBLICATION opt_other_pub FOR TABLE opt_g;

SELECT plan(183);

----------------------------------------------------------------------
-- set_table_label: input checks
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_chk', 'opt_pub', enabled => false)$$,
	'a disabled source for the input checks');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_items', '')$$),
	ARRAY['22023', 'label must not be empty', '', 'Pass NULL to label the nodes with the table name again.'],
	'set_table_label: empty label (message and hint)');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_items', repeat('é', 513))$$),
	ARRAY['22023', 'label is too long', 'A label has at most 1024 bytes; this one has 1026.', ''],
	'set_table_label: a label over 1024 bytes (message and detail)');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_options WHERE source_id = 'opt_chk'$$,
	'the refused labels recorded nothing');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('opt_nosuch', 'opt_items', 'L')$$,
	'42704', 'source "opt_nosuch" does not exist', 'set_table_label: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('OPT_CHK', 'opt_items', 'L')$$,
	'42704', 'source "OPT_CHK" does not exist', 'set_table_label: source ids are case-sensitive');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_no_such_table', 'L')$$,
	'42P01', 'relation "opt_no_such_table" does not exist', 'set_table_label: unknown table name');
SELECT oid AS opt_dropped_oid FROM pg_class WHERE relname = 'opt_dropped' \gset
DROP TABLE opt_dropped;
SELECT is(err_info(format('SELECT pgcdc_drasi.set_table_label(%L, %s::oid::regclass, %L)', 'opt_chk', :opt_dropped_oid, 'L')),
	ARRAY['42P01', format('table with OID %s does not exist', :opt_dropped_oid), '', ''],
	'set_table_label: a table OID that does not exist (table not found)');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_view', 'L')$$,
	'42809', '"opt_view" is not a table', 'set_table_label: a view is not a table');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_seq', 'L')$$,
	'42809', '"opt_seq" is not a table', 'set_table_label: a sequence is not a table');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_items_pkey', 'L')$$,
	'42809', '"opt_items_pkey" is not a table', 'set_table_label: an index is not a table');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'pg_catalog.pg_class', 'L')$$,
	'42809', '"pg_class" is not a table', 'set_table_label: a system catalog is not a table');
SET ROLE opt_admin;
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_hidden', 'Hidden')$$),
	ARRAY['42501', 'permission denied for table opt_hidden', '', ''],
	'set_table_label: refused for a table the caller cannot SELECT');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_items', 'ByAdmin')$$,
	'set_table_label: an admin may label a table it can SELECT');
RESET ROLE;
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_part', 'Part')$$,
	'set_table_label: a partitioned table is a table');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_part_eu', 'PartEU')$$,
	'set_table_label: so is a partition');
SELECT results_eq(
	$$SELECT table_id::text, label, exclude_columns FROM pgcdc_drasi.table_options WHERE source_id = 'opt_chk' ORDER BY 1$$,
	$$VALUES ('opt_items', 'ByAdmin', NULL::text[]), ('opt_part', 'Part', NULL), ('opt_part_eu', 'PartEU', NULL)$$,
	'only the accepted labels were recorded');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_items', 'Twice')$$, 'set_table_label again');
SELECT is((SELECT label FROM pgcdc_drasi.table_options WHERE source_id = 'opt_chk' AND table_id = 'opt_items'::regclass),
	'Twice', 'set_table_label again replaces the label (one row per source and table)');

----------------------------------------------------------------------
-- set_excluded_columns: input checks
----------------------------------------------------------------------
SELECT is(err_info($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_items', ARRAY['nope'])$$),
	ARRAY['42703', 'column "nope" of table "opt_items" does not exist', '', ''],
	'set_excluded_columns: unknown column (message)');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_items', ARRAY['secret', 'nope'])$$,
	'42703', 'column "nope" of table "opt_items" does not exist', 'set_excluded_columns: one unknown column of several');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_items', ARRAY['SECRET'])$$,
	'42703', 'column "SECRET" of table "opt_items" does not exist', 'set_excluded_columns: column names are case-sensitive');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_items', ARRAY['ctid'])$$,
	'42703', 'column "ctid" of table "opt_items" does not exist', 'set_excluded_columns: a system column does not count');
SELECT is(err_info($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_items', ARRAY['secret', NULL])$$),
	ARRAY['22004', 'columns must not contain NULL', '', ''],
	'set_excluded_columns: NULL element');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_nosuch', 'opt_items', ARRAY['secret'])$$,
	'42704', 'source "opt_nosuch" does not exist', 'set_excluded_columns: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_view', ARRAY['secret'])$$,
	'42809', '"opt_view" is not a table', 'set_excluded_columns: a view is not a table');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_no_such_table', ARRAY['secret'])$$,
	'42P01', 'relation "opt_no_such_table" does not exist', 'set_excluded_columns: unknown table name');
SET ROLE opt_admin;
SELECT is(err_info($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_hidden', ARRAY['v'])$$),
	ARRAY['42501', 'permission denied for table opt_hidden', '', ''],
	'set_excluded_columns: refused for a table the caller cannot SELECT');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.table_options WHERE exclude_columns IS NOT NULL), 0,
	'the refused calls recorded no excluded columns');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_items', ARRAY['secret', 'id'])$$,
	'set_excluded_columns: key columns may be left out of the properties');
SELECT results_eq(
	$$SELECT label, exclude_columns FROM pgcdc_drasi.table_options WHERE source_id = 'opt_chk' AND table_id = 'opt_items'::regclass$$,
	$$VALUES ('Twice', ARRAY['secret', 'id'])$$,
	'the label and the excluded columns share the table''s row');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('opt_chk', 'opt_items', NULL)$$, 'set_table_label NULL');
SELECT results_eq(
	$$SELECT label, exclude_columns FROM pgcdc_drasi.table_options WHERE source_id = 'opt_chk' AND table_id = 'opt_items'::regclass$$,
	$$VALUES (NULL::text, ARRAY['secret', 'id'])$$,
	'set_table_label NULL removes the label and keeps the excluded columns');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_items', ARRAY[]::text[])$$,
	'set_excluded_columns with an empty array');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.table_options WHERE source_id = 'opt_chk' AND table_id = 'opt_items'::regclass), 0,
	'an empty array removes the excluded columns; with no option left the row is gone');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_part', ARRAY['region'])$$,
	'set_excluded_columns on a partitioned table');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_chk', 'opt_part', NULL)$$,
	'set_excluded_columns NULL');
SELECT results_eq(
	$$SELECT table_id::text, label, exclude_columns FROM pgcdc_drasi.table_options WHERE source_id = 'opt_chk' ORDER BY 1$$,
	$$VALUES ('opt_part', 'Part', NULL::text[]), ('opt_part_eu', 'PartEU', NULL)$$,
	'NULL removes the excluded columns and keeps the label');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('opt_chk')$$, 'drop the source of the input checks');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_options$$, 'drop_source removes its table options');

----------------------------------------------------------------------
-- resnapshot: input checks
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_rsn', 'opt_pub', enabled => false)$$,
	'a disabled source for resnapshot');
SELECT throws_ok($$SELECT pgcdc_drasi.resnapshot('opt_nosuch')$$,
	'42704', 'source "opt_nosuch" does not exist', 'resnapshot: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.resnapshot('opt_nosuch', ARRAY['opt_items'::regclass])$$,
	'42704', 'source "opt_nosuch" does not exist', 'resnapshot: unknown source, with tables');
SELECT is(err_info($$SELECT pgcdc_drasi.resnapshot('opt_rsn', ARRAY['opt_unpub'::regclass])$$),
	ARRAY['22023', 'table opt_unpub is not published by source "opt_rsn"', 'Publication "opt_pub" does not include it.', ''],
	'resnapshot: a table outside the publication (message and detail)');
SELECT is(err_info($$SELECT pgcdc_drasi.resnapshot('opt_rsn', ARRAY['opt_items'::regclass, 'opt_unpub'::regclass])$$),
	ARRAY['22023', 'table opt_unpub is not published by source "opt_rsn"', 'Publication "opt_pub" does not include it.', ''],
	'resnapshot: one table of several outside the publication');
SELECT is(err_info($$SELECT pgcdc_drasi.resnapshot('opt_rsn', ARRAY['opt_view'::regclass])$$),
	ARRAY['22023', 'table opt_view is not published by source "opt_rsn"', 'Publication "opt_pub" does not include it.', ''],
	'resnapshot: a view is not published');
SELECT is(err_info($$SELECT pgcdc_drasi.resnapshot('opt_rsn', ARRAY[]::regclass[])$$),
	ARRAY['22023', 'tables must name at least one table', '', 'Pass NULL to take a snapshot of every table of the source.'],
	'resnapshot: empty array (message and hint)');
SELECT is(err_info($$SELECT pgcdc_drasi.resnapshot('opt_rsn', ARRAY['opt_items'::regclass, NULL])$$),
	ARRAY['22004', 'tables must not contain NULL', '', ''],
	'resnapshot: NULL element');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.snapshot_requests$$, 'the refused calls recorded no snapshot request');
SELECT lives_ok($$SELECT pgcdc_drasi.resnapshot('opt_rsn', ARRAY['opt_pairs'::regclass, 'opt_items'::regclass])$$,
	'resnapshot of two published tables');
SELECT lives_ok($$SELECT pgcdc_drasi.resnapshot('opt_rsn')$$, 'resnapshot of every table (NULL)');
SELECT results_eq(
	$$SELECT source_id, tables::regclass[]::text[], resync FROM pgcdc_drasi.snapshot_requests ORDER BY request_id$$,
	$$VALUES ('opt_rsn', ARRAY['opt_pairs', 'opt_items'], false), ('opt_rsn', NULL::text[], false)$$,
	'the requests wait for the (paused) worker: the tables as given, NULL for all');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('opt_rsn')$$, 'drop the resnapshot source');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.snapshot_requests$$, 'drop_source removes its pending requests');
-- The launcher has applied the drops before the next source is created
-- (see the known bugs above).
SELECT ok(poll_until($$SELECT NOT EXISTS (SELECT 1 FROM pgcdc_drasi.source_status() WHERE source_id IN ('opt_chk', 'opt_rsn'))$$, 60),
	'the dropped sources are gone from source_status()');

----------------------------------------------------------------------
-- set_table_label: events and bootstrap()
----------------------------------------------------------------------
-- A label set in the transaction that creates the source applies to its
-- initial snapshot already.
BEGIN;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_lbl', 'opt_pub')$$, 'create_source opt_lbl');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('opt_lbl', 'opt_items', 'Item')$$, 'label opt_items "Item"');
COMMIT;
SELECT ok(poll_until($$SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'opt_lbl'$$, 60),
	'opt_lbl streams after its initial snapshot');
SELECT results_eq(
	$$SELECT op, label, element_id, payload->'payload'->'after'->'labels', payload->'metadata'->'snapshot'
	  FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' ORDER BY seq$$,
	$$VALUES ('i', 'Item', 'opt_items:1', '["Item"]'::jsonb, 'true'::jsonb),
	         ('i', 'Item', 'opt_items:2', '["Item"]'::jsonb, 'true'::jsonb),
	         ('i', 'opt_pairs', 'opt_pairs:1_x', '["opt_pairs"]'::jsonb, 'true'::jsonb)$$,
	'the initial snapshot carries the label (queue column and event); ids keep the table name; other tables keep theirs');

INSERT INTO opt_items VALUES (3, 'plum', 0.99, 's3');
UPDATE opt_items SET price = 1.75 WHERE id = 1;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_lbl')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT op, label, element_id, payload->'payload'->'after'
	  FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' AND seq > 3 ORDER BY seq$$,
	$$VALUES ('i', 'Item', 'opt_items:3',
	          '{"id": "opt_items:3", "labels": ["Item"], "properties": {"id": 3, "name": "plum", "price": 0.99, "secret": "s3"}}'::jsonb),
	         ('u', 'Item', 'opt_items:1',
	          '{"id": "opt_items:1", "labels": ["Item"], "properties": {"id": 1, "name": "apple", "price": 1.75, "secret": "s1"}}'::jsonb)$$,
	'streamed events carry the label; ids keep the table name');
SELECT results_eq(
	$$SELECT e FROM pgcdc_drasi.bootstrap('opt_lbl') e WHERE e->>'id' LIKE 'opt\_items:%' ORDER BY e->>'id'$$,
	$$VALUES ('{"id": "opt_items:1", "labels": ["Item"], "properties": {"id": 1, "name": "apple", "price": 1.75, "secret": "s1"}}'::jsonb),
	         ('{"id": "opt_items:2", "labels": ["Item"], "properties": {"id": 2, "name": "pear", "price": 2.25, "secret": "s2"}}'::jsonb),
	         ('{"id": "opt_items:3", "labels": ["Item"], "properties": {"id": 3, "name": "plum", "price": 0.99, "secret": "s3"}}'::jsonb)$$,
	'bootstrap() elements carry the label and keep the table name in their ids');
SELECT results_eq(
	$$SELECT e->>'id' FROM pgcdc_drasi.bootstrap('opt_lbl', ARRAY['Item']) e ORDER BY 1$$,
	$$VALUES ('opt_items:1'), ('opt_items:2'), ('opt_items:3')$$,
	'bootstrap() with labels filters by the label consumers see');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.bootstrap('opt_lbl', ARRAY['opt_items'])), 0,
	'bootstrap() with the table name of a labelled table returns nothing of it');

-- A new label applies to the events published after it; queued events
-- keep theirs.  Deletes and truncates carry it too.
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('opt_lbl', 'opt_items', 'Product')$$, 'relabel opt_items "Product"');
INSERT INTO opt_items VALUES (4, 'fig', 4.00, 's4');
DELETE FROM opt_items WHERE id = 2;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_lbl')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT op, label, element_id, coalesce(payload->'payload'->'after', payload->'payload'->'before')->'labels'
	  FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' AND seq > 5 ORDER BY seq$$,
	$$VALUES ('i', 'Product', 'opt_items:4', '["Product"]'::jsonb), ('d', 'Product', 'opt_items:2', '["Product"]'::jsonb)$$,
	'after the relabel, inserts and deletes carry the new label under the same ids');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' AND label = 'Item'), 4,
	'the events published before keep the old label');
-- A re-snapshot of the table: its t event and rows carry the label.
SELECT lives_ok($$SELECT pgcdc_drasi.resnapshot('opt_lbl', ARRAY['opt_items'::regclass])$$, 'resnapshot of the labelled table');
SELECT ok(poll_until($$SELECT count(*) = 4 FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' AND seq > 7$$, 60),
	'the re-snapshot is published');
SELECT results_eq(
	$$SELECT op, label, element_id, coalesce(payload->'payload'->'after', payload->'payload'->'before') - 'properties'
	  FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' AND seq > 7 ORDER BY op <> 't', element_id$$,
	$$VALUES ('t', 'Product', NULL::text, '{"labels": ["Product"], "idPrefix": "opt_items:"}'::jsonb),
	         ('i', 'Product', 'opt_items:1', '{"id": "opt_items:1", "labels": ["Product"]}'::jsonb),
	         ('i', 'Product', 'opt_items:3', '{"id": "opt_items:3", "labels": ["Product"]}'::jsonb),
	         ('i', 'Product', 'opt_items:4', '{"id": "opt_items:4", "labels": ["Product"]}'::jsonb)$$,
	're-snapshot: the t event carries the label and the table''s id prefix, the rows the label');
SELECT is((SELECT op FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' AND seq = 8), 't',
	're-snapshot: the t event comes before the rows');
TRUNCATE opt_items;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_lbl')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT op, label, element_id, payload->'payload'->'before'
	  FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' AND seq > 11 ORDER BY seq$$,
	$$VALUES ('t', 'Product', NULL::text, '{"labels": ["Product"], "idPrefix": "opt_items:"}'::jsonb)$$,
	'a TRUNCATE event carries the label and the table''s id prefix');
-- NULL: back to the table name.
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('opt_lbl', 'opt_items', NULL)$$, 'set_table_label NULL');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_options WHERE source_id = 'opt_lbl'$$,
	'the label is gone, and the row with it');
INSERT INTO opt_items VALUES (5, 'kiwi', 5.00, 's5');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_lbl')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT op, label, element_id, payload->'payload'->'after'->'labels'
	  FROM pgcdc_drasi.events WHERE source_id = 'opt_lbl' AND seq > 12 ORDER BY seq$$,
	$$VALUES ('i', 'opt_items', 'opt_items:5', '["opt_items"]'::jsonb)$$,
	'after set_table_label NULL, events are labelled with the table name again');
SELECT results_eq(
	$$SELECT e->'labels' FROM pgcdc_drasi.bootstrap('opt_lbl') e WHERE e->>'id' = 'opt_items:5'$$,
	$$VALUES ('["opt_items"]'::jsonb)$$,
	'and so are the elements of bootstrap()');

----------------------------------------------------------------------
-- numeric_as_string
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_num', 'opt_num_pub', numeric_as_string => true)$$,
	'create_source with numeric_as_string => true');
SELECT is((SELECT numeric_as_string FROM pgcdc_drasi.sources WHERE source_id = 'opt_num'), true,
	'numeric_as_string is recorded');
SELECT ok(poll_until($$SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'opt_num'$$, 60),
	'opt_num streams after its initial snapshot');
INSERT INTO opt_nums VALUES (3, 2.50, 100, 0, 0, 1e100, 3.25, NULL, NULL);
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_num')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT element_id, props - 'arr' - 'c', snap FROM opt_props('opt_num', 0)$$,
	$$VALUES ('opt_nums:1', '{"id": 1, "n": "1234567890123456789012345678901234567890.0123456789", "m": "1.500", "i": 7, "b": 9007199254740993, "f": 0.1, "r": 1.5}'::jsonb, true),
	         ('opt_nums:2', '{"id": 2, "n": "NaN", "m": "-0.250", "i": -1, "b": -9223372036854775808, "f": "NaN", "r": "-Infinity"}'::jsonb, true),
	         ('opt_nums:3', '{"id": 3, "n": "2.50", "m": "100.000", "i": 0, "b": 0, "f": 1e100, "r": 3.25}'::jsonb, false)$$,
	'numeric properties are JSON strings of the same text (snapshot and stream); integers and floats stay numbers');
SELECT results_eq(
	$$SELECT e->>'id', jsonb_typeof(e->'properties'->'n'), e->'properties'->>'n', jsonb_typeof(e->'properties'->'m'),
	         e->'properties'->>'m', jsonb_typeof(e->'properties'->'i'), jsonb_typeof(e->'properties'->'f')
	  FROM pgcdc_drasi.bootstrap('opt_num') e ORDER BY 1$$,
	$$VALUES ('opt_nums:1', 'string', '1234567890123456789012345678901234567890.0123456789', 'string', '1.500', 'number', 'number'),
	         ('opt_nums:2', 'string', 'NaN', 'string', '-0.250', 'number', 'string'),
	         ('opt_nums:3', 'string', '2.50', 'string', '100.000', 'number', 'number')$$,
	'bootstrap() writes numeric properties as strings as well');
SELECT is((SELECT props->'arr' FROM opt_props('opt_num', 0) WHERE element_id = 'opt_nums:1'), '["1.10", "2"]'::jsonb,
	'numeric_as_string: the elements of a numeric[] are strings');
SELECT is((SELECT props->'c' FROM opt_props('opt_num', 0) WHERE element_id = 'opt_nums:1'), '{"amount": "10.50", "qty": 2}'::jsonb,
	'numeric_as_string: a numeric attribute of a composite is a string');
-- alter_source takes effect at the worker's next local transaction.
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('opt_num', numeric_as_string => false)$$,
	'alter_source numeric_as_string => false');
INSERT INTO opt_nums VALUES (4, 4.40, 4.4, 4, 4, 4.4, 4.4, NULL, NULL);
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_num')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT element_id, jsonb_typeof(props->'n'), (props->'n')::text, jsonb_typeof(props->'m'), (props->'m')::text
	  FROM opt_props('opt_num', 3)$$,
	$$VALUES ('opt_nums:4', 'number', '4.40', 'number', '4.400')$$,
	'after alter_source numeric_as_string => false, numeric properties are numbers with every digit again');
SELECT is((SELECT jsonb_typeof(e->'properties'->'n') FROM pgcdc_drasi.bootstrap('opt_num') e WHERE e->>'id' = 'opt_nums:1'),
	'number', 'bootstrap() follows the current setting');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('opt_num', numeric_as_string => true)$$,
	'alter_source numeric_as_string => true');
INSERT INTO opt_nums VALUES (5, 5.50, 5.5, 5, 5, 5.5, 5.5, NULL, NULL);
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_num')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT element_id, jsonb_typeof(props->'n'), props->>'n', jsonb_typeof(props->'i'), jsonb_typeof(props->'f')
	  FROM opt_props('opt_num', 4)$$,
	$$VALUES ('opt_nums:5', 'string', '5.50', 'number', 'number')$$,
	'after alter_source numeric_as_string => true, numeric properties are strings again');
SELECT results_eq(
	$$SELECT element_id, jsonb_typeof(props->'n') FROM opt_props('opt_num', 0) ORDER BY seq$$,
	$$VALUES ('opt_nums:1', 'string'), ('opt_nums:2', 'string'), ('opt_nums:3', 'string'), ('opt_nums:4', 'number'),
	         ('opt_nums:5', 'string')$$,
	'events already queued keep the form they were published with');

----------------------------------------------------------------------
-- failover: from PostgreSQL 17 on, the source's slot is a failover slot,
-- made so by create_source and resync_source, changed by alter_source
-- (its worker restarts and alters the slot).  Before 17 only
-- failover => false exists (020_errors has the refusal), and
-- pg_replication_slots has no failover column (read as NULL here).
----------------------------------------------------------------------
CREATE FUNCTION opt_slot_failover() RETURNS jsonb LANGUAGE sql AS $$
	SELECT to_jsonb(s) -> 'failover' FROM pg_replication_slots s WHERE slot_name = 'pgcdc_opt_fo'
$$;
CREATE FUNCTION opt_pg17() RETURNS boolean LANGUAGE sql AS $$
	SELECT current_setting('server_version_num')::int >= 170000
$$;
SET client_min_messages = error;	-- synchronized_standby_slots is empty: a WARNING
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_fo', 'opt_num_pub', bootstrap => false, failover => opt_pg17())$$,
	'create_source with failover => true (false before PostgreSQL 17)');
RESET client_min_messages;
SELECT is((SELECT failover FROM pgcdc_drasi.sources WHERE source_id = 'opt_fo'), opt_pg17(),
	'failover is recorded');
SELECT is(opt_slot_failover(), CASE WHEN opt_pg17() THEN 'true'::jsonb END,
	'create_source made a failover slot');
SELECT ok(wait_status('opt_fo', $$state = 'streaming'$$, 60), 'opt_fo streams');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('opt_fo', failover => false)$$,
	'alter_source failover => false');
SELECT results_eq(
	$$SELECT s.failover, st.failover FROM pgcdc_drasi.sources s JOIN pgcdc_drasi.status st USING (source_id)
	  WHERE source_id = 'opt_fo'$$,
	$$VALUES (false, false)$$,
	'sources and status show failover false');
SELECT ok(poll_until($$SELECT opt_slot_failover() IS DISTINCT FROM 'true'::jsonb
	                 AND EXISTS (SELECT 1 FROM pgcdc_drasi.status WHERE source_id = 'opt_fo' AND state = 'streaming')$$, 60),
	'the worker is back and its slot is no failover slot any more');
INSERT INTO opt_nums VALUES (6, 6, 6, 6, 6, 6, 6, NULL, NULL);
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_fo')$$, 'wait_for_catchup');
SET client_min_messages = error;
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('opt_fo', failover => opt_pg17())$$,
	'alter_source failover => true (false before PostgreSQL 17)');
RESET client_min_messages;
SELECT ok(poll_until($$SELECT opt_slot_failover() IS NOT DISTINCT FROM CASE WHEN opt_pg17() THEN 'true'::jsonb END
	                 AND EXISTS (SELECT 1 FROM pgcdc_drasi.status WHERE source_id = 'opt_fo' AND state = 'streaming')$$, 60),
	'the worker is back and its slot is a failover slot again');
INSERT INTO opt_nums VALUES (7, 7, 7, 7, 7, 7, 7, NULL, NULL);
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_fo')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT seq, op, element_id FROM pgcdc_drasi.events WHERE source_id = 'opt_fo' ORDER BY seq$$,
	$$VALUES (1::bigint, 'i', 'opt_nums:6'), (2::bigint, 'i', 'opt_nums:7')$$,
	'the restarts lost and repeated nothing');
-- resync_source makes a lost slot again with the source's failover.
SELECT lives_ok($$SELECT pgcdc_drasi.pause_source('opt_fo')$$, 'pause opt_fo');
SELECT ok(poll_until($$SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'pgcdc_opt_fo'$$, 60),
	'its slot is released');
SELECT lives_ok($$SELECT pg_drop_replication_slot('pgcdc_opt_fo')$$, 'the slot is lost');
SELECT lives_ok($$SELECT pgcdc_drasi.resync_source('opt_fo')$$, 'resync_source');
SELECT is(opt_slot_failover(), CASE WHEN opt_pg17() THEN 'true'::jsonb ELSE NULL END,
	'resync_source made the slot again, a failover slot');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('opt_fo')$$, 'drop opt_fo');
SELECT ok(poll_until($$SELECT NOT EXISTS (SELECT 1 FROM pgcdc_drasi.source_status() WHERE source_id = 'opt_fo')$$, 60),
	'the dropped source is gone from source_status()');

----------------------------------------------------------------------
-- resync_source
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.resync_source('opt_nosuch')$$,
	'42704', 'source "opt_nosuch" does not exist', 'resync_source: unknown source');
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_rs', 'opt_rs_pub', bootstrap => false)$$,
	'create_source opt_rs (no initial snapshot)');
SELECT ok(poll_until($$SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'opt_rs'$$, 60), 'opt_rs streams');
INSERT INTO opt_rs VALUES (2, 'two');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_rs')$$, 'wait_for_catchup');
-- The publication disappears for a while (the guard is bypassed with
-- session_replication_role = replica, under which event triggers do not
-- fire): what was written meanwhile can never be decoded.
BEGIN;
SET LOCAL session_replication_role = replica;
DROP PUBLICATION opt_rs_pub;
COMMIT;
INSERT INTO opt_rs VALUES (3, 'while the publication is missing');
-- The rename guard must not refuse changes to other publications.
SELECT lives_ok($$ALTER PUBLICATION opt_other_pub ADD TABLE opt_unpub$$,
	'ALTER PUBLICATION of an unrelated publication is accepted while a source''s publication is missing');
CREATE PUBLICATION opt_rs_pub FOR TABLE opt_rs;
INSERT INTO opt_rs VALUES (4, 'after the publication is back');
-- Up to PostgreSQL 17 the walsender fails on the change written while the
-- publication was missing, for good; 18's pgoutput skips the publication
-- at that point of the WAL (a WARNING), so the change is not published and
-- the source goes on with the next one.
SELECT current_setting('server_version_num')::int >= 180000 AS pg18 \gset
SELECT CASE WHEN :'pg18' THEN
	ok(poll_until($$SELECT count(*) = 2 AND bool_and(element_id <> 'opt_rs:3') FROM pgcdc_drasi.events WHERE source_id = 'opt_rs'$$, 60),
	   'PostgreSQL 18: the source goes on; the change written while the publication was missing is not published')
	ELSE
	ok(poll_until($$SELECT last_error LIKE '%publication "opt_rs_pub" does not exist%' FROM pgcdc_drasi.status WHERE source_id = 'opt_rs'$$, 60),
	   'the source cannot go on: it reports the missing publication')
	END;
SELECT lives_ok($$SELECT pgcdc_drasi.resync_source('opt_rs')$$, 'resync_source');
SELECT ok(poll_until(format($$SELECT NOT EXISTS (SELECT 1 FROM pgcdc_drasi.snapshot_requests WHERE source_id = 'opt_rs')
	                 AND (SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'opt_rs') = %s$$,
	                 CASE WHEN :'pg18' THEN 7 ELSE 6 END), 60),
	'after resync_source the worker takes the re-snapshot');
SELECT ok(poll_until($$SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'opt_rs'$$, 60),
	'the resynced source streams');
INSERT INTO opt_rs VALUES (5, 'after the resync');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_rs')$$, 'wait_for_catchup after the resync');
SELECT results_eq(
	$$SELECT seq, op, element_id, payload->'metadata'->'snapshot', snapshot IS NOT NULL
	  FROM pgcdc_drasi.events WHERE source_id = 'opt_rs' ORDER BY seq$$,
	CASE WHEN :'pg18' THEN
	$$VALUES (1::bigint, 'i', 'opt_rs:2', NULL::jsonb, false),
	         (2::bigint, 'i', 'opt_rs:4', NULL::jsonb, false),
	         (3::bigint, 't', NULL, 'true'::jsonb, true),
	         (4::bigint, 'i', 'opt_rs:1', 'true'::jsonb, true),
	         (5::bigint, 'i', 'opt_rs:2', 'true'::jsonb, true),
	         (6::bigint, 'i', 'opt_rs:3', 'true'::jsonb, true),
	         (7::bigint, 'i', 'opt_rs:4', 'true'::jsonb, true),
	         (8::bigint, 'i', 'opt_rs:5', NULL::jsonb, false)$$
	ELSE
	$$VALUES (1::bigint, 'i', 'opt_rs:2', NULL::jsonb, false),
	         (2::bigint, 't', NULL, 'true'::jsonb, true),
	         (3::bigint, 'i', 'opt_rs:1', 'true'::jsonb, true),
	         (4::bigint, 'i', 'opt_rs:2', 'true'::jsonb, true),
	         (5::bigint, 'i', 'opt_rs:3', 'true'::jsonb, true),
	         (6::bigint, 'i', 'opt_rs:4', 'true'::jsonb, true),
	         (7::bigint, 'i', 'opt_rs:5', NULL::jsonb, false)$$
	END,
	'the queue: a snapshot run (a t event, then an insert per current row, marked snapshot) in place of the lost changes, then the stream; seq goes on');
SELECT is((SELECT payload->'payload'->'before' FROM pgcdc_drasi.events WHERE source_id = 'opt_rs' AND op = 't'),
	'{"labels": ["opt_rs"], "idPrefix": "opt_rs:"}'::jsonb, 'the t event clears the table''s nodes');
SELECT ok(poll_until($$SELECT resnapshot IS NULL AND resnapshot_tables IS NULL AND resnapshot_until IS NULL
	                 FROM pgcdc_drasi.source_progress WHERE source_id = 'opt_rs'$$, 60),
	'the re-snapshot''s skip state is cleared once the stream has passed it');
SELECT is((SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'opt_rs'),
	CASE WHEN :'pg18' THEN 8::bigint ELSE 7::bigint END,
	'last_seq counts every event');

----------------------------------------------------------------------
-- resync_source without a snapshot: a caught-up source that lost its
-- slot goes on from a new one (what pg_upgrade from 15 needs)
----------------------------------------------------------------------
SELECT is(err_info($$SELECT pgcdc_drasi.resync_source('opt_rs', snapshot => false)$$),
	ARRAY['55000', 'source "opt_rs" still has its replication slot "pgcdc_opt_rs"',
	      'Without a snapshot, resync_source only gives a new slot to a source whose slot is missing or invalidated.',
	      'If the source cannot stream, call pgcdc_drasi.resync_source(''opt_rs''): it skips the WAL the source cannot decode and takes a new snapshot of its tables.'],
	'resync_source without a snapshot refuses a source that still has its slot (message, detail, hint)');
SELECT slot_lsn AS opt_rs_old_slot_lsn FROM pgcdc_drasi.source_progress WHERE source_id = 'opt_rs' \gset
SELECT lives_ok($$SELECT pgcdc_drasi.pause_source('opt_rs')$$, 'pause opt_rs');
SELECT ok(poll_until($$SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'pgcdc_opt_rs'$$, 60),
	'its worker lets go of the slot');
SELECT lives_ok($$SELECT pg_drop_replication_slot('pgcdc_opt_rs')$$, 'the slot is lost (dropped by hand)');
SELECT lives_ok($$SELECT pgcdc_drasi.resume_source('opt_rs')$$, 'resume opt_rs');
SELECT ok(poll_until($$SELECT last_error LIKE '%replication slot "pgcdc_opt_rs" of source "opt_rs" does not exist%'
	                 FROM pgcdc_drasi.status WHERE source_id = 'opt_rs'$$, 60),
	'without its slot the source cannot stream');
SELECT lives_ok($$SELECT pgcdc_drasi.resync_source('opt_rs', snapshot => false)$$,
	'resync_source without a snapshot gives it a new slot');
SELECT is((SELECT count(*) FROM pgcdc_drasi.snapshot_requests WHERE source_id = 'opt_rs'), 0::bigint,
	'no snapshot is requested');
SELECT ok((SELECT p.slot_lsn > :'opt_rs_old_slot_lsn' AND p.slot_lsn <= r.confirmed_flush_lsn
	       FROM pgcdc_drasi.source_progress p, pg_replication_slots r
	       WHERE p.source_id = 'opt_rs' AND r.slot_name = 'pgcdc_opt_rs'),
	'the new slot is recorded as the source''s own');
SELECT ok(poll_until($$SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'opt_rs'$$, 60),
	'the source streams from its new slot');
SELECT last_seq AS opt_rs_last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'opt_rs' \gset
INSERT INTO opt_rs VALUES (6, 'on the new slot');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_rs')$$, 'wait_for_catchup on the new slot');
SELECT results_eq(
	format($$SELECT seq - %s, op, element_id, payload->'metadata'->'snapshot'
	         FROM pgcdc_drasi.events WHERE source_id = 'opt_rs' AND seq > %s ORDER BY seq$$,
	       :opt_rs_last_seq, :opt_rs_last_seq),
	$$VALUES (1::bigint, 'i', 'opt_rs:6', NULL::jsonb)$$,
	'the queue goes on with the next seq, from the stream only: no snapshot events');

----------------------------------------------------------------------
-- The publication guards
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_guard', 'Opt Guard Pub', enabled => false)$$,
	'a source of a publication whose name needs quotes');
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_owned', 'opt_owned_pub', enabled => false)$$,
	'a source of a publication owned by another role');
SELECT is(err_info($$DROP PUBLICATION opt_pub$$),
	ARRAY['2BP01', 'publication "opt_pub" is used by pgcdc_drasi source "opt_lbl"',
	      'Changes written while the publication is missing are never published, and before PostgreSQL 18 the source cannot go on even after it is created again.',
	      'Drop the source first with pgcdc_drasi.drop_source(), or remove tables with ALTER PUBLICATION ... DROP TABLE.'],
	'DROP PUBLICATION of a used publication is refused (message, detail, hint)');
SELECT is((err_info($$DROP PUBLICATION "Opt Guard Pub"$$))[1:1] || (err_info($$DROP PUBLICATION "Opt Guard Pub"$$))[3:4],
	ARRAY['2BP01',
	      'Changes written while the publication is missing are never published, and before PostgreSQL 18 the source cannot go on even after it is created again.',
	      'Drop the source first with pgcdc_drasi.drop_source(), or remove tables with ALTER PUBLICATION ... DROP TABLE.'],
	'DROP PUBLICATION of a used publication whose name needs quotes is refused');
SELECT is((err_info($$DROP PUBLICATION "Opt Guard Pub"$$))[2],
	'publication "Opt Guard Pub" is used by pgcdc_drasi source "opt_guard"',
	'the refusal names the publication as the rename guard and PostgreSQL do: in quotes, not quoted twice');
SELECT throws_ok($$DROP PUBLICATION IF EXISTS opt_free_pub, opt_pub$$,
	'2BP01', 'publication "opt_pub" is used by pgcdc_drasi source "opt_lbl"',
	'DROP PUBLICATION of an unused and a used publication is refused as a whole');
SELECT throws_ok($$DROP OWNED BY opt_pubowner$$,
	'2BP01', 'publication "opt_owned_pub" is used by pgcdc_drasi source "opt_owned"',
	'DROP OWNED BY a role that owns a used publication is refused');
SET ROLE opt_pubowner;
SELECT throws_ok($$DROP PUBLICATION opt_owned_pub$$,
	'2BP01', 'publication "opt_owned_pub" is used by pgcdc_drasi source "opt_owned"',
	'the guard also refuses the publication''s owner, a role without EXECUTE on the guard function');
RESET ROLE;
SELECT is(err_info($$ALTER PUBLICATION opt_pub RENAME TO opt_pub_renamed$$),
	ARRAY['2BP01', 'publication "opt_pub" is used by pgcdc_drasi source "opt_lbl"',
	      'The source streams the publication by its name.', 'Drop the source first with pgcdc_drasi.drop_source().'],
	'ALTER PUBLICATION ... RENAME of a used publication is refused (message, detail, hint)');
SELECT throws_ok($$ALTER PUBLICATION "Opt Guard Pub" RENAME TO opt_guard_renamed$$,
	'2BP01', 'publication "Opt Guard Pub" is used by pgcdc_drasi source "opt_guard"',
	'ALTER PUBLICATION ... RENAME of a used publication whose name needs quotes is refused');
SELECT results_eq(
	$$SELECT pubname::text COLLATE "default" FROM pg_publication
	  WHERE pubname IN ('opt_pub', 'Opt Guard Pub', 'opt_owned_pub', 'opt_free_pub') ORDER BY 1$$,
	$$VALUES ('Opt Guard Pub'), ('opt_free_pub'), ('opt_owned_pub'), ('opt_pub')$$,
	'the refused statements dropped and renamed nothing');
SELECT lives_ok($$ALTER PUBLICATION opt_pub ADD TABLE opt_unpub$$,
	'other changes to a used publication are accepted (ADD TABLE)');
SELECT lives_ok($$ALTER PUBLICATION opt_pub DROP TABLE opt_unpub$$,
	'other changes to a used publication are accepted (DROP TABLE)');
SELECT lives_ok($$ALTER PUBLICATION opt_free_pub RENAME TO opt_free_pub_renamed$$,
	'an unused publication may be renamed');
SELECT lives_ok($$DROP PUBLICATION opt_free_pub_renamed$$, 'an unused publication may be dropped');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('opt_guard')$$, 'drop the source of "Opt Guard Pub"');
SELECT lives_ok($$DROP PUBLICATION "Opt Guard Pub"$$, 'once its source is dropped, the publication may be dropped');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('opt_owned')$$, 'drop the source of opt_owned_pub');
SELECT lives_ok($$DROP OWNED BY opt_pubowner$$, 'then DROP OWNED BY its owner is accepted');
SELECT is((SELECT count(*)::int FROM pg_publication WHERE pubname IN ('Opt Guard Pub', 'opt_owned_pub', 'opt_free_pub')), 0,
	'the unused publications are gone');
SELECT ok(poll_until($$SELECT NOT EXISTS (SELECT 1 FROM pgcdc_drasi.source_status() WHERE source_id IN ('opt_guard', 'opt_owned'))$$, 60),
	'the dropped sources are gone from source_status()');

----------------------------------------------------------------------
-- set_excluded_columns: events and bootstrap()
----------------------------------------------------------------------
-- Set in the transaction that creates the source, the excluded columns
-- apply to its initial snapshot already.
BEGIN;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('opt_ex', 'opt_ex_pub')$$, 'create_source opt_ex');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_ex', 'opt_items', ARRAY['secret'])$$,
	'exclude opt_items.secret');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_ex', 'opt_pairs', ARRAY['b'])$$,
	'exclude the key column opt_pairs.b');
COMMIT;
SELECT ok(poll_until($$SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'opt_ex'$$, 60),
	'opt_ex streams after its initial snapshot');
SELECT results_eq(
	$$SELECT op, element_id, props FROM opt_props('opt_ex', 0)$$,
	$$VALUES ('i', 'opt_items:5', '{"id": 5, "name": "kiwi", "price": 5.00}'::jsonb),
	         ('i', 'opt_pairs:1_x', '{"a": 1, "note": "one-x"}'::jsonb)$$,
	'the initial snapshot leaves the excluded columns out; the excluded key column still makes the id');
SELECT results_eq(
	$$SELECT e FROM pgcdc_drasi.bootstrap('opt_ex') e ORDER BY e->>'id'$$,
	$$VALUES ('{"id": "opt_items:5", "labels": ["opt_items"], "properties": {"id": 5, "name": "kiwi", "price": 5.00}}'::jsonb),
	         ('{"id": "opt_pairs:1_x", "labels": ["opt_pairs"], "properties": {"a": 1, "note": "one-x"}}'::jsonb)$$,
	'bootstrap() leaves the excluded columns out too');
INSERT INTO opt_items VALUES (6, 'lime', 0.50, 's6');
UPDATE opt_items SET secret = 'changed', price = 5.50 WHERE id = 5;
UPDATE opt_pairs SET b = 'y' WHERE a = 1;
DELETE FROM opt_items WHERE id = 6;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_ex')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT op, element_id, props FROM opt_props('opt_ex', 2)$$,
	$$VALUES ('i', 'opt_items:6', '{"id": 6, "name": "lime", "price": 0.50}'::jsonb),
	         ('u', 'opt_items:5', '{"id": 5, "name": "kiwi", "price": 5.50}'::jsonb),
	         ('d', 'opt_pairs:1_x', '{"a": 1}'::jsonb),
	         ('i', 'opt_pairs:1_y', '{"a": 1, "note": "one-x"}'::jsonb),
	         ('d', 'opt_items:6', '{"id": 6}'::jsonb)$$,
	'streamed inserts, updates and deletes leave the excluded columns out; a change of the excluded key column still changes the id');
-- Other columns, then a key column left out, while the source streams.
-- (Kept last: this is where the worker currently crashes, see above.)
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_ex', 'opt_items', ARRAY['name', 'price', 'id'])$$,
	'exclude other columns of opt_items, the key column id among them');
INSERT INTO opt_items VALUES (7, 'date', 7.00, 's7');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_ex')$$, 'wait_for_catchup');
SELECT results_eq(
	$$SELECT op, element_id, props FROM opt_props('opt_ex', 7)$$,
	$$VALUES ('i', 'opt_items:7', '{"secret": "s7"}'::jsonb)$$,
	'the new exclusions apply to the next events; the excluded key column still makes the id');
SELECT results_eq(
	$$SELECT e->'properties' FROM pgcdc_drasi.bootstrap('opt_ex') e WHERE e->>'id' = 'opt_items:7'$$,
	$$VALUES ('{"secret": "s7"}'::jsonb)$$,
	'and to bootstrap()');
-- NULL and the empty array reset.
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_ex', 'opt_items', NULL)$$, 'set_excluded_columns NULL');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('opt_ex', 'opt_pairs', ARRAY[]::text[])$$,
	'set_excluded_columns with an empty array');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_options WHERE source_id = 'opt_ex'$$, 'no options are left for opt_ex');
INSERT INTO opt_items VALUES (8, 'yuzu', 8.00, 's8');
UPDATE opt_pairs SET note = 'one-y' WHERE a = 1;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('opt_ex')$$, 'wait_for_catchup after the reset');
SELECT results_eq(
	$$SELECT op, element_id, props FROM opt_props('opt_ex', 8)$$,
	$$VALUES ('i', 'opt_items:8', '{"id": 8, "name": "yuzu", "price": 8.00, "secret": "s8"}'::jsonb),
	         ('u', 'opt_pairs:1_y', '{"a": 1, "b": "y", "note": "one-y"}'::jsonb)$$,
	'after the reset the events have every column again');
SELECT results_eq(
	$$SELECT e->'properties' FROM pgcdc_drasi.bootstrap('opt_ex') e WHERE e->>'id' IN ('opt_items:7', 'opt_pairs:1_y') ORDER BY e->>'id'$$,
	$$VALUES ('{"id": 7, "name": "date", "price": 7.00, "secret": "s7"}'::jsonb),
	         ('{"a": 1, "b": "y", "note": "one-y"}'::jsonb)$$,
	'and so do the elements of bootstrap()');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.status WHERE source_id LIKE 'opt%' AND last_error IS NOT NULL AND source_id <> 'opt_rs'), 0,
	'no source reported an error');

----------------------------------------------------------------------
-- clean up
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source(source_id) FROM pgcdc_drasi.sources$$, 'drop the remaining sources');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name LIKE 'pgcdc\_opt%'), 0, 'no slots of this file are left');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname LIKE 'pgcdc\_drasi\_pgcdc\_opt%'), 0,
	'no origins of this file are left');

SELECT * FROM finish();

DROP PUBLICATION opt_pub, opt_ex_pub, opt_num_pub, opt_rs_pub, opt_other_pub;
REVOKE CREATE ON DATABASE :"opt_db" FROM opt_pubowner;
DROP OWNED BY opt_admin, opt_pubowner;
DROP ROLE opt_admin, opt_pubowner;
