-- 030_privileges.sql: what pgcdc_drasi_admin, pgcdc_drasi_reader and a
-- role with neither may do; the caller's SELECT privilege gates what a
-- source may capture; and the functions, which write the configuration as
-- the bootstrap superuser, never run the caller's code with those rights.
--
-- Roles are cluster-wide: the ones this file creates start with "priv_"
-- and are dropped at the end.  Slots start with "pgcdc_priv" / "priv".
-- No enclosing transaction (create_source needs a transaction that has not
-- written yet).
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

SET client_min_messages = warning;
DROP ROLE IF EXISTS priv_admin, priv_reader, priv_none, priv_evil, priv_evil_admin;
RESET client_min_messages;
CREATE ROLE priv_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO priv_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO priv_admin;
CREATE ROLE priv_reader NOLOGIN;
GRANT pgcdc_drasi_reader TO priv_reader;
GRANT USAGE ON SCHEMA pgcdc_drasi TO priv_reader;
CREATE ROLE priv_none NOLOGIN;
CREATE ROLE priv_evil NOLOGIN;
GRANT pgcdc_drasi_reader TO priv_evil;
GRANT USAGE ON SCHEMA pgcdc_drasi TO priv_evil;
CREATE ROLE priv_evil_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO priv_evil_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO priv_evil_admin;

CREATE TABLE priv_open (id int PRIMARY KEY, v text);
CREATE TABLE priv_secret (id int PRIMARY KEY, v text);
CREATE TABLE priv_cols (id int PRIMARY KEY, v text);
GRANT SELECT ON priv_open TO priv_admin, priv_evil_admin, priv_evil;
GRANT SELECT (id) ON priv_cols TO priv_admin;
CREATE PUBLICATION priv_open_pub FOR TABLE priv_open;
CREATE PUBLICATION priv_mixed_pub FOR TABLE priv_open, priv_secret;
CREATE PUBLICATION priv_cols_pub FOR TABLE priv_cols;

SELECT plan(139);

----------------------------------------------------------------------
-- Catalog: grants
----------------------------------------------------------------------
SELECT is_empty(
	$$SELECT c.relname FROM pg_class c, aclexplode(c.relacl) a
	  WHERE c.relnamespace = 'pgcdc_drasi'::regnamespace AND a.grantee = 0
	  UNION ALL
	  SELECT c.relname FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid, aclexplode(t.attacl) a
	  WHERE c.relnamespace = 'pgcdc_drasi'::regnamespace AND a.grantee = 0
	  UNION ALL
	  SELECT p.proname FROM pg_proc p
	  WHERE p.pronamespace = 'pgcdc_drasi'::regnamespace AND has_function_privilege('priv_none', p.oid, 'EXECUTE')$$,
	'PUBLIC has no privilege on any table, column or function of pgcdc_drasi');
SELECT results_eq(
	$$SELECT p.proname::text COLLATE "default",
	         has_function_privilege('pgcdc_drasi_admin', p.oid, 'EXECUTE'),
	         has_function_privilege('pgcdc_drasi_reader', p.oid, 'EXECUTE')
	  FROM pg_proc p WHERE p.pronamespace = 'pgcdc_drasi'::regnamespace ORDER BY 1$$,
	$$VALUES ('_guard_ddl', false, false), ('_guard_publication_drop', false, false),
	         ('_pack', false, false), ('_payload', true, true), ('_slice', false, false),
	         ('_snapshot_within', false, false), ('_sources_changed', false, false), ('_unpack', true, true),
	         ('ack', true, true), ('alter_source', true, false), ('alter_target', true, false),
	         ('bootstrap', true, true),
	         ('create_consumer', true, true), ('create_source', true, false), ('create_target', true, false),
	         ('drop_consumer', true, true), ('drop_relation', true, false),
	         ('drop_source', true, false), ('drop_table_key', true, false), ('drop_target', true, false),
	         ('get_events', true, true),
	         ('pause_source', true, false), ('pause_target', true, false), ('read', true, true),
	         ('resnapshot', true, false),
	         ('resume_source', true, false), ('resume_target', true, false), ('resync_source', true, false),
	         ('set_excluded_columns', true, false), ('set_relation', true, false), ('set_relations', true, false),
	         ('set_source_redis', true, false),
	         ('set_table_key', true, false), ('set_table_label', true, false), ('set_table_mode', true, false),
	         ('source_status', true, true),
	         ('target_worker_status', true, true), ('wait_for_catchup', true, true)$$,
	'EXECUTE: admin every API function; reader source_status, wait_for_catchup, bootstrap and the consumer functions; nobody the internal ones but the payload assembly of the events view');
