-- 000_smoke.sql: the extension installs its schema, queue table and API.
--
-- Convention for test/pgtap/*.sql: test/run.sh gives each file a fresh
-- database with pgtap already created; a file creates pgcdc_drasi (and
-- anything else it needs) itself, preferably inside a transaction that it
-- rolls back.
\unset ECHO
\set QUIET 1
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgcdc_drasi;

SELECT plan(4);

SELECT has_schema('pgcdc_drasi', 'schema pgcdc_drasi exists');
SELECT has_table('pgcdc_drasi', 'events', 'queue table pgcdc_drasi.events exists');
SELECT has_function('pgcdc_drasi', 'create_source',
	ARRAY['text', 'text', 'text', 'text', 'boolean'],
	'pgcdc_drasi.create_source(text, text, text, text, boolean) exists');
SELECT has_view('pgcdc_drasi', 'status', 'view pgcdc_drasi.status exists');

SELECT * FROM finish();
ROLLBACK;
