--
-- A worker error reaches the status view with its detail, hint and
-- context: the source, the message type, the relation, the transaction
-- and the LSN it was applying.
--
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
SET client_min_messages = warning;
CREATE ROLE errctx_owner;
GRANT pgcdc_drasi_admin TO errctx_owner;
GRANT USAGE ON SCHEMA pgcdc_drasi TO errctx_owner;
CREATE TABLE errctx_item (id int PRIMARY KEY, name text);
GRANT SELECT ON errctx_item TO errctx_owner;
CREATE PUBLICATION errctx_pub FOR TABLE errctx_item;
SET ROLE errctx_owner;
SELECT pgcdc_drasi.create_source('errctx', publication => 'errctx_pub', bootstrap => false);
RESET ROLE;
-- The owner loses the right to read the table: the worker must stop at
-- the next change of it, and say where.
REVOKE SELECT ON errctx_item FROM errctx_owner;
INSERT INTO errctx_item VALUES (1, 'one');

DO $$
BEGIN
	FOR i IN 1 .. 600 LOOP
		EXIT WHEN (SELECT last_error IS NOT NULL FROM pgcdc_drasi.status WHERE source_id = 'errctx');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;

\x on
SELECT state IN ('error', 'starting', 'connecting', 'streaming') AS state_known,
	last_error, last_error_detail, last_error_hint,
	regexp_replace(last_error_context, 'transaction \d+, finished at [0-9A-F]+/[0-9A-F]+',
				   'transaction N, finished at X/X') AS last_error_context
FROM pgcdc_drasi.status WHERE source_id = 'errctx';
SELECT last_error_detail IS NOT NULL AS has_detail, last_error_hint IS NOT NULL AS has_hint,
	last_error_context LIKE 'pgcdc_drasi source "errctx" processing message type "INSERT"%' AS has_context
FROM pgcdc_drasi.source_status() WHERE source_id = 'errctx';
\x off

SELECT pgcdc_drasi.drop_source('errctx');
DROP PUBLICATION errctx_pub;
DROP TABLE errctx_item;
REVOKE USAGE ON SCHEMA pgcdc_drasi FROM errctx_owner;
DROP ROLE errctx_owner;