SELECT results_eq(
	$$SELECT attname::text COLLATE "default",
	         has_column_privilege('pgcdc_drasi_admin', 'pgcdc_drasi.sources', attname, 'SELECT'),
	         has_column_privilege('pgcdc_drasi_reader', 'pgcdc_drasi.sources', attname, 'SELECT')
	  FROM pg_attribute WHERE attrelid = 'pgcdc_drasi.sources'::regclass AND attnum > 0 ORDER BY attnum$$,
	$$VALUES ('source_id', true, false), ('publication', true, false), ('slot_name', true, false),
	         ('origin_name', true, false), ('conninfo', false, false), ('enabled', true, false),
	         ('sink', true, false), ('channel', true, false), ('notify_payload', true, false),
	         ('bootstrap', true, false), ('numeric_as_string', true, false),
	         ('owner', true, false), ('created_at', true, false), ('failover', true, false)$$,
	'sources: admin may SELECT every column but conninfo, reader none');
SELECT results_eq(
	$$SELECT attname::text COLLATE "default",
	         has_column_privilege('pgcdc_drasi_admin', 'pgcdc_drasi.targets', attname, 'SELECT'),
	         has_column_privilege('pgcdc_drasi_reader', 'pgcdc_drasi.targets', attname, 'SELECT')
	  FROM pg_attribute WHERE attrelid = 'pgcdc_drasi.targets'::regclass AND attnum > 0 ORDER BY attnum$$,
	$$VALUES ('target_id', true, false), ('source_id', true, false), ('kind', true, false),
	         ('url', false, false), ('options', false, false), ('enabled', true, false),
	         ('owner', true, false), ('created_at', true, false)$$,
	'targets: admin may SELECT every column but url and options (HTTP headers), reader none');
SELECT results_eq(
	$$SELECT r, t, p, has_table_privilege(r, 'pgcdc_drasi.' || t, p)
	  FROM unnest(ARRAY['pgcdc_drasi_admin', 'pgcdc_drasi_reader']) r,
	       unnest(ARRAY['sources', 'source_progress', 'snapshot_requests', 'consumers', 'table_keys',
	                    'table_options', 'events', 'status', 'consumer_status', 'targets', 'target_status',
	                    'relation_options', 'relations', 'table_modes']) t,
	       unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
	  ORDER BY 1, 2, 3$$,
	$$SELECT r, t, p, (t IN ('events', 'status', 'consumer_status', 'source_progress', 'target_status') AND p = 'SELECT') OR
	                  (r = 'pgcdc_drasi_admin' AND t IN ('table_keys', 'table_options', 'relation_options', 'relations',
	                                                     'table_modes') AND p = 'SELECT')
	  FROM unnest(ARRAY['pgcdc_drasi_admin', 'pgcdc_drasi_reader']) r,
	       unnest(ARRAY['sources', 'source_progress', 'snapshot_requests', 'consumers', 'table_keys',
	                    'table_options', 'events', 'status', 'consumer_status', 'targets', 'target_status',
	                    'relation_options', 'relations', 'table_modes']) t,
	       unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
	  ORDER BY 1, 2, 3$$,
	'table privileges: both roles SELECT events, status, consumer_status and source_progress, admin also table_keys and table_options; nobody reads consumers or snapshot_requests directly or writes anything');
SELECT is_empty(
	$$SELECT c.relname FROM pg_class c
	  WHERE c.relnamespace = 'pgcdc_drasi'::regnamespace AND c.relkind = 'S'
	    AND (has_sequence_privilege('pgcdc_drasi_admin', c.oid, 'USAGE, SELECT, UPDATE')
	         OR has_sequence_privilege('pgcdc_drasi_reader', c.oid, 'USAGE, SELECT, UPDATE'))$$,
	'neither role may use the sequence of snapshot_requests');

----------------------------------------------------------------------
-- pgcdc_drasi_admin
----------------------------------------------------------------------
SET ROLE priv_admin;
SELECT is(err_info($$SELECT pgcdc_drasi.create_source('priv_mixed', 'priv_mixed_pub')$$),
	ARRAY['42501', 'permission denied to capture table public.priv_secret',
	      'The table is in publication "priv_mixed_pub", and role "priv_admin" cannot SELECT from it.',
	      'Grant SELECT on the table, or use a publication of readable tables only.'],
	'admin: create_source refused for a publication with a table it cannot SELECT');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('priv_cols', 'priv_cols_pub')$$,
	'42501', 'permission denied to capture table public.priv_cols',
	'admin: SELECT on some columns only is not enough');
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('priv_src', 'priv_open_pub')$$,
	'admin: create_source for a publication of readable tables');
SELECT results_eq($$SELECT source_id, publication::text COLLATE "default", enabled FROM pgcdc_drasi.sources$$,
	$$VALUES ('priv_src', 'priv_open_pub', true)$$,
	'admin: can SELECT the non-secret columns of sources');
SELECT throws_ok($$SELECT conninfo FROM pgcdc_drasi.sources$$,
	'42501', 'permission denied for table sources', 'admin: cannot SELECT conninfo');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.sources$$,
	'42501', 'permission denied for table sources', 'admin: cannot SELECT * from sources');
SELECT throws_ok($$UPDATE pgcdc_drasi.sources SET enabled = false$$,
	'42501', 'permission denied for table sources', 'admin: cannot UPDATE sources directly');
SELECT throws_ok($$INSERT INTO pgcdc_drasi.table_keys VALUES ('priv_src', 'priv_open', ARRAY['v'])$$,
	'42501', 'permission denied for table table_keys', 'admin: cannot INSERT into table_keys directly');
