-- 020_errors.sql: every refusal of the SQL API, with its exact SQLSTATE
-- and message (and, where they guide the user, detail and hint), and the
-- transactional behaviour of create_source: it refuses a transaction that
-- has already written, its slot goes away when its transaction or
-- savepoint rolls back, and an existing inactive pgoutput slot is adopted.
--
-- No enclosing transaction (create_source needs a transaction that has not
-- written yet); transactions are opened only where a test needs one.
-- Slots and origins this file creates start with "err"; all are dropped at
-- the end.
\ir helpers.psql

-- A logical pgoutput slot that belongs to another database.
SELECT current_database() AS err_db \gset
\c postgres
SELECT 1 AS err_dummy FROM pg_create_logical_replication_slot('err_otherdb_slot', 'pgoutput') \gset
\c :err_db

CREATE EXTENSION pgcdc_drasi;

CREATE TABLE err_t (id int PRIMARY KEY);
CREATE PUBLICATION err_pub FOR TABLE err_t;
CREATE TABLE err_adopt_t (id int PRIMARY KEY);
CREATE PUBLICATION err_adopt_pub FOR TABLE err_adopt_t;

-- Tables for set_table_key.
CREATE TABLE err_keys (
	id int PRIMARY KEY,
	code text NOT NULL,
	nul text,
	gen int GENERATED ALWAYS AS (id * 2) STORED
);
CREATE TABLE err_keys_full (id int PRIMARY KEY, code text NOT NULL);
ALTER TABLE err_keys_full REPLICA IDENTITY FULL;
CREATE TABLE err_keys_idx (a int NOT NULL, b text NOT NULL, c int NOT NULL);
CREATE UNIQUE INDEX err_keys_idx_ab ON err_keys_idx (a, b);
ALTER TABLE err_keys_idx REPLICA IDENTITY USING INDEX err_keys_idx_ab;
CREATE TABLE err_keys_part (id int NOT NULL, region text NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE err_keys_part_eu PARTITION OF err_keys_part FOR VALUES IN ('eu');
CREATE TABLE "Err Mixed" (id int PRIMARY KEY, "Code" text NOT NULL, "Note" text);
CREATE VIEW err_view AS SELECT * FROM err_keys;
CREATE MATERIALIZED VIEW err_matview AS SELECT 1 AS id;
CREATE SEQUENCE err_seq;
CREATE TABLE err_dropped (id int PRIMARY KEY);

SELECT plan(208);

----------------------------------------------------------------------
-- create_source: NULL arguments
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.create_source(NULL, 'err_pub')$$,
	'22004', 'source_id must not be NULL', 'create_source: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_null', NULL)$$,
	'22004', 'publication must not be NULL', 'create_source: NULL publication');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source(NULL, NULL)$$,
	'22004', 'source_id must not be NULL', 'create_source: both NULL, source_id reported first');

----------------------------------------------------------------------
-- create_source: invalid source ids
----------------------------------------------------------------------
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('', 'err_pub')$$),
	ARRAY['42602', 'invalid source id ""',
	      'A source id has 1 to 48 characters: letters, digits, "_", "-" and ".", starting with a letter or digit.', ''],
	'create_source: empty source id (message and detail)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source(repeat('e', 49), 'err_pub')$$,
	'42602', 'invalid source id "' || repeat('e', 49) || '"', 'create_source: 49-character source id');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('-err', 'err_pub')$$,
	'42602', 'invalid source id "-err"', 'create_source: source id starting with "-"');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('.err', 'err_pub')$$,
	'42602', 'invalid source id ".err"', 'create_source: source id starting with "."');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('_err', 'err_pub')$$,
	'42602', 'invalid source id "_err"', 'create_source: source id starting with "_"');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err src', 'err_pub')$$,
	'42602', 'invalid source id "err src"', 'create_source: source id with a space');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err/src', 'err_pub')$$,
	'42602', 'invalid source id "err/src"', 'create_source: source id with "/"');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err''src', 'err_pub')$$,
	'42602', 'invalid source id "err''src"', 'create_source: source id with a quote');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('errcafé', 'err_pub')$$,
	'42602', 'invalid source id "errcafé"', 'create_source: source id with a non-ASCII letter');

----------------------------------------------------------------------
-- create_source: invalid slot names
----------------------------------------------------------------------
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_slot', 'err_pub', 'Err_Upper')$$),
	ARRAY['42602', 'invalid replication slot name "Err_Upper"',
	      'Slot names have at most 63 characters: lower case letters, digits and "_".', ''],
	'create_source: upper-case slot name (message and detail)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_slot', 'err_pub', repeat('e', 64))$$,
	'42602', 'invalid replication slot name "' || repeat('e', 64) || '"', 'create_source: 64-character slot name');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_slot', 'err_pub', 'err-slot')$$,
	'42602', 'invalid replication slot name "err-slot"', 'create_source: slot name with "-"');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_slot', 'err_pub', '')$$,
	'42602', 'invalid replication slot name ""', 'create_source: empty slot name');

----------------------------------------------------------------------
-- create_source: missing publication
----------------------------------------------------------------------
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_nopub', 'err_missing_pub')$$),
	ARRAY['42704', 'publication "err_missing_pub" does not exist', '',
	      'Create it first, for example CREATE PUBLICATION err_missing_pub FOR TABLE ...;'],
	'create_source: missing publication (message and hint)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_nopub')$$,
	'42704', 'publication "drasi_publication" does not exist',
	'create_source: the default publication drasi_publication does not exist');
SELECT is((err_info($$SELECT pgcdc_drasi.create_source('err_nopub', 'Err Pub')$$))[4],
	'Create it first, for example CREATE PUBLICATION "Err Pub" FOR TABLE ...;',
	'create_source: the hint quotes the publication name');

