-- 090_drop_role.sql: DROP ROLE of a role that owns a source, a consumer or
-- a target of this database is refused, naming what it owns; REASSIGN
-- OWNED gives them to the new role, after which the old role can go.
--
-- Roles start with "drr_", slots with "drr_".  No enclosing transaction
-- (create_source may create a slot).
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

SET client_min_messages = warning;
DROP ROLE IF EXISTS drr_owner, drr_reader, drr_heir, drr_idle;
RESET client_min_messages;
CREATE ROLE drr_owner NOLOGIN;
GRANT pgcdc_drasi_admin TO drr_owner;
CREATE ROLE drr_reader NOLOGIN;
GRANT pgcdc_drasi_reader TO drr_reader;
CREATE ROLE drr_heir NOLOGIN;
GRANT pgcdc_drasi_admin TO drr_heir;
CREATE ROLE drr_idle NOLOGIN;
GRANT pgcdc_drasi_admin TO drr_idle;
GRANT USAGE ON SCHEMA pgcdc_drasi TO drr_owner, drr_reader, drr_heir;
CREATE TABLE drr_t (id int PRIMARY KEY);
GRANT SELECT ON drr_t TO drr_owner, drr_heir;
CREATE PUBLICATION drr_pub FOR TABLE drr_t;

SET ROLE drr_owner;
SELECT pgcdc_drasi.create_source('drr_src', 'drr_pub', slot_name => 'drr_slot', enabled => false);
SELECT pgcdc_drasi.create_target('drr_tgt', 'drr_src', url => 'redis://127.0.0.1:1/0');
SELECT pgcdc_drasi.create_source('drr_live', 'drr_pub', bootstrap => false);
SET ROLE drr_reader;
SELECT pgcdc_drasi.create_consumer('drr_c', 'drr_src');
RESET ROLE;

SELECT plan(13);

SELECT is(err_info_rb('DROP ROLE drr_owner'),
	ARRAY['2BP01',
	      'role "drr_owner" cannot be dropped because it owns pgcdc_drasi objects in database "' || current_database() || '"',
	      E'owner of pgcdc_drasi source "drr_live"\nowner of pgcdc_drasi source "drr_src"\nowner of pgcdc_drasi target "drr_tgt"',
	      'Run REASSIGN OWNED BY drr_owner TO another role in this database, or drop them first.'],
	'DROP ROLE of a source and target owner is refused, naming them');
SELECT is((err_info_rb('DROP ROLE drr_reader'))[1:3],
	ARRAY['2BP01',
	      'role "drr_reader" cannot be dropped because it owns pgcdc_drasi objects in database "' || current_database() || '"',
	      'owner of pgcdc_drasi consumer "drr_c"'],
	'DROP ROLE of a consumer owner is refused');
SELECT is((err_info_rb('DROP ROLE drr_idle, drr_owner'))[2],
	'role "drr_owner" cannot be dropped because it owns pgcdc_drasi objects in database "' || current_database() || '"',
	'one owner among several roles is enough to refuse');
SELECT ok(EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'drr_idle'),
	'the whole statement was refused');
SELECT lives_ok('DROP ROLE drr_idle', 'a role that owns nothing of ours is dropped');

-- REASSIGN OWNED follows the documented procedure for dropping a role.
SELECT ok(wait_state('drr_live', 'streaming') = 'streaming', 'source drr_live streams, as drr_owner');
CREATE TEMP TABLE drr_pid AS SELECT pid FROM pgcdc_drasi.status WHERE source_id = 'drr_live';
SELECT lives_ok('REASSIGN OWNED BY drr_owner, drr_reader TO drr_heir', 'REASSIGN OWNED');
SELECT results_eq(
	$$SELECT 'source', owner::text FROM pgcdc_drasi.sources WHERE source_id = 'drr_live'
	  UNION ALL SELECT 'source', owner::text FROM pgcdc_drasi.sources WHERE source_id = 'drr_src'
	  UNION ALL SELECT 'consumer', owner::text FROM pgcdc_drasi.consumers WHERE consumer = 'drr_c'
	  UNION ALL SELECT 'target', owner::text FROM pgcdc_drasi.targets WHERE target_id = 'drr_tgt'$$,
	$$VALUES ('source', 'drr_heir'), ('source', 'drr_heir'), ('consumer', 'drr_heir'), ('target', 'drr_heir')$$,
	'the source, consumer and target now belong to the new role, by name');
-- The worker takes its new owner at its next change.
INSERT INTO drr_t VALUES (1);
SELECT ok(wait_status('drr_live', format('state = %L AND pid <> %s', 'streaming', (SELECT pid FROM drr_pid))),
	'the running source restarted under its new owner');
SELECT ok(poll_until($$SELECT count(*) = 1 FROM pgcdc_drasi.events WHERE source_id = 'drr_live'$$),
	'and publishes the change, once');
SELECT lives_ok('DROP OWNED BY drr_owner, drr_reader', 'DROP OWNED');
SELECT lives_ok('DROP ROLE drr_owner, drr_reader', 'then DROP ROLE succeeds');
SELECT is((SELECT count(*) FROM pgcdc_drasi.sources s
	WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = s.owner)), 0::bigint,
	'no source is left with the number of a dropped role');

SELECT * FROM finish();

SELECT pgcdc_drasi.drop_target('drr_tgt');
SELECT pgcdc_drasi.drop_source('drr_src');
SELECT pgcdc_drasi.drop_source('drr_live');
DROP OWNED BY drr_heir;
DROP ROLE drr_heir;