SELECT throws_ok($$DELETE FROM pgcdc_drasi.queue_events$$,
	'42501', 'permission denied for table queue_events', 'admin: cannot DELETE events directly');
SELECT throws_ok($$UPDATE pgcdc_drasi.source_progress SET last_seq = 0$$,
	'42501', 'permission denied for table source_progress', 'admin: cannot move source_progress.last_seq');
SELECT throws_ok($$UPDATE pgcdc_drasi.consumers SET acked_seq = 0$$,
	'42501', 'permission denied for table consumers', 'admin: cannot move a consumer directly');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.consumers$$,
	'42501', 'permission denied for table consumers', 'admin: reads consumers through consumer_status only');
SELECT results_eq($$SELECT source_id, last_seq FROM pgcdc_drasi.source_progress$$,
	$$VALUES ('priv_src', 0::bigint)$$, 'admin: can SELECT source_progress');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.consumer_status$$, 'admin: can SELECT consumer_status');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('priv_src', sink => 'both', channel => 'priv_chan')$$,
	'admin: alter_source');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('priv_src', sink => 'queue')$$, 'admin: alter_source back to queue');
SELECT results_eq($$SELECT sink, channel FROM pgcdc_drasi.sources WHERE source_id = 'priv_src'$$,
	$$VALUES ('queue', 'priv_chan')$$, 'admin: the settings alter_source made');
SELECT lives_ok($$SELECT count(*) FROM pgcdc_drasi.events$$, 'admin: can SELECT events');
SELECT lives_ok($$SELECT count(*) FROM pgcdc_drasi.table_keys$$, 'admin: can SELECT table_keys');
SELECT is((SELECT state FROM pgcdc_drasi.status WHERE source_id = 'priv_src') IS NOT NULL, true,
	'admin: can SELECT status');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_key('priv_src', 'priv_secret', ARRAY['id'])$$),
	ARRAY['42501', 'permission denied for table priv_secret', '', ''],
	'admin: set_table_key refused on a table it cannot SELECT');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('priv_src', 'priv_open', ARRAY['id'])$$,
	'admin: set_table_key on a readable table');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_table_key('priv_src', 'priv_open')$$, 'admin: drop_table_key');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_label('priv_src', 'priv_secret', 'Secret')$$),
	ARRAY['42501', 'permission denied for table priv_secret', '', ''],
	'admin: set_table_label refused on a table it cannot SELECT');
SELECT is(err_info($$SELECT pgcdc_drasi.set_excluded_columns('priv_src', 'priv_secret', ARRAY['v'])$$),
	ARRAY['42501', 'permission denied for table priv_secret', '', ''],
	'admin: set_excluded_columns refused on a table it cannot SELECT');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('priv_src', 'priv_open', 'Open')$$,
	'admin: set_table_label on a readable table');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('priv_src', 'priv_open', ARRAY['v'])$$,
	'admin: set_excluded_columns on a readable table');
SELECT results_eq($$SELECT source_id, table_id::text, label, exclude_columns FROM pgcdc_drasi.table_options$$,
	$$VALUES ('priv_src', 'priv_open', 'Open', ARRAY['v'])$$, 'admin: can SELECT table_options');
SELECT throws_ok($$INSERT INTO pgcdc_drasi.table_options VALUES ('priv_src', 'priv_secret', 'x', NULL)$$,
	'42501', 'permission denied for table table_options', 'admin: cannot INSERT into table_options directly');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('priv_src', 'priv_open', NULL)$$, 'admin: set_table_label NULL');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('priv_src', 'priv_open', NULL)$$,
	'admin: set_excluded_columns NULL');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.snapshot_requests$$,
	'42501', 'permission denied for table snapshot_requests', 'admin: cannot SELECT snapshot_requests');
SELECT throws_ok($$INSERT INTO pgcdc_drasi.snapshot_requests (source_id) VALUES ('priv_src')$$,
	'42501', 'permission denied for table snapshot_requests', 'admin: cannot queue a snapshot directly');
SELECT lives_ok($$SELECT pgcdc_drasi.pause_source('priv_src')$$, 'admin: pause_source');
SELECT lives_ok($$SELECT pgcdc_drasi.resume_source('priv_src')$$, 'admin: resume_source');
RESET ROLE;
INSERT INTO priv_open VALUES (1, 'one');
SET ROLE priv_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('priv_src')$$, 'admin: wait_for_catchup');
SELECT results_eq($$SELECT op, element_id FROM pgcdc_drasi.events WHERE source_id = 'priv_src' ORDER BY seq$$,
	$$VALUES ('i', 'priv_open:1')$$,
	'admin: the source of an admin captures its readable table');
-- A role without the REPLICATION attribute cannot use replication slots
-- directly.  Through create_source it can create slots for its sources, but
-- must not be able to take over (and then drop) a slot somebody else made.
-- (PostgreSQL 16 reworded the message)
SELECT throws_ok($$SELECT pg_create_logical_replication_slot('priv_direct', 'pgoutput')$$,
	'42501', CASE WHEN current_setting('server_version_num')::int >= 160000
		THEN 'permission denied to use replication slots'
		ELSE 'must be superuser or replication role to use replication slots' END,
	'admin: cannot create replication slots directly');