----------------------------------------------------------------------
-- create_source: sink, channel and notify_payload
----------------------------------------------------------------------
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_sink', 'err_pub', sink => 'queues')$$),
	ARRAY['22023', 'invalid sink "queues"', '', 'Valid sinks are "queue", "notify", "both" and "redis".'],
	'create_source: invalid sink (message and hint)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_sink', 'err_pub', sink => 'QUEUE')$$,
	'22023', 'invalid sink "QUEUE"', 'create_source: sink names are case-sensitive');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_sink', 'err_pub', sink => '')$$,
	'22023', 'invalid sink ""', 'create_source: empty sink');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_payload', 'err_pub', notify_payload => 'short')$$),
	ARRAY['22023', 'invalid notify_payload "short"', '', 'Valid values are "full" and "wakeup".'],
	'create_source: invalid notify_payload (message and hint)');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_chan', 'err_pub', channel => '')$$),
	ARRAY['42602', 'invalid channel name ""', 'A channel name has 1 to 63 bytes.', ''],
	'create_source: empty channel (message and detail)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_chan', 'err_pub', channel => repeat('c', 64))$$,
	'42602', 'invalid channel name "' || repeat('c', 64) || '"', 'create_source: 64-byte channel');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_chan', 'err_pub', channel => repeat('é', 32))$$,
	'42602', 'invalid channel name "' || repeat('é', 32) || '"',
	'create_source: the channel limit counts bytes (32 two-byte characters are 64 bytes)');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_wake', 'err_pub', sink => 'notify', notify_payload => 'wakeup')$$),
	ARRAY['22023', 'notify_payload "wakeup" needs the queue sink',
	      'Wake-up notifications carry no events; readers fetch them from the queue.',
	      'Use sink => ''both''.'],
	'create_source: wake-up notifications without the queue sink (message, detail, hint)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_sinknull', 'err_pub', sink => NULL)$$,
	'22004', 'sink must not be NULL', 'create_source: NULL sink');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_payloadnull', 'err_pub', notify_payload => NULL)$$,
	'22004', 'notify_payload must not be NULL', 'create_source: NULL notify_payload');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('-err', 'err_pub', sink => 'bad')$$,
	'42602', 'invalid source id "-err"', 'create_source: the source id is checked before the sink');

-- Nothing was created by the refused calls.
SELECT is_empty($$SELECT * FROM pgcdc_drasi.sources$$, 'refused create_source calls recorded no source');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.source_progress$$, 'refused create_source calls recorded no progress row');
SELECT is_empty($$SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'pgcdc\_err%' OR slot_name ~ '^e+$'$$,
	'refused create_source calls created no slot');

----------------------------------------------------------------------
-- create_source: duplicates and slots in use
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('err_main', 'err_pub', enabled => false, bootstrap => false)$$,
	'create_source err_main (disabled, bootstrap => false: create_source creates the slot)');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_main', 'err_pub')$$),
	ARRAY['42710', 'source "err_main" already exists', '',
	      'Drop it first with pgcdc_drasi.drop_source(''err_main''), or choose another id.'],
	'create_source: duplicate source id (message and hint)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_main', 'err_pub', 'err_other_slot')$$,
	'42710', 'source "err_main" already exists', 'create_source: duplicate source id with another slot name');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_second', 'err_pub', 'pgcdc_err_main')$$),
	ARRAY['55006', 'replication slot "pgcdc_err_main" is used by another consumer',
	      'Source "err_main" streams from it.', 'Choose another slot_name.'],
	'create_source: slot of another source (message, detail, hint)');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('ERR-MAIN', 'err_pub')$$),
	ARRAY['55006', 'replication slot "pgcdc_err_main" is used by another consumer',
	      'Source "err_main" streams from it.', 'Choose another slot_name.'],
	'create_source: an id whose default slot name collides with another source''s slot');

SELECT 1 AS err_dummy FROM pg_create_logical_replication_slot('err_td_slot', 'test_decoding') \gset
SELECT 1 AS err_dummy FROM pg_create_physical_replication_slot('err_phys_slot') \gset
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_td', 'err_pub', 'err_td_slot')$$),
	ARRAY['55006', 'replication slot "err_td_slot" is used by another consumer',
	      'The slot uses output plugin "test_decoding", not pgoutput.', 'Choose another slot_name.'],
	'create_source: slot of another output plugin');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_phys', 'err_pub', 'err_phys_slot')$$),
	ARRAY['55006', 'replication slot "err_phys_slot" is used by another consumer',
	      'The slot is a physical replication slot.', 'Choose another slot_name.'],
	'create_source: physical slot');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_otherdb', 'err_pub', 'err_otherdb_slot')$$),
	ARRAY['55006', 'replication slot "err_otherdb_slot" is used by another consumer',
	      'The slot belongs to another database.', 'Choose another slot_name.'],
	'create_source: pgoutput slot of another database');
SELECT results_eq(
	$$SELECT source_id FROM pgcdc_drasi.sources ORDER BY 1$$,
	$$VALUES ('err_main')$$,
	'only err_main was recorded');
SELECT results_eq(
	$$SELECT slot_name::text COLLATE "default", coalesce(plugin::text COLLATE "default", '-')
	  FROM pg_replication_slots WHERE slot_name IN ('err_td_slot', 'err_phys_slot', 'err_otherdb_slot') ORDER BY 1$$,
	$$VALUES ('err_otherdb_slot', 'pgoutput'), ('err_phys_slot', '-'), ('err_td_slot', 'test_decoding')$$,
	'the slots of other consumers are left alone');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname IN
	('pgcdc_drasi_err_td_slot', 'pgcdc_drasi_err_phys_slot', 'pgcdc_drasi_err_otherdb_slot', 'pgcdc_drasi_err_other_slot')), 0,
	'refused create_source calls created no origin');

