-- 000_smoke.sql: the extension installs its schema, queue table and API.
-- Inside a transaction that it rolls back (the conventions of the pgTAP
-- files are in helpers.psql).
\ir helpers.psql

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgcdc_drasi;

SELECT plan(22);

SELECT has_schema('pgcdc_drasi', 'schema pgcdc_drasi exists');
SELECT has_view('pgcdc_drasi', 'events', 'queue view pgcdc_drasi.events exists');
SELECT has_table('pgcdc_drasi', 'source_progress', 'table pgcdc_drasi.source_progress exists');
SELECT has_table('pgcdc_drasi', 'consumers', 'table pgcdc_drasi.consumers exists');
SELECT has_table('pgcdc_drasi', 'snapshot_requests', 'table pgcdc_drasi.snapshot_requests exists');
SELECT has_table('pgcdc_drasi', 'table_options', 'table pgcdc_drasi.table_options exists');
SELECT hasnt_sequence('pgcdc_drasi', 'events_seq', 'the global sequence events_seq is gone');
SELECT has_function('pgcdc_drasi', 'create_source',
	ARRAY['text', 'text', 'text', 'text', 'boolean', 'text', 'text', 'text', 'boolean', 'boolean', 'boolean'],
	'pgcdc_drasi.create_source(text, text, text, text, boolean, text, text, text, boolean, boolean, boolean) exists');
SELECT has_function('pgcdc_drasi', 'alter_source', ARRAY['text', 'text', 'text', 'text', 'boolean', 'boolean'],
	'pgcdc_drasi.alter_source(text, text, text, text, boolean, boolean) exists');
SELECT has_function('pgcdc_drasi', 'create_consumer', ARRAY['text', 'text', 'text', 'boolean'],
	'pgcdc_drasi.create_consumer(text, text, text, boolean) exists');
SELECT has_function('pgcdc_drasi', 'read', ARRAY['text', 'integer'], 'pgcdc_drasi.read(text, integer) exists');
SELECT has_function('pgcdc_drasi', 'ack', ARRAY['text', 'bigint'], 'pgcdc_drasi.ack(text, bigint) exists');
SELECT has_function('pgcdc_drasi', 'get_events', ARRAY['text', 'bigint', 'bigint'],
	'pgcdc_drasi.get_events(text, bigint, bigint) exists');
SELECT has_function('pgcdc_drasi', 'bootstrap', ARRAY['text', 'text[]'],
	'pgcdc_drasi.bootstrap(text, text[]) exists');
SELECT has_function('pgcdc_drasi', 'resnapshot', ARRAY['text', 'regclass[]'],
	'pgcdc_drasi.resnapshot(text, regclass[]) exists');
SELECT has_function('pgcdc_drasi', 'resync_source', ARRAY['text', 'boolean'],
	'pgcdc_drasi.resync_source(text, boolean) exists');
SELECT has_function('pgcdc_drasi', 'set_table_label', ARRAY['text', 'regclass', 'text'],
	'pgcdc_drasi.set_table_label(text, regclass, text) exists');
SELECT has_function('pgcdc_drasi', 'set_excluded_columns', ARRAY['text', 'regclass', 'text[]'],
	'pgcdc_drasi.set_excluded_columns(text, regclass, text[]) exists');
SELECT has_view('pgcdc_drasi', 'status', 'view pgcdc_drasi.status exists');
SELECT has_view('pgcdc_drasi', 'consumer_status', 'view pgcdc_drasi.consumer_status exists');
SELECT is(
	(SELECT array_agg(evtname::text ORDER BY evtname) FROM pg_event_trigger WHERE evtname LIKE 'pgcdc\_drasi\_%'),
	ARRAY['pgcdc_drasi_guard_ddl', 'pgcdc_drasi_guard_publication_drop'],
	'the guard event triggers exist');
SELECT is(
	(SELECT count(*)::int FROM pg_depend d JOIN pg_event_trigger t ON d.classid = 'pg_event_trigger'::regclass AND d.objid = t.oid
	 WHERE t.evtname LIKE 'pgcdc\_drasi\_%' AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgcdc_drasi')),
	2, 'both event triggers belong to the extension (DROP EXTENSION removes them)');

SELECT * FROM finish();
ROLLBACK;