RESET ROLE;

SELECT is((SELECT owner::text FROM pgcdc_drasi.sources WHERE source_id = 'priv_src'),
	'priv_admin', 'the owner of the source is the admin that created it');

SELECT 1 AS priv_dummy FROM pg_create_logical_replication_slot('priv_foreign_slot', 'pgoutput') \gset
SET ROLE priv_admin;
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('priv_steal', 'priv_open_pub', 'priv_foreign_slot', enabled => false, bootstrap => false)$$,
	'42501'::char(5), NULL::text,
	'admin without REPLICATION: create_source refuses to adopt an existing slot it did not create');
DO $$BEGIN
	IF EXISTS (SELECT 1 FROM pgcdc_drasi.sources WHERE source_id = 'priv_steal') THEN
		PERFORM pgcdc_drasi.drop_source('priv_steal');
	END IF;
END$$;
RESET ROLE;
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'priv_foreign_slot'), 1,
	'admin without REPLICATION: the foreign slot survives (it cannot be dropped through drop_source)');

-- conninfo is used by a worker running as the bootstrap superuser, from
-- the server's OS account (its ~/.pgpass, client certificates, network):
-- like CREATE SUBSCRIPTION (superuser-only in PostgreSQL 15) and dblink,
-- a non-superuser must not choose it.
SET ROLE priv_admin;
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('priv_conn', 'priv_open_pub', conninfo => 'host=/nonexistent port=1', enabled => false)$$,
	'42501'::char(5), NULL::text,
	'admin (not superuser): create_source refuses a conninfo');
DO $$BEGIN
	IF EXISTS (SELECT 1 FROM pgcdc_drasi.sources WHERE source_id = 'priv_conn') THEN
		PERFORM pgcdc_drasi.drop_source('priv_conn');
	END IF;
END$$;
RESET ROLE;

----------------------------------------------------------------------
-- The worker publishes only tables the owner may SELECT
----------------------------------------------------------------------
ALTER PUBLICATION priv_open_pub ADD TABLE priv_secret;
INSERT INTO priv_secret VALUES (1, 'secret');
INSERT INTO priv_open VALUES (2, 'two');
SELECT ok(wait_status('priv_src',
	$$last_error = 'owner of source "priv_src" cannot read table "public.priv_secret"'$$),
	'a table the owner cannot SELECT, added to the publication later, stops the source with an error');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.events WHERE source_id = 'priv_src' AND label = 'priv_secret'), 0,
	'no event of the unreadable table is published');
SELECT results_eq($$SELECT element_id FROM pgcdc_drasi.events WHERE source_id = 'priv_src' ORDER BY seq$$,
	$$VALUES ('priv_open:1')$$,
	'the source does not skip past the refused change');
GRANT SELECT ON priv_secret TO priv_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('priv_src', '60 s')$$,
	'once the owner may SELECT the table, the source catches up');
SELECT results_eq($$SELECT element_id FROM pgcdc_drasi.events WHERE source_id = 'priv_src' ORDER BY seq$$,
	$$VALUES ('priv_open:1'), ('priv_secret:1'), ('priv_open:2')$$,
	'the refused change and the ones after it are published, in order');
REVOKE SELECT ON priv_secret FROM priv_admin;
ALTER PUBLICATION priv_open_pub DROP TABLE priv_secret;

----------------------------------------------------------------------
-- pgcdc_drasi_reader
----------------------------------------------------------------------
SET ROLE priv_reader;
SELECT results_eq($$SELECT op, element_id FROM pgcdc_drasi.events WHERE source_id = 'priv_src' ORDER BY seq$$,
	$$VALUES ('i', 'priv_open:1'), ('i', 'priv_secret:1'), ('i', 'priv_open:2')$$,
	'reader: can SELECT events');
SELECT results_eq($$SELECT source_id, enabled FROM pgcdc_drasi.status$$,
	$$VALUES ('priv_src', true)$$,
	'reader: can SELECT status');
SELECT lives_ok($$SELECT count(*) FROM pgcdc_drasi.source_status()$$, 'reader: can call source_status()');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('priv_src')$$, 'reader: can call wait_for_catchup');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('priv_reader_src', 'priv_open_pub')$$,
	'42501', 'permission denied for function create_source', 'reader: cannot call create_source');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_key('priv_src', 'priv_open', ARRAY['id'])$$,
	'42501', 'permission denied for function set_table_key', 'reader: cannot call set_table_key');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_table_key('priv_src', 'priv_open')$$,
	'42501', 'permission denied for function drop_table_key', 'reader: cannot call drop_table_key');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_source('priv_src')$$,
	'42501', 'permission denied for function drop_source', 'reader: cannot call drop_source');
SELECT throws_ok($$SELECT pgcdc_drasi.pause_source('priv_src')$$,
	'42501', 'permission denied for function pause_source', 'reader: cannot call pause_source');