----------------------------------------------------------------------
-- create_source in a transaction that has already written
----------------------------------------------------------------------
BEGIN;
INSERT INTO err_t VALUES (1);
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_inx', 'err_pub', bootstrap => false)$$),
	ARRAY['25001', 'cannot create replication slot "pgcdc_err_inx" in a transaction that has already written data',
	      'Creating a slot waits for every transaction that has written data to finish, this one included.',
	      'Call create_source in a transaction of its own, or create the slot beforehand with pg_create_logical_replication_slot(''pgcdc_err_inx'', ''pgoutput'').'],
	'create_source after a write in the same transaction (message, detail, hint)');
-- With bootstrap => true the worker creates the slot after the commit, so
-- a transaction that has written may create the source.
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('err_inx_bs', 'err_pub', enabled => false)$$,
	'create_source with bootstrap => true after a write in the same transaction is accepted');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_inx_bs'), 0,
	'... and creates no slot in it');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('err_inx_bs')$$, 'drop it again in the same transaction');
COMMIT;
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_inx'), 0,
	'no slot was created by the refused call');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'err_inx'), 0,
	'no source was recorded by the refused call');

-- A function that writes and then calls create_source, in one statement.
CREATE FUNCTION err_write_then_create() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO err_t VALUES (2);
	PERFORM pgcdc_drasi.create_source('err_inx2', 'err_pub', bootstrap => false);
END
$$;
SELECT throws_ok($$SELECT err_write_then_create()$$,
	'25001', 'cannot create replication slot "pgcdc_err_inx2" in a transaction that has already written data',
	'create_source after a write in the same statement');

----------------------------------------------------------------------
-- rollback drops the slot create_source created
----------------------------------------------------------------------
BEGIN;
DO $$BEGIN PERFORM pgcdc_drasi.create_source('err_rb', 'err_pub', bootstrap => false); END$$;
SELECT count(*) AS err_rb_slot_inside FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_rb' \gset
ROLLBACK;
SELECT is(:err_rb_slot_inside::int, 1, 'inside the transaction, create_source had created the slot');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_rb'), 0,
	'ROLLBACK drops the slot create_source created');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname = 'pgcdc_drasi_pgcdc_err_rb'), 0,
	'ROLLBACK removes the origin');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'err_rb'), 0,
	'ROLLBACK removes the source row');

-- ... also when it rolls back to a savepoint
BEGIN;
SAVEPOINT err_sp;
DO $$BEGIN PERFORM pgcdc_drasi.create_source('err_sp', 'err_pub', bootstrap => false); END$$;
SELECT count(*) AS err_sp_slot_inside FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_sp' \gset
ROLLBACK TO SAVEPOINT err_sp;
SELECT count(*) AS err_sp_slot_after FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_sp' \gset
COMMIT;
SELECT is(:err_sp_slot_inside::int, 1, 'inside the savepoint, create_source had created the slot');
SELECT is(:err_sp_slot_after::int, 0, 'ROLLBACK TO SAVEPOINT drops the slot at once');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_sp'), 0,
	'the slot stays dropped after the outer COMMIT');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'err_sp'), 0,
	'no source row after ROLLBACK TO SAVEPOINT and COMMIT');

-- ... and when the savepoint was released but the transaction rolls back
BEGIN;
SAVEPOINT err_sp2;
DO $$BEGIN PERFORM pgcdc_drasi.create_source('err_sp2', 'err_pub', bootstrap => false); END$$;
RELEASE SAVEPOINT err_sp2;
ROLLBACK;
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_sp2'), 0,
	'ROLLBACK after RELEASE SAVEPOINT drops the slot');

-- A refused create_source inside a subtransaction drops nothing else.
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_main', 'err_pub', bootstrap => false)$$, '42710'::char(5), NULL::text,
	'a refused duplicate inside a subtransaction');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_main'), 1,
	'the existing source keeps its slot');

----------------------------------------------------------------------
-- create_source adopts an existing inactive pgoutput slot
----------------------------------------------------------------------
SELECT 1 AS err_dummy FROM pg_create_logical_replication_slot('err_adopt_slot', 'pgoutput') \gset
INSERT INTO err_adopt_t VALUES (1);
SELECT confirmed_flush_lsn AS err_adopt_confirmed FROM pg_replication_slots WHERE slot_name = 'err_adopt_slot' \gset

-- In a transaction that has written (no slot to create) and rolled back:
-- the adopted slot is not dropped.
BEGIN;
INSERT INTO err_t VALUES (3);
DO $$BEGIN PERFORM pgcdc_drasi.create_source('err_adopt', 'err_adopt_pub', 'err_adopt_slot', bootstrap => false); END$$;
ROLLBACK;
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'err_adopt_slot'), 1,
	'ROLLBACK of create_source does not drop an adopted slot');

-- An initial snapshot needs a new slot: with bootstrap => true (the
-- default) an existing slot is refused.
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_adopt', 'err_adopt_pub', 'err_adopt_slot')$$),
	ARRAY['55006', 'replication slot "err_adopt_slot" already exists',
	      'The initial snapshot must be taken where a new slot starts.',
	      'Pass bootstrap => false to stream from the existing slot, or choose another slot_name.'],
	'create_source with bootstrap => true refuses an existing slot (message, detail, hint)');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'err_adopt'), 0,
	'the refused call recorded no source');
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('err_adopt', 'err_adopt_pub', 'err_adopt_slot', bootstrap => false)$$,
	'create_source with bootstrap => false adopts an existing inactive pgoutput slot');
SELECT results_eq(
	$$SELECT slot_name::text COLLATE "default", origin_name, bootstrap FROM pgcdc_drasi.sources WHERE source_id = 'err_adopt'$$,
	$$VALUES ('err_adopt_slot', 'pgcdc_drasi_err_adopt_slot', false)$$,
	'the source uses the adopted slot and an origin named after it');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname = 'pgcdc_drasi_err_adopt_slot'), 1,
	'create_source created the origin of the adopted slot');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('err_adopt')$$, 'the adopting source catches up');
