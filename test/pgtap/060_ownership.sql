-- 060_ownership.sql: what a source holds and who it names.
--
-- A source drops only the slot it made or adopted (source_progress.slot_lsn),
-- never another slot that carries its name; owners are regrole, so a dump
-- names them; no raw publication oid is kept; DROP EXTENSION and DROP
-- SCHEMA pgcdc_drasi are refused while sources exist.
--
-- Roles start with "own_", slots with "own_" / "pgcdc_own".  No enclosing
-- transaction (create_source may create a slot).
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

SET client_min_messages = warning;
DROP ROLE IF EXISTS own_admin;
RESET client_min_messages;
CREATE ROLE own_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO own_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO own_admin;
CREATE TABLE own_t (id int PRIMARY KEY, v text);
GRANT SELECT ON own_t TO own_admin;
CREATE PUBLICATION own_pub FOR TABLE own_t;

SELECT plan(27);

----------------------------------------------------------------------
-- Owners by name, no raw oids
----------------------------------------------------------------------
SELECT col_type_is('pgcdc_drasi', 'sources', 'owner', 'regrole', 'sources.owner is regrole (dumped as a name)');
SELECT col_type_is('pgcdc_drasi', 'consumers', 'owner', 'regrole', 'consumers.owner is regrole (dumped as a name)');
SELECT hasnt_column('pgcdc_drasi', 'sources', 'publication_oid', 'sources keeps no raw publication oid');
SELECT col_type_is('pgcdc_drasi', 'source_progress', 'slot_lsn', 'pg_lsn', 'source_progress.slot_lsn records the slot a source made');

----------------------------------------------------------------------
-- A slot made by someone else under a source's name is never dropped
----------------------------------------------------------------------
SET ROLE own_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('own_x', 'own_pub', slot_name => 'own_standby1', enabled => false)$$,
	'admin without REPLICATION: a paused source with a slot name that does not exist yet');
RESET ROLE;
SELECT is((SELECT to_jsonb(p) ->> 'slot_lsn' FROM pgcdc_drasi.source_progress p WHERE source_id = 'own_x'), NULL,
	'the source has made no slot yet');
SELECT lives_ok($$SELECT pg_create_physical_replication_slot('own_standby1')$$,
	'later a superuser creates a physical slot of that name (a standby''s)');
SET ROLE own_admin;
SELECT is(err_info($$SELECT pgcdc_drasi.resync_source('own_x')$$),
	ARRAY['55006', 'replication slot "own_standby1" is used by another consumer',
	      'Source "own_x" did not create the slot of that name.',
	      'Drop the source and create it again with another slot_name.'],
	'resync_source refuses to use or drop a slot the source did not make');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('own_x')$$, 'the admin drops the source');
RESET ROLE;
SELECT is((SELECT slot_type FROM pg_replication_slots WHERE slot_name = 'own_standby1'), 'physical',
	'drop_source left the physical slot alone');

-- a logical pgoutput slot of this database, made by someone else
SET ROLE own_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('own_y', 'own_pub', slot_name => 'own_logical1', enabled => false)$$,
	'a paused source with another free slot name');
RESET ROLE;
SELECT lives_ok($$SELECT pg_create_logical_replication_slot('own_logical1', 'pgoutput')$$,
	'a superuser creates a logical pgoutput slot of that name');
SET ROLE own_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('own_y')$$, 'the admin drops the source');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'own_logical1'), 1,
	'drop_source left the logical slot it did not make');

----------------------------------------------------------------------
-- The slot a source made is its own, and goes with it
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('own_z', 'own_pub', slot_name => 'own_made', enabled => false, bootstrap => false)$$,
	'create_source makes the slot (bootstrap => false)');
SELECT is((SELECT (to_jsonb(p) ->> 'slot_lsn')::pg_lsn = rs.confirmed_flush_lsn
           FROM pgcdc_drasi.source_progress p, pg_replication_slots rs
           WHERE p.source_id = 'own_z' AND rs.slot_name = 'own_made'), true,
	'the source recorded the slot it made');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('own_z')$$, 'drop_source of that source');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'own_made'), 0,
	'drop_source dropped the slot the source made');

----------------------------------------------------------------------
-- The rename guard works from the statement, not from an oid
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('own_r', 'own_pub', slot_name => 'own_r', enabled => false)$$,
	'a source of own_pub');
SELECT is(err_info($$ALTER PUBLICATION own_pub RENAME TO own_pub2$$),
	ARRAY['2BP01', 'publication "own_pub" is used by pgcdc_drasi source "own_r"',
	      'The source streams the publication by its name.',
	      'Drop the source first with pgcdc_drasi.drop_source().'],
	'renaming the publication of a source is refused');

----------------------------------------------------------------------
-- DROP EXTENSION / DROP SCHEMA while sources exist
----------------------------------------------------------------------
SELECT is(err_info($$DROP EXTENSION pgcdc_drasi$$),
	ARRAY['2BP01', 'cannot drop extension pgcdc_drasi while pgcdc_drasi sources exist',
	      'Their replication slots and origins would stay behind and keep WAL and catalog rows from being removed.',
	      'Drop every source first: SELECT pgcdc_drasi.drop_source(source_id) FROM pgcdc_drasi.sources;'],
	'DROP EXTENSION is refused while a source exists');
SELECT is(err_info($$DROP SCHEMA pgcdc_drasi CASCADE$$),
	ARRAY['2BP01', 'cannot drop schema pgcdc_drasi while pgcdc_drasi sources exist',
	      'Their replication slots and origins would stay behind and keep WAL and catalog rows from being removed.',
	      'Drop every source first: SELECT pgcdc_drasi.drop_source(source_id) FROM pgcdc_drasi.sources;'],
	'DROP SCHEMA pgcdc_drasi CASCADE is refused while a source exists');
SELECT is(err_info($$DROP EXTENSION IF EXISTS pg_no_such_extension, pgcdc_drasi$$)::text,
	'{2BP01,"cannot drop extension pgcdc_drasi while pgcdc_drasi sources exist","Their replication slots and origins would stay behind and keep WAL and catalog rows from being removed.","Drop every source first: SELECT pgcdc_drasi.drop_source(source_id) FROM pgcdc_drasi.sources;"}',
	'also when it is one of several extensions dropped');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources), 1, 'the source and the extension are still there');

SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('own_r')$$, 'drop the last source');
SELECT lives_ok($$DROP EXTENSION pgcdc_drasi$$, 'then DROP EXTENSION is accepted');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname LIKE 'pgcdc\_drasi\_own\_%'), 0,
	'no origins of this file are left');

SELECT * FROM finish();

SET client_min_messages = warning;
SELECT count(*) AS own_dummy FROM (
	SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
	WHERE slot_name IN ('own_standby1', 'own_logical1', 'own_made', 'own_r')) s \gset
DROP PUBLICATION own_pub;
DROP OWNED BY own_admin;
DROP ROLE own_admin;