SELECT throws_ok($$SELECT pgcdc_drasi.resume_source('priv_src')$$,
	'42501', 'permission denied for function resume_source', 'reader: cannot call resume_source');
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('priv_src', sink => 'both')$$,
	'42501', 'permission denied for function alter_source', 'reader: cannot call alter_source');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('priv_src', 'priv_open', 'L')$$,
	'42501', 'permission denied for function set_table_label', 'reader: cannot call set_table_label');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('priv_src', 'priv_open', ARRAY['v'])$$,
	'42501', 'permission denied for function set_excluded_columns', 'reader: cannot call set_excluded_columns');
SELECT throws_ok($$SELECT pgcdc_drasi.resnapshot('priv_src')$$,
	'42501', 'permission denied for function resnapshot', 'reader: cannot call resnapshot');
SELECT throws_ok($$SELECT pgcdc_drasi.resync_source('priv_src')$$,
	'42501', 'permission denied for function resync_source', 'reader: cannot call resync_source');
SELECT is(err_info($$SELECT * FROM pgcdc_drasi.bootstrap('priv_src')$$),
	ARRAY['42501', 'permission denied for table priv_open',
	      'A snapshot reads the tables of publication "priv_open_pub" with the privileges of the current role.', ''],
	'reader: bootstrap() reads with the reader''s own privileges: refused for a table it cannot SELECT');
RESET ROLE;
GRANT SELECT ON priv_open TO priv_reader;
SET ROLE priv_reader;
SELECT results_eq($$SELECT e FROM pgcdc_drasi.bootstrap('priv_src') e ORDER BY e->>'id'$$,
	$$VALUES ('{"id": "priv_open:1", "labels": ["priv_open"], "properties": {"id": 1, "v": "one"}}'::jsonb),
	         ('{"id": "priv_open:2", "labels": ["priv_open"], "properties": {"id": 2, "v": "two"}}'::jsonb)$$,
	'reader: can call bootstrap() for tables it can SELECT');
RESET ROLE;
REVOKE SELECT ON priv_open FROM priv_reader;
SET ROLE priv_reader;
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.table_options$$,
	'42501', 'permission denied for table table_options', 'reader: cannot SELECT table_options');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.snapshot_requests$$,
	'42501', 'permission denied for table snapshot_requests', 'reader: cannot SELECT snapshot_requests');
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('priv_reader_c', 'priv_src')$$, 'reader: can create a consumer');
SELECT results_eq($$SELECT seq, element_id FROM pgcdc_drasi.read('priv_reader_c')$$,
	$$VALUES (1::bigint, 'priv_open:1'), (2::bigint, 'priv_secret:1'), (3::bigint, 'priv_open:2')$$,
	'reader: can read through its consumer');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('priv_reader_c', 3)$$, 'reader: can ack');
SELECT results_eq($$SELECT consumer, source_id, owner::text, acked_seq, last_seq, lag_events FROM pgcdc_drasi.consumer_status$$,
	$$VALUES ('priv_reader_c', 'priv_src', 'priv_reader', 3::bigint, 3::bigint, 0::bigint)$$,
	'reader: can SELECT consumer_status; the consumer belongs to the reader');
SELECT results_eq($$SELECT source_id, last_seq FROM pgcdc_drasi.source_progress$$,
	$$VALUES ('priv_src', 3::bigint)$$, 'reader: can SELECT source_progress');
SELECT results_eq($$SELECT seq, element_id FROM pgcdc_drasi.get_events('priv_src', 2)$$,
	$$VALUES (2::bigint, 'priv_secret:1')$$, 'reader: can call get_events');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_consumer('priv_reader_c')$$, 'reader: can drop its consumer');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.consumers$$,
	'42501', 'permission denied for table consumers', 'reader: cannot SELECT consumers');
SELECT throws_ok($$UPDATE pgcdc_drasi.source_progress SET last_seq = 0$$,
	'42501', 'permission denied for table source_progress', 'reader: cannot UPDATE source_progress');
SELECT throws_ok($$SELECT source_id FROM pgcdc_drasi.sources$$,
	'42501', 'permission denied for table sources', 'reader: cannot SELECT sources');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.table_keys$$,
	'42501', 'permission denied for table table_keys', 'reader: cannot SELECT table_keys');
SELECT throws_ok($$DELETE FROM pgcdc_drasi.queue_events$$,
	'42501', 'permission denied for table queue_events', 'reader: cannot DELETE events');
RESET ROLE;

----------------------------------------------------------------------
-- membership without USAGE on this database's schema: nothing
----------------------------------------------------------------------
SELECT results_eq(
	$$SELECT has_schema_privilege('pgcdc_drasi_admin', 'pgcdc_drasi', 'USAGE'),
	         has_schema_privilege('pgcdc_drasi_reader', 'pgcdc_drasi', 'USAGE')$$,
	$$VALUES (false, false)$$,
	'the cluster-wide roles have no USAGE on the schema: membership alone reaches no database');