SELECT results_eq(
	$$SELECT op, element_id FROM pgcdc_drasi.events WHERE source_id = 'err_adopt' ORDER BY seq$$,
	$$VALUES ('i', 'err_adopt_t:1')$$,
	'the change the slot retained before create_source is captured');
SELECT ok((SELECT confirmed_flush_lsn >= :'err_adopt_confirmed'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'err_adopt_slot'),
	'the adopted slot moves forward from its position');

-- Origins are cluster-wide: an origin that exists already belongs to a
-- source of another database, so its slot name is refused.  The slot that
-- create_source had created by then goes away with the failed call.
SELECT 1 AS err_dummy FROM pg_replication_origin_create('pgcdc_drasi_err_orig_slot') \gset
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_orig', 'err_pub', 'err_orig_slot', bootstrap => false)$$),
	ARRAY['55006', 'replication slot "err_orig_slot" is used by another consumer',
	      'Replication origin "pgcdc_drasi_err_orig_slot" exists already, so a source of another database uses this slot name.',
	      'Choose another slot_name.'],
	'create_source: the origin name of the slot is taken (message, detail, hint)');
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('err_orig', 'err_pub', 'err_orig_slot')$$),
	ARRAY['55006', 'replication slot "err_orig_slot" is used by another consumer',
	      'Replication origin "pgcdc_drasi_err_orig_slot" exists already, so a source of another database uses this slot name.',
	      'Choose another slot_name.'],
	'create_source with bootstrap => true: the origin name of the slot is taken');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'err_orig_slot'), 0,
	'the refused call left no slot behind');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'err_orig'), 0,
	'the refused call recorded no source');
SELECT 1 AS err_dummy FROM pg_replication_origin_drop('pgcdc_drasi_err_orig_slot') \gset

----------------------------------------------------------------------
-- set_table_key
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_nosuch', 'err_keys', ARRAY['id'])$$,
	'42704', 'source "err_nosuch" does not exist', 'set_table_key: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['nope'])$$,
	'42703', 'column "nope" of table "err_keys" does not exist', 'set_table_key: missing column');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['ctid'])$$,
	'42703', 'column "ctid" of table "err_keys" does not exist', 'set_table_key: a system column does not count');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['ID'])$$,
	'42703', 'column "ID" of table "err_keys" does not exist', 'set_table_key: column names are case-sensitive');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['nul'])$$),
	ARRAY['22023', 'key column "nul" of table "err_keys" is nullable',
	      'A row with a NULL key would have no element id.',
	      'ALTER TABLE public.err_keys ALTER COLUMN nul SET NOT NULL;'],
	'set_table_key: nullable column (message, detail, hint)');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['gen'])$$),
	ARRAY['22023', 'key column "gen" of table "err_keys" is a generated column',
	      'Generated columns are not published.', ''],
	'set_table_key: generated column');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['code'])$$),
	ARRAY['22023', 'key column "code" of table "err_keys" is not part of its replica identity',
	      'A DELETE writes only the replica identity columns to the WAL, so the deleted node could not be identified.',
	      'ALTER TABLE public.err_keys REPLICA IDENTITY FULL, or use a replica identity index that contains the key columns.'],
	'set_table_key: NOT NULL column outside the primary key under REPLICA IDENTITY DEFAULT');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['id', 'code'])$$,
	'22023', 'key column "code" of table "err_keys" is not part of its replica identity',
	'set_table_key: one column of several outside the replica identity');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys_full', ARRAY['code'])$$,
	'set_table_key: the same kind of column under REPLICA IDENTITY FULL is accepted');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys_idx', ARRAY['c'])$$,
	'22023', 'key column "c" of table "err_keys_idx" is not part of its replica identity',
	'set_table_key: column outside the replica identity index');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys_idx', ARRAY['b', 'a'])$$,
	'set_table_key: columns of the replica identity index are accepted');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys_part', ARRAY['region'])$$,
	'set_table_key: a partitioned table is accepted');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['id', 'id'])$$,
	'42701', 'key column "id" is listed more than once', 'set_table_key: duplicate column');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY[]::text[])$$),
	ARRAY['22023', 'key_columns must name at least one column', '',
	      'Use pgcdc_drasi.drop_table_key() to go back to the primary key.'],
	'set_table_key: empty array (message and hint)');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY['id', NULL])$$,
	'22004', 'key_columns must not contain NULL', 'set_table_key: NULL element');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', ARRAY[['id'], ['code']])$$,
	'2202E', 'key_columns must be a one-dimensional array', 'set_table_key: two-dimensional array');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_view', ARRAY['id'])$$,
	'42809', '"err_view" is not a table', 'set_table_key: a view');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_matview', ARRAY['id'])$$,
	'42809', '"err_matview" is not a table', 'set_table_key: a materialized view');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_seq', ARRAY['last_value'])$$,
	'42809', '"err_seq" is not a table', 'set_table_key: a sequence');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys_pkey', ARRAY['id'])$$,
	'42809', '"err_keys_pkey" is not a table', 'set_table_key: an index');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_no_such_table', ARRAY['id'])$$,
	'42P01', 'relation "err_no_such_table" does not exist', 'set_table_key: unknown table name');
-- A table OID that does not exist (e.g. of a dropped table) is a user
-- error, not an internal one.
SELECT oid AS err_dropped_oid FROM pg_class WHERE relname = 'err_dropped' \gset
DROP TABLE err_dropped;
SELECT throws_ok(format('SELECT pgcdc_drasi.set_table_key(%L, %s::oid::regclass, ARRAY[%L])', 'err_main', :err_dropped_oid, 'id'),
	'42P01'::char(5), NULL::text, 'set_table_key: a table OID that does not exist is reported as undefined_table');
