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

SELECT plan(12);

SELECT has_schema('pgcdc_drasi', 'schema pgcdc_drasi exists');
SELECT has_table('pgcdc_drasi', 'events', 'queue table pgcdc_drasi.events exists');
SELECT has_table('pgcdc_drasi', 'source_progress', 'table pgcdc_drasi.source_progress exists');
SELECT has_table('pgcdc_drasi', 'consumers', 'table pgcdc_drasi.consumers exists');
SELECT hasnt_sequence('pgcdc_drasi', 'events_seq', 'the global sequence events_seq is gone');
SELECT has_function('pgcdc_drasi', 'create_source',
	ARRAY['text', 'text', 'text', 'text', 'boolean', 'text', 'text', 'text'],
	'pgcdc_drasi.create_source(text, text, text, text, boolean, text, text, text) exists');
SELECT has_function('pgcdc_drasi', 'alter_source', ARRAY['text', 'text', 'text', 'text'],
	'pgcdc_drasi.alter_source(text, text, text, text) exists');
SELECT has_function('pgcdc_drasi', 'read', ARRAY['text', 'integer'], 'pgcdc_drasi.read(text, integer) exists');
SELECT has_function('pgcdc_drasi', 'ack', ARRAY['text', 'bigint'], 'pgcdc_drasi.ack(text, bigint) exists');
SELECT has_function('pgcdc_drasi', 'get_events', ARRAY['text', 'bigint', 'bigint'],
	'pgcdc_drasi.get_events(text, bigint, bigint) exists');
SELECT has_view('pgcdc_drasi', 'status', 'view pgcdc_drasi.status exists');
SELECT has_view('pgcdc_drasi', 'consumer_status', 'view pgcdc_drasi.consumer_status exists');

SELECT * FROM finish();
ROLLBACK;