REVOKE USAGE ON SCHEMA pgcdc_drasi FROM priv_reader, priv_admin;
SET ROLE priv_reader;
SELECT throws_ok($$SELECT count(*) FROM pgcdc_drasi.events$$,
	'42501', 'permission denied for schema pgcdc_drasi', 'reader without USAGE: cannot SELECT events');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.get_events('priv_src', 1)$$,
	'42501', 'permission denied for schema pgcdc_drasi', 'reader without USAGE: cannot call get_events');
SET ROLE priv_admin;
SELECT throws_ok($$SELECT pgcdc_drasi.drop_source('priv_src')$$,
	'42501', 'permission denied for schema pgcdc_drasi', 'admin without USAGE: cannot call drop_source');
RESET ROLE;
GRANT USAGE ON SCHEMA pgcdc_drasi TO priv_reader, priv_admin;

----------------------------------------------------------------------
-- a role with neither
----------------------------------------------------------------------
SET ROLE priv_none;
SELECT throws_ok($$SELECT count(*) FROM pgcdc_drasi.events$$,
	'42501', 'permission denied for schema pgcdc_drasi', 'none: cannot SELECT events');
SELECT throws_ok($$SELECT pgcdc_drasi.wait_for_catchup('priv_src')$$,
	'42501', 'permission denied for schema pgcdc_drasi', 'none: cannot call wait_for_catchup');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('priv_none_src', 'priv_open_pub')$$,
	'42501', 'permission denied for schema pgcdc_drasi', 'none: cannot call create_source');
RESET ROLE;
-- Even with USAGE on the schema, nothing is granted to PUBLIC.
GRANT USAGE ON SCHEMA pgcdc_drasi TO priv_none;
SET ROLE priv_none;
SELECT throws_ok($$SELECT count(*) FROM pgcdc_drasi.events$$,
	'42501', 'permission denied for view events', 'none with USAGE: cannot SELECT events');
SELECT throws_ok($$SELECT count(*) FROM pgcdc_drasi.status$$,
	'42501', 'permission denied for view status', 'none with USAGE: cannot SELECT status');
SELECT throws_ok($$SELECT pgcdc_drasi.wait_for_catchup('priv_src')$$,
	'42501', 'permission denied for function wait_for_catchup', 'none with USAGE: cannot call wait_for_catchup');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.source_status()$$,
	'42501', 'permission denied for function source_status', 'none with USAGE: cannot call source_status');
SELECT throws_ok($$SELECT pgcdc_drasi.create_source('priv_none_src', 'priv_open_pub')$$,
	'42501', 'permission denied for function create_source', 'none with USAGE: cannot call create_source');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_source('priv_src')$$,
	'42501', 'permission denied for function drop_source', 'none with USAGE: cannot call drop_source');
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('priv_src', sink => 'both')$$,
	'42501', 'permission denied for function alter_source', 'none with USAGE: cannot call alter_source');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('priv_none_c', 'priv_src')$$,
	'42501', 'permission denied for function create_consumer', 'none with USAGE: cannot call create_consumer');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read('priv_none_c')$$,
	'42501', 'permission denied for function read', 'none with USAGE: cannot call read');
SELECT throws_ok($$SELECT pgcdc_drasi.ack('priv_none_c', 1)$$,
	'42501', 'permission denied for function ack', 'none with USAGE: cannot call ack');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_consumer('priv_none_c')$$,
	'42501', 'permission denied for function drop_consumer', 'none with USAGE: cannot call drop_consumer');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.get_events('priv_src', 1)$$,
	'42501', 'permission denied for function get_events', 'none with USAGE: cannot call get_events');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.consumer_status$$,
	'42501', 'permission denied for view consumer_status', 'none with USAGE: cannot SELECT consumer_status');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.source_progress$$,
	'42501', 'permission denied for table source_progress', 'none with USAGE: cannot SELECT source_progress');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.bootstrap('priv_src')$$,
	'42501', 'permission denied for function bootstrap', 'none with USAGE: cannot call bootstrap');
SELECT throws_ok($$SELECT pgcdc_drasi.resnapshot('priv_src')$$,
	'42501', 'permission denied for function resnapshot', 'none with USAGE: cannot call resnapshot');
SELECT throws_ok($$SELECT pgcdc_drasi.resync_source('priv_src')$$,
	'42501', 'permission denied for function resync_source', 'none with USAGE: cannot call resync_source');
SELECT throws_ok($$SELECT pgcdc_drasi.set_table_label('priv_src', 'priv_open', 'L')$$,
	'42501', 'permission denied for function set_table_label', 'none with USAGE: cannot call set_table_label');
SELECT throws_ok($$SELECT pgcdc_drasi.set_excluded_columns('priv_src', 'priv_open', ARRAY['v'])$$,
	'42501', 'permission denied for function set_excluded_columns', 'none with USAGE: cannot call set_excluded_columns');
SELECT throws_ok($$SELECT pgcdc_drasi._snapshot_within('1:1:', '1:1:')$$,
	'42501', 'permission denied for function _snapshot_within', 'none with USAGE: cannot call _snapshot_within');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.table_options$$,
	'42501', 'permission denied for table table_options', 'none with USAGE: cannot SELECT table_options');