-- Hints are SQL the user can run: identifiers must be quoted.
SELECT matches((err_info($$SELECT pgcdc_drasi.set_table_key('err_main', '"Err Mixed"', ARRAY['Code'])$$))[4],
	'^ALTER TABLE (public\.)?"Err Mixed" REPLICA IDENTITY FULL, ',
	'set_table_key: the replica identity hint quotes the table name');
SELECT matches((err_info($$SELECT pgcdc_drasi.set_table_key('err_main', '"Err Mixed"', ARRAY['Note'])$$))[4],
	'^ALTER TABLE (public\.)?"Err Mixed" ALTER COLUMN "Note" SET NOT NULL;$',
	'set_table_key: the NOT NULL hint quotes the table name');
SELECT results_eq(
	$$SELECT table_id::text, key_columns FROM pgcdc_drasi.table_keys WHERE source_id = 'err_main' ORDER BY 1$$,
	$$VALUES ('err_keys_full', ARRAY['code']), ('err_keys_idx', ARRAY['b', 'a']), ('err_keys_part', ARRAY['region'])$$,
	'only the accepted keys were recorded');

----------------------------------------------------------------------
-- drop_table_key
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.drop_table_key('err_main', 'err_keys')$$,
	'42704', 'source "err_main" has no key set for table err_keys', 'drop_table_key: no key set');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_table_key('err_nosuch', 'err_keys_full')$$,
	'42704', 'source "err_nosuch" does not exist', 'drop_table_key: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_table_key('err_adopt', 'err_keys_full')$$,
	'42704', 'source "err_adopt" has no key set for table err_keys_full',
	'drop_table_key: the key of another source does not count');
SELECT is(strpos((err_info(format('SELECT pgcdc_drasi.drop_table_key(%L, %s::oid::regclass)', 'err_main', :err_dropped_oid)))[2], '(null)'),
	0, 'drop_table_key: the message for a table OID that does not exist does not print "(null)"');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_table_key('err_main', 'err_keys_full')$$, 'drop_table_key of a set key');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_table_key('err_main', 'err_keys_full')$$,
	'42704', 'source "err_main" has no key set for table err_keys_full', 'drop_table_key: twice');

----------------------------------------------------------------------
-- drop_source, pause_source, resume_source, wait_for_catchup: unknown source
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.drop_source('err_nosuch')$$,
	'42704', 'source "err_nosuch" does not exist', 'drop_source: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.pause_source('err_nosuch')$$,
	'42704', 'source "err_nosuch" does not exist', 'pause_source: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.resume_source('err_nosuch')$$,
	'42704', 'source "err_nosuch" does not exist', 'resume_source: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.wait_for_catchup('err_nosuch')$$,
	'42704', 'source "err_nosuch" does not exist', 'wait_for_catchup: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_source('ERR_MAIN')$$,
	'42704', 'source "ERR_MAIN" does not exist', 'drop_source: source ids are case-sensitive');

----------------------------------------------------------------------
-- wait_for_catchup: timeouts
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.wait_for_catchup('err_main', '-1 s')$$,
	'22023', 'timeout must not be negative', 'wait_for_catchup: negative timeout');
SELECT throws_ok($$SELECT pgcdc_drasi.wait_for_catchup('err_main', '-1 day 1 hour')$$,
	'22023', 'timeout must not be negative', 'wait_for_catchup: negative timeout with mixed units');
SELECT is((SELECT state FROM pgcdc_drasi.status WHERE source_id = 'err_main'), 'paused', 'err_main is paused');
SELECT is((err_info($$SELECT pgcdc_drasi.wait_for_catchup('err_main', '200ms')$$))[1:2],
	ARRAY['57014', 'source "err_main" did not catch up within the timeout'],
	'wait_for_catchup: timeout on a paused source');
SELECT matches((err_info($$SELECT pgcdc_drasi.wait_for_catchup('err_main', '200ms')$$))[3],
	'^State: paused; published up to [0-9A-F]+/[0-9A-F]+, waiting for [0-9A-F]+/[0-9A-F]+\.$',
	'wait_for_catchup: the timeout detail shows the state and positions');
SELECT is((err_info($$SELECT pgcdc_drasi.wait_for_catchup('err_main', '200ms')$$))[4],
	'See pgcdc_drasi.status and the server log.', 'wait_for_catchup: the timeout hint');
SELECT is((err_info($$SELECT pgcdc_drasi.wait_for_catchup('err_main', '0')$$))[1:2],
	ARRAY['57014', 'source "err_main" did not catch up within the timeout'],
	'wait_for_catchup: zero timeout on a paused source');
SELECT clock_timestamp() AS err_t0 \gset
SELECT (err_info($$SELECT pgcdc_drasi.wait_for_catchup('err_main', '300ms')$$))[1] AS err_t_state,
	clock_timestamp() - :'err_t0'::timestamptz AS err_elapsed \gset
SELECT ok(:'err_t_state' = '57014' AND :'err_elapsed'::interval BETWEEN interval '250 ms' AND interval '10 s',
	'wait_for_catchup waits about its timeout before raising');
-- A very long timeout means waiting (here until statement_timeout), not
-- an immediate timeout.
SET statement_timeout = '1s';
SELECT is((err_info($$SELECT pgcdc_drasi.wait_for_catchup('err_main', '1000000 years')$$))[1:2],
	ARRAY['57014', 'canceling statement due to statement timeout'],
	'wait_for_catchup: a very long timeout does not expire at once');
RESET statement_timeout;

