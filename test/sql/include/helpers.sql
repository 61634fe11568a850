\set ECHO none
-- test/sql/include/helpers.sql: what every pg_regress suite starts with,
-- so that any suite also runs alone.  A suite pulls it in with
--
--   \getenv abs_srcdir PG_ABS_SRCDIR
--   \i :abs_srcdir/sql/include/helpers.sql
--
-- (pg_regress feeds a suite to psql on stdin, so \ir would resolve against
-- the working directory; PG_ABS_SRCDIR is the --inputdir, test/).  Echo is
-- off while it runs, so the expected output shows only those two lines.
-- Safe to run more than once: it creates the extension if missing,
-- replaces the helpers and waits for the launcher.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgcdc_drasi;
RESET client_min_messages;

-- A source's events without the values that change from run to run
-- (timestamps, LSNs, xids, absolute seq numbers).
CREATE OR REPLACE FUNCTION show_events(src text)
RETURNS TABLE (n bigint, tx bigint, op text, element_id text, event jsonb)
LANGUAGE sql AS $$
	SELECT row_number() OVER w,
		   dense_rank() OVER (ORDER BY lsn),
		   op, element_id,
		   payload - 'reactivatorStart_ns' - 'reactivatorEnd_ns'
			 #- '{payload,source,lsn}' #- '{payload,source,ts_ns}'
			 #- '{metadata,seq}' #- '{metadata,xid}'
	FROM pgcdc_drasi.events
	WHERE source_id = src
	WINDOW w AS (ORDER BY seq)
	ORDER BY seq
$$;

-- Invariants every event must satisfy, whatever the test: the JSON agrees
-- with the queue columns, seq follows (commit lsn, index in transaction),
-- and nothing is duplicated.  Returns the violations (none expected).
CREATE OR REPLACE FUNCTION check_events(src text)
RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT format('seq %s: json disagrees with columns', seq)
	FROM pgcdc_drasi.events
	WHERE source_id = src AND (
		(payload->'metadata'->>'seq')::bigint <> seq OR
		(payload->'metadata'->>'txIndex')::int <> tx_index OR
		(payload->'metadata'->>'xid')::text <> xid::text OR
		(payload->'payload'->'source'->>'lsn')::numeric <> (lsn - '0/0'::pg_lsn) OR
		payload->>'op' <> op OR
		payload->'payload'->'source'->>'db' <> source_id OR
		coalesce(payload->'payload'->'after'->>'id', payload->'payload'->'before'->>'id', '') <> coalesce(element_id, '') OR
		(payload->'payload'->'source'->>'ts_ns')::numeric <>
			floor(extract(epoch FROM commit_time) * 1000000) * 1000)
	UNION ALL
	SELECT 'seq order differs from commit order'
	WHERE EXISTS (
		SELECT 1 FROM (
			SELECT seq, row_number() OVER (ORDER BY seq) AS by_seq,
				   row_number() OVER (ORDER BY lsn, tx_index) AS by_lsn
			FROM pgcdc_drasi.events WHERE source_id = src) s
		WHERE by_seq <> by_lsn)
	UNION ALL
	SELECT 'duplicate (lsn, tx_index)'
	WHERE EXISTS (
		SELECT lsn, tx_index FROM pgcdc_drasi.events WHERE source_id = src
		GROUP BY 1, 2 HAVING count(*) > 1)
$$;

-- The launcher runs (give it a moment after the server started).
DO $$
BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi launcher');
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
\set ECHO all