RESET ROLE;
REVOKE USAGE ON SCHEMA pgcdc_drasi FROM priv_none;

----------------------------------------------------------------------
-- The functions write as the bootstrap superuser: they must not run
-- operators or functions the caller put on its search_path with those
-- rights.  priv_evil (a reader) and priv_evil_admin (an admin) define
-- an "=" operator for text in a schema of theirs.  It records, in the
-- session variable priv.log, each role it runs as ("step:role;"), without
-- writing to any table (create_source refuses a transaction that wrote).
----------------------------------------------------------------------
CREATE SCHEMA priv_evil AUTHORIZATION priv_evil;
GRANT USAGE ON SCHEMA priv_evil TO priv_evil_admin;
SET ROLE priv_evil;
CREATE FUNCTION priv_evil.eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	entry text := coalesce(current_setting('priv.step', true), '') || ':' || current_user || ';';
BEGIN
	IF strpos(coalesce(current_setting('priv.log', true), ''), entry) OPERATOR(pg_catalog.=) 0 THEN
		PERFORM set_config('priv.log', coalesce(current_setting('priv.log', true), '') || entry, false);
	END IF;
	RETURN a OPERATOR(pg_catalog.=) b;
END
$$;
CREATE OPERATOR priv_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = priv_evil.eq);
RESET ROLE;

-- The roles the operator ran as during a step.
CREATE FUNCTION priv_seen(step text) RETURNS text[] LANGUAGE sql AS $$
	SELECT coalesce(array_agg(DISTINCT split_part(e, ':', 2) ORDER BY split_part(e, ':', 2)), '{}')
	FROM unnest(string_to_array(current_setting('priv.log', true), ';')) e
	WHERE split_part(e, ':', 1) = step
$$;

-- Sanity: the operator is picked by the caller's own queries.
SET ROLE priv_evil;
SET search_path = priv_evil, pg_catalog, public;
SET priv.step = 'sanity';
SELECT count(*) AS priv_dummy FROM pgcdc_drasi.events WHERE label = 'priv_open' \gset
RESET search_path;
RESET ROLE;
SELECT is(priv_seen('sanity'), ARRAY['priv_evil'],
	'sanity: with the schema first on its search_path, the role''s "=" is used by its queries');

-- reader: wait_for_catchup
SET ROLE priv_evil;
SET search_path = priv_evil, pg_catalog, public;
SET priv.step = 'wait_for_catchup';
DO $$BEGIN PERFORM pgcdc_drasi.wait_for_catchup('priv_src'); END$$;
RESET search_path;
RESET ROLE;
SELECT is(array_remove(priv_seen('wait_for_catchup'), 'priv_evil'), '{}'::text[],
	'reader: wait_for_catchup never runs the caller''s operator as another role (superuser)');

-- reader: the consumer functions
SET ROLE priv_evil;
SET search_path = priv_evil, pg_catalog, public;
SET priv.step = 'create_consumer';
DO $$BEGIN PERFORM pgcdc_drasi.create_consumer('priv_evil_c', 'priv_src'); END$$;
SET priv.step = 'read';
DO $$BEGIN PERFORM * FROM pgcdc_drasi.read('priv_evil_c', 10); END$$;
SET priv.step = 'ack';
DO $$BEGIN PERFORM pgcdc_drasi.ack('priv_evil_c', 1); END$$;
SET priv.step = 'get_events';
DO $$BEGIN PERFORM * FROM pgcdc_drasi.get_events('priv_src', 1, 3); END$$;
SET priv.step = 'drop_consumer';
DO $$BEGIN PERFORM pgcdc_drasi.drop_consumer('priv_evil_c'); END$$;
SET priv.step = 'bootstrap';
DO $$BEGIN PERFORM * FROM pgcdc_drasi.bootstrap('priv_src', ARRAY['priv_open']); END$$;
SET priv.step = 'create_consumer_bootstrap';
BEGIN ISOLATION LEVEL REPEATABLE READ;
DO $$BEGIN PERFORM pgcdc_drasi.create_consumer('priv_evil_bs', 'priv_src', bootstrap => true); END$$;
COMMIT;
SET priv.step = 'read_bootstrap';
DO $$BEGIN PERFORM * FROM pgcdc_drasi.read('priv_evil_bs', 10); END$$;
DO $$BEGIN PERFORM pgcdc_drasi.drop_consumer('priv_evil_bs'); END$$;
RESET priv.step;
RESET search_path;
RESET ROLE;
SELECT is(array_remove(priv_seen('create_consumer'), 'priv_evil'), '{}'::text[],
	'reader: create_consumer never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('read'), 'priv_evil'), '{}'::text[],
	'reader: read never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('ack'), 'priv_evil'), '{}'::text[],
	'reader: ack never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('get_events'), 'priv_evil'), '{}'::text[],
	'reader: get_events never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('drop_consumer'), 'priv_evil'), '{}'::text[],
	'reader: drop_consumer never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('bootstrap'), 'priv_evil'), '{}'::text[],
	'reader: bootstrap never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('create_consumer_bootstrap'), 'priv_evil'), '{}'::text[],
	'reader: create_consumer with bootstrap never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('read_bootstrap'), 'priv_evil'), '{}'::text[],
	'reader: read of a consumer with a snapshot never runs the caller''s operator as another role');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.consumers WHERE consumer IN ('priv_evil_c', 'priv_evil_bs')), 0,
	'the evil reader''s consumers were created and dropped through the API');