----------------------------------------------------------------------
-- drop_source rolled back: the row comes back without its slot, and the
-- source reports an error (README: "the source reports an error until it
-- is dropped again")
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('err_rbdrop', 'err_pub')$$, 'create_source err_rbdrop');
SELECT ok(wait_status('err_rbdrop', $$state = 'streaming'$$), 'err_rbdrop streams');
BEGIN;
DO $$BEGIN PERFORM pgcdc_drasi.drop_source('err_rbdrop'); END$$;
ROLLBACK;
SELECT results_eq(
	$$SELECT enabled FROM pgcdc_drasi.sources WHERE source_id = 'err_rbdrop'$$,
	$$VALUES (true)$$,
	'after a rolled-back drop_source the source row is back, enabled');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_rbdrop'), 0,
	'after a rolled-back drop_source the slot is gone');
SELECT ok(wait_status('err_rbdrop', $$last_error IS NOT NULL$$, 10),
	'the enabled source without a slot reports an error');
SELECT isnt((SELECT state FROM pgcdc_drasi.status WHERE source_id = 'err_rbdrop'), 'paused',
	'an enabled source is not shown as paused');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('err_rbdrop')$$, 'drop_source of a source whose slot is gone');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'err_rbdrop'), 0,
	'the source is dropped');

----------------------------------------------------------------------
-- PREPARE TRANSACTION (only when max_prepared_transactions > 0): the slot
-- of a source created in a prepared transaction belongs to that prepared
-- transaction, not to the session that prepared it.  Errors are not fatal
-- here: refusing PREPARE TRANSACTION would be a correct behaviour too.
----------------------------------------------------------------------
SELECT current_setting('max_prepared_transactions')::int > 0 AS err_can_prepare \gset
\if :err_can_prepare
\set ON_ERROR_STOP 0
BEGIN;
DO $$BEGIN PERFORM pgcdc_drasi.create_source('err_prep', 'err_pub', enabled => false, bootstrap => false); END$$;
PREPARE TRANSACTION 'err_prep';
-- an unrelated rollback in the same session
BEGIN;
ROLLBACK;
COMMIT PREPARED 'err_prep';
\set ON_ERROR_STOP 1
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_prep'),
	(SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'err_prep'),
	'a source created in a prepared transaction, committed later, keeps its slot after the session rolls back something else');
DO $$BEGIN
	IF EXISTS (SELECT 1 FROM pgcdc_drasi.sources WHERE source_id = 'err_prep') THEN
		PERFORM pgcdc_drasi.drop_source('err_prep');
	END IF;
END$$;
\set ON_ERROR_STOP 0
BEGIN;
DO $$BEGIN PERFORM pgcdc_drasi.create_source('err_prep2', 'err_pub', enabled => false, bootstrap => false); END$$;
PREPARE TRANSACTION 'err_prep2';
ROLLBACK PREPARED 'err_prep2';
\set ON_ERROR_STOP 1
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_prep2'), 0,
	'ROLLBACK PREPARED of a create_source leaves no slot behind');
SELECT count(*) AS err_dummy FROM (
	SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
	WHERE slot_name IN ('pgcdc_err_prep', 'pgcdc_err_prep2') AND NOT active) s \gset
\else
SELECT skip('max_prepared_transactions is 0', 2);
\endif

-- alter_source cannot be prepared: the worker is told at commit.
\if :err_can_prepare
\set ON_ERROR_STOP 0
BEGIN;
SELECT 1 AS err_dummy FROM pgcdc_drasi.alter_source('err_main', sink => 'both') \gset
PREPARE TRANSACTION 'err_alter_prep';
\set ON_ERROR_STOP 1
SELECT is((SELECT count(*)::int FROM pg_prepared_xacts WHERE gid = 'err_alter_prep'), 0,
	'PREPARE TRANSACTION after alter_source is refused');
SELECT is((SELECT sink FROM pgcdc_drasi.sources WHERE source_id = 'err_main'), 'queue',
	'the refused prepared alter_source changed nothing');
\else
SELECT skip('max_prepared_transactions is 0', 2);
\endif

----------------------------------------------------------------------
-- alter_source
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('err_nosuch', sink => 'both')$$,
	'42704', 'source "err_nosuch" does not exist', 'alter_source: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('ERR_MAIN', sink => 'both')$$,
	'42704', 'source "ERR_MAIN" does not exist', 'alter_source: source ids are case-sensitive');
SELECT is(err_info($$SELECT pgcdc_drasi.alter_source('err_main', sink => 'all')$$),
	ARRAY['22023', 'invalid sink "all"', '', 'Valid sinks are "queue", "notify", "both" and "redis".'],
	'alter_source: invalid sink');
SELECT is(err_info($$SELECT pgcdc_drasi.alter_source('err_main', notify_payload => 'none')$$),
	ARRAY['22023', 'invalid notify_payload "none"', '', 'Valid values are "full" and "wakeup".'],
	'alter_source: invalid notify_payload');
SELECT is(err_info($$SELECT pgcdc_drasi.alter_source('err_main', channel => '')$$),
	ARRAY['42602', 'invalid channel name ""', 'A channel name has 1 to 63 bytes.', ''],
	'alter_source: empty channel');
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('err_main', channel => repeat('c', 64))$$,
	'42602', 'invalid channel name "' || repeat('c', 64) || '"', 'alter_source: 64-byte channel');
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('err_main', sink => 'notify', notify_payload => 'wakeup')$$,
	'22023', 'notify_payload "wakeup" needs the queue sink', 'alter_source: wake-up with sink notify in one call');
-- The stored settings count: wakeup kept from before, sink changed now.
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('err_main', notify_payload => 'wakeup')$$,
	'alter_source: wakeup on a queue source is accepted (it takes effect with a notify sink)');
SELECT is(err_info($$SELECT pgcdc_drasi.alter_source('err_main', sink => 'notify')$$),
	ARRAY['22023', 'notify_payload "wakeup" needs the queue sink',
	      'Wake-up notifications carry no events; readers fetch them from the queue.', 'Use sink => ''both''.'],
	'alter_source: sink notify refused when the stored notify_payload is wakeup');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('err_main', notify_payload => 'full')$$,
	'alter_source: back to full');