-- admin: every configuration function
SET ROLE priv_evil_admin;
SET search_path = priv_evil, pg_catalog, public;
SET priv.step = 'create_source';
DO $$BEGIN PERFORM pgcdc_drasi.create_source('priv_evil_src', 'priv_open_pub', enabled => false); END$$;
SET priv.step = 'alter_source';
DO $$BEGIN PERFORM pgcdc_drasi.alter_source('priv_evil_src', sink => 'both', channel => 'priv_evil_chan', notify_payload => 'wakeup'); END$$;
SET priv.step = 'set_table_key';
DO $$BEGIN PERFORM pgcdc_drasi.set_table_key('priv_evil_src', 'priv_open', ARRAY['id']); END$$;
SET priv.step = 'drop_table_key';
DO $$BEGIN PERFORM pgcdc_drasi.drop_table_key('priv_evil_src', 'priv_open'); END$$;
SET priv.step = 'set_table_label';
DO $$BEGIN PERFORM pgcdc_drasi.set_table_label('priv_evil_src', 'priv_open', 'Evil'); END$$;
SET priv.step = 'set_excluded_columns';
DO $$BEGIN PERFORM pgcdc_drasi.set_excluded_columns('priv_evil_src', 'priv_open', ARRAY['v']); END$$;
SET priv.step = 'resnapshot';
DO $$BEGIN PERFORM pgcdc_drasi.resnapshot('priv_evil_src', ARRAY['priv_open'::regclass]); END$$;
SET priv.step = 'resync_source';
DO $$BEGIN PERFORM pgcdc_drasi.resync_source('priv_evil_src'); END$$;
SET priv.step = 'resume_source';
DO $$BEGIN PERFORM pgcdc_drasi.resume_source('priv_evil_src'); END$$;
SET priv.step = 'pause_source';
DO $$BEGIN PERFORM pgcdc_drasi.pause_source('priv_evil_src'); END$$;
SET priv.step = 'drop_source';
DO $$BEGIN PERFORM pgcdc_drasi.drop_source('priv_evil_src'); END$$;
RESET priv.step;
RESET search_path;
RESET ROLE;
SELECT is(array_remove(priv_seen('create_source'), 'priv_evil_admin'), '{}'::text[],
	'admin: create_source never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('alter_source'), 'priv_evil_admin'), '{}'::text[],
	'admin: alter_source never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('set_table_key'), 'priv_evil_admin'), '{}'::text[],
	'admin: set_table_key never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('drop_table_key'), 'priv_evil_admin'), '{}'::text[],
	'admin: drop_table_key never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('set_table_label'), 'priv_evil_admin'), '{}'::text[],
	'admin: set_table_label never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('set_excluded_columns'), 'priv_evil_admin'), '{}'::text[],
	'admin: set_excluded_columns never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('resnapshot'), 'priv_evil_admin'), '{}'::text[],
	'admin: resnapshot never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('resync_source'), 'priv_evil_admin'), '{}'::text[],
	'admin: resync_source never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('resume_source'), 'priv_evil_admin'), '{}'::text[],
	'admin: resume_source never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('pause_source'), 'priv_evil_admin'), '{}'::text[],
	'admin: pause_source never runs the caller''s operator as another role');
SELECT is(array_remove(priv_seen('drop_source'), 'priv_evil_admin'), '{}'::text[],
	'admin: drop_source never runs the caller''s operator as another role');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'priv_evil_src'), 0,
	'the evil admin''s source was dropped');
SELECT results_eq(
	$$SELECT rolname::text COLLATE "default", rolsuper FROM pg_roles WHERE rolname IN ('priv_evil', 'priv_evil_admin') ORDER BY 1$$,
	$$VALUES ('priv_evil', false), ('priv_evil_admin', false)$$,
	'neither role became superuser');

----------------------------------------------------------------------
-- clean up
----------------------------------------------------------------------
SET ROLE priv_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('priv_src')$$, 'admin: drop_source of its source');
RESET ROLE;
SELECT is_empty($$SELECT * FROM pgcdc_drasi.sources$$, 'no sources are left');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name LIKE 'pgcdc\_priv%'), 0,
	'no slots of this file are left');

SELECT * FROM finish();

SET client_min_messages = warning;
SELECT count(*) AS priv_dummy FROM (
	SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
	WHERE slot_name IN ('priv_foreign_slot') OR slot_name LIKE 'pgcdc\_priv%') s \gset
DROP SCHEMA priv_evil CASCADE;
DROP PUBLICATION priv_open_pub, priv_mixed_pub, priv_cols_pub;
DROP OWNED BY priv_admin, priv_reader, priv_none, priv_evil, priv_evil_admin;
DROP ROLE priv_admin, priv_reader, priv_none, priv_evil, priv_evil_admin;