-- No switch to notify-only while consumers read the queue.
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('err_consumer', 'err_main')$$, 'a consumer of err_main');
SELECT is(err_info($$SELECT pgcdc_drasi.alter_source('err_main', sink => 'notify')$$),
	ARRAY['55000', 'source "err_main" has consumers, which read the queue', '',
	      'Keep the queue sink (sink => ''both''), or drop the consumers first.'],
	'alter_source: switching to notify while consumers exist (message and hint)');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('err_main', sink => 'both')$$,
	'alter_source: sink both is fine with consumers');
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('err_main', sink => 'notify', channel => 'err_other')$$,
	'55000', 'source "err_main" has consumers, which read the queue',
	'alter_source: from both to notify is refused as well');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload FROM pgcdc_drasi.sources WHERE source_id = 'err_main'$$,
	$$VALUES ('both', 'pgcdc_err_main', 'full')$$,
	'refused alter_source calls changed nothing');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_consumer('err_consumer')$$, 'drop the consumer');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('err_main', sink => 'notify')$$,
	'alter_source: notify is accepted once the source has no consumers');
SELECT is(err_info($$SELECT pgcdc_drasi.create_consumer('err_consumer', 'err_main')$$),
	ARRAY['55000', 'source "err_main" does not write its events to the queue', '',
	      'Add the queue sink first: pgcdc_drasi.alter_source(''err_main'', sink => ''both'').'],
	'create_consumer: refused on a notify-only source (message and hint)');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('err_main', sink => 'queue')$$, 'alter_source: back to queue');

----------------------------------------------------------------------
-- NULL never means "do nothing": every argument is checked
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source(NULL, sink => 'both')$$,
	'22004', 'source_id must not be NULL', 'alter_source: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer(NULL, 'err_main')$$,
	'22004', 'consumer must not be NULL', 'create_consumer: NULL consumer');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('err_c', NULL)$$,
	'22004', 'source_id must not be NULL', 'create_consumer: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('err_c', 'err_main', NULL)$$,
	'22004', 'start_at must not be NULL', 'create_consumer: NULL start_at');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_consumer(NULL)$$,
	'22004', 'consumer must not be NULL', 'drop_consumer: NULL consumer');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read(NULL)$$,
	'22004', 'consumer must not be NULL', 'read: NULL consumer');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read('err_c', NULL)$$,
	'22004', 'max_events must not be NULL', 'read: NULL max_events');
SELECT throws_ok($$SELECT pgcdc_drasi.ack(NULL, 1)$$,
	'22004', 'consumer must not be NULL', 'ack: NULL consumer');
SELECT throws_ok($$SELECT pgcdc_drasi.ack('err_c', NULL)$$,
	'22004', 'seq must not be NULL', 'ack: NULL seq');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.get_events(NULL, 1)$$,
	'22004', 'source_id must not be NULL', 'get_events: NULL source_id');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.get_events('err_main', NULL)$$,
	'22004', 'first_seq must not be NULL', 'get_events: NULL first_seq');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.get_events('err_main', 1, NULL)$$,
	'get_events: a NULL last_seq means first_seq only (nothing here)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_nullen', 'err_pub', enabled => NULL)$$,
	'22004', 'enabled must not be NULL', 'create_source: NULL enabled');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_source(NULL)$$,
	'22004', 'source_id must not be NULL', 'drop_source: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.pause_source(NULL)$$,
	'22004', 'source_id must not be NULL', 'pause_source: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.resume_source(NULL)$$,
	'22004', 'source_id must not be NULL', 'resume_source: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key(NULL, 'err_keys', ARRAY['id'])$$,
	'22004', 'source_id must not be NULL', 'set_table_key: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', NULL, ARRAY['id'])$$,
	'22004', 'table must not be NULL', 'set_table_key: NULL table');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'err_keys', NULL)$$,
	'22004', 'key_columns must not be NULL', 'set_table_key: NULL key_columns');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_table_key('err_main', NULL)$$,
	'22004', 'table must not be NULL', 'drop_table_key: NULL table');
SELECT throws_ok($$SELECT pgcdc_drasi.wait_for_catchup(NULL)$$,
	'22004', 'source_id must not be NULL', 'wait_for_catchup: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.wait_for_catchup('err_main', NULL)$$,
	'22004', 'timeout must not be NULL', 'wait_for_catchup: NULL timeout');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('err_main', 'pg_catalog.pg_class', ARRAY['oid'])$$,
	'42809', '"pg_class" is not a table', 'set_table_key: a system catalog is refused');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_nullbs', 'err_pub', bootstrap => NULL)$$,
	'22004', 'bootstrap must not be NULL', 'create_source: NULL bootstrap');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_nullnum', 'err_pub', numeric_as_string => NULL)$$,
	'22004', 'numeric_as_string must not be NULL', 'create_source: NULL numeric_as_string');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('err_nullfo', 'err_pub', failover => NULL)$$,
	'22004', 'failover must not be NULL', 'create_source: NULL failover');
-- failover slots: refused before PostgreSQL 17 (before anything is made);
-- from 17 on accepted (rolled back here; 050_table_options uses them).
SELECT CASE WHEN current_setting('server_version_num')::int < 170000 THEN
	is(err_info($$SELECT pgcdc_drasi.create_source('err_fo', 'err_pub', bootstrap => false, failover => true)$$),
		ARRAY['0A000', 'failover slots are not supported on PostgreSQL ' || (current_setting('server_version_num')::int / 10000),
		      'Synchronizing a logical replication slot to standbys needs PostgreSQL 17 or later.',
		      'Use failover => false.'],
		'create_source: failover => true before PostgreSQL 17 (message, detail, hint)')
	ELSE
	is(err_info_rb($$SET LOCAL client_min_messages = error;
	                 SELECT pgcdc_drasi.create_source('err_fo', 'err_pub', bootstrap => false, failover => true)$$),
		NULL, 'create_source: failover => true from PostgreSQL 17 on')
	END;
SELECT CASE WHEN current_setting('server_version_num')::int < 170000 THEN
	is(err_info($$SELECT pgcdc_drasi.alter_source('err_main', failover => true)$$),
		ARRAY['0A000', 'failover slots are not supported on PostgreSQL ' || (current_setting('server_version_num')::int / 10000),
		      'Synchronizing a logical replication slot to standbys needs PostgreSQL 17 or later.',
		      'Use failover => false.'],
		'alter_source: failover => true before PostgreSQL 17 (message, detail, hint)')
	ELSE
	is(err_info_rb($$SET LOCAL client_min_messages = error;
	                 SELECT pgcdc_drasi.alter_source('err_main', failover => true)$$),
		NULL, 'alter_source: failover => true from PostgreSQL 17 on')
	END;
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('err_main', failover => false)$$,
	'alter_source: failover => false on every version');
SELECT is((SELECT failover FROM pgcdc_drasi.sources WHERE source_id = 'err_main'), false,
	'the refused or rolled-back calls left failover false');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_err_fo'), 0,
	'the refused or rolled-back create_source left no slot');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('err_c', 'err_main', 'earliest', NULL)$$,
	'22004', 'bootstrap must not be NULL', 'create_consumer: NULL bootstrap');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label(NULL, 'err_keys', 'L')$$,
	'22004', 'source_id must not be NULL', 'set_table_label: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('err_main', NULL, 'L')$$,
	'22004', 'table must not be NULL', 'set_table_label: NULL table');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns(NULL, 'err_keys', ARRAY['code'])$$,
	'22004', 'source_id must not be NULL', 'set_excluded_columns: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('err_main', NULL, ARRAY['code'])$$,
	'22004', 'table must not be NULL', 'set_excluded_columns: NULL table');
SELECT throws_ok($$SELECT pgcdc_drasi.resnapshot(NULL)$$,
	'22004', 'source_id must not be NULL', 'resnapshot: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.resync_source(NULL)$$,
	'22004', 'source_id must not be NULL', 'resync_source: NULL source_id');
SELECT throws_ok($$SELECT pgcdc_drasi.resync_source('err_main', NULL)$$,
	'22004', 'snapshot must not be NULL', 'resync_source: NULL snapshot');
SELECT throws_ok($$SELECT pgcdc_drasi.resync_source('err_nosuch', snapshot => false)$$,
	'42704', 'source "err_nosuch" does not exist', 'resync_source without a snapshot: unknown source');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.bootstrap(NULL)$$,
	'22004', 'source_id must not be NULL', 'bootstrap: NULL source_id');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_options$$, 'the refused calls recorded no table option');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.snapshot_requests$$, 'the refused calls recorded no snapshot request');

----------------------------------------------------------------------
-- unknown sources of the newer functions; create_consumer with bootstrap
----------------------------------------------------------------------
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('err_nosuch', numeric_as_string => true)$$,
	'42704', 'source "err_nosuch" does not exist', 'alter_source: unknown source (numeric_as_string only)');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.bootstrap('err_nosuch')$$,
	'42704', 'source "err_nosuch" does not exist', 'bootstrap: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.resnapshot('err_nosuch')$$,
	'42704', 'source "err_nosuch" does not exist', 'resnapshot: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.resync_source('err_nosuch')$$,
	'42704', 'source "err_nosuch" does not exist', 'resync_source: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('err_nosuch', 'err_keys', 'L')$$,
	'42704', 'source "err_nosuch" does not exist', 'set_table_label: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('err_nosuch', 'err_keys', ARRAY['code'])$$,
	'42704', 'source "err_nosuch" does not exist', 'set_excluded_columns: unknown source');
SELECT is(err_info($$SELECT pgcdc_drasi.create_consumer('err_bs_c', 'err_main', bootstrap => true)$$),
	ARRAY['25001', 'create_consumer with bootstrap must run in a REPEATABLE READ transaction',
	      'The consumer skips the events its snapshot already shows, so the snapshot must be the one bootstrap() reads.',
	      'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT pgcdc_drasi.create_consumer(...); SELECT * FROM pgcdc_drasi.bootstrap(...); COMMIT;'],
	'create_consumer: bootstrap => true outside a REPEATABLE READ transaction (message, detail, hint)');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('err_bs_c', 'err_nosuch', bootstrap => true)$$,
	'42704', 'source "err_nosuch" does not exist', 'create_consumer with bootstrap: unknown source');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('err_bs_c', 'err_main', 'first', true)$$,
	'22023', 'invalid start_at "first"', 'create_consumer with bootstrap: invalid start_at');
ROLLBACK;
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.consumers WHERE consumer = 'err_bs_c'), 0,
	'the refused create_consumer calls created no consumer');

----------------------------------------------------------------------
-- clean up
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('err_main')$$, 'drop_source err_main');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('err_adopt')$$, 'drop_source err_adopt');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name IN ('pgcdc_err_main', 'err_adopt_slot')), 0,
	'drop_source drops created and adopted slots');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.sources$$, 'no sources are left');

SELECT * FROM finish();

SELECT 1 AS err_dummy FROM pg_drop_replication_slot('err_td_slot') \gset
SELECT 1 AS err_dummy FROM pg_drop_replication_slot('err_phys_slot') \gset
SELECT 1 AS err_dummy FROM pg_drop_replication_slot('err_otherdb_slot') \gset
SELECT count(*) AS err_dummy FROM (SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname LIKE 'pgcdc\_drasi\_%err%') s \gset
DROP PUBLICATION err_pub;
DROP PUBLICATION err_adopt_pub;
