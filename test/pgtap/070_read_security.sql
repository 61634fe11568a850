-- 070_read_security.sql: what a source may read and what readers may
-- fetch.  Row-level security of a published table refuses the source
-- (at create_source and in the worker) unless its owner bypasses it; a
-- change of a table dropped before the worker could check its privileges
-- is never published; create_source's privilege check resolves nothing
-- through the caller's search_path; database settings cannot make the
-- worker read-only; get_events and read stream through a cursor instead
-- of reading whole ranges into memory.
--
-- Roles this file creates start with "rs_" and are dropped at the end;
-- sources, slots and origins start with "rs" too.  No enclosing
-- transaction (create_source needs a transaction that has not written yet,
-- and the worker only sees committed changes).
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

SET client_min_messages = warning;
DROP ROLE IF EXISTS rs_admin, rs_bypass, rs_owner;
RESET client_min_messages;
CREATE ROLE rs_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO rs_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO rs_admin;
CREATE ROLE rs_bypass NOLOGIN BYPASSRLS;
GRANT pgcdc_drasi_admin TO rs_bypass;
GRANT USAGE ON SCHEMA pgcdc_drasi TO rs_bypass;
CREATE ROLE rs_owner NOLOGIN;
GRANT pgcdc_drasi_admin TO rs_owner;
GRANT USAGE ON SCHEMA pgcdc_drasi TO rs_owner;

-- A multi-tenant table: each role sees its own rows.
CREATE TABLE rs_rls (id int PRIMARY KEY, tenant name NOT NULL DEFAULT current_user, v text);
ALTER TABLE rs_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY rs_tenant ON rs_rls USING (tenant = current_user);
CREATE POLICY rs_insert_only ON rs_rls FOR INSERT WITH CHECK (true);
GRANT SELECT ON rs_rls TO rs_admin, rs_bypass;
CREATE PUBLICATION rs_rls_pub FOR TABLE rs_rls;

-- A table with row-level security, owned by the role that captures it.
CREATE TABLE rs_owned (id int PRIMARY KEY, v text);
ALTER TABLE rs_owned OWNER TO rs_owner;
ALTER TABLE rs_owned ENABLE ROW LEVEL SECURITY;
CREATE PUBLICATION rs_owned_pub FOR TABLE rs_owned;

-- Row-level security enabled while a source streams the table.
CREATE TABLE rs_plain (id int PRIMARY KEY, tenant name NOT NULL DEFAULT current_user);
GRANT SELECT ON rs_plain TO rs_admin;
CREATE PUBLICATION rs_plain_pub FOR TABLE rs_plain;

-- A table the owner may read, and one it may not.
CREATE TABLE rs_open (id int PRIMARY KEY);
GRANT SELECT ON rs_open TO rs_admin;
CREATE TABLE rs_hidden (id int PRIMARY KEY, ssn text);
CREATE PUBLICATION rs_drop_pub FOR TABLE rs_open;
CREATE PUBLICATION rs_hidden_pub FOR TABLE rs_open, rs_hidden;

-- Tables of the read-only database test and of the reader tests.
CREATE TABLE rs_ro (id int PRIMARY KEY);
GRANT SELECT ON rs_ro TO rs_admin;
CREATE PUBLICATION rs_ro_pub FOR TABLE rs_ro;
CREATE TABLE rs_q (id int PRIMARY KEY);
CREATE PUBLICATION rs_q_pub FOR TABLE rs_q;

-- Heap tuples of the queue fetched through its indexes in this transaction.
CREATE FUNCTION rs_fetched()
RETURNS bigint LANGUAGE sql AS $$
	SELECT sum(pg_catalog.pg_stat_get_xact_tuples_fetched(indexrelid))::bigint
	FROM pg_catalog.pg_index WHERE indrelid = 'pgcdc_drasi.queue_events'::regclass
$$;

SELECT plan(44);

-- The source of the database settings test, created before them.
SET ROLE rs_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('rs_ro', 'rs_ro_pub', enabled => false, bootstrap => false)$$,
	'create_source of the paused source for the database settings test');
RESET ROLE;

----------------------------------------------------------------------
-- Row-level security at create_source
----------------------------------------------------------------------
SET ROLE rs_admin;
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_source('rs_a', 'rs_rls_pub', enabled => false)$$),
	ARRAY['42501', 'role "rs_admin" is subject to row-level security on table public.rs_rls',
	      'Policy "rs_tenant" limits the rows the role may see, but a source publishes every row of its tables to all readers of its queue and notifications.',
	      'Create the source as a role that owns the table or has the BYPASSRLS attribute, or remove the table from the publication.'],
	'create_source: refused when row-level security applies to the caller, naming the table and the policy');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'rs_a'), 0, 'create_source: the refused source does not exist');

SET ROLE rs_bypass;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('rs_b', 'rs_rls_pub', enabled => false)$$,
	'create_source: a role with BYPASSRLS may capture a table with row-level security');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('rs_b')$$, 'drop the BYPASSRLS source');
RESET ROLE;

SET ROLE rs_owner;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('rs_o', 'rs_owned_pub', enabled => false)$$,
	'create_source: the table owner may capture its table with row-level security');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('rs_o')$$, 'drop the owner''s source');
RESET ROLE;

ALTER TABLE rs_owned FORCE ROW LEVEL SECURITY;
SET ROLE rs_owner;
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_source('rs_o', 'rs_owned_pub', enabled => false)$$),
	ARRAY['42501', 'role "rs_owner" is subject to row-level security on table public.rs_owned',
	      'No policy lets the role see any row, but a source publishes every row of its tables to all readers of its queue and notifications.',
	      'Create the source as a role that owns the table or has the BYPASSRLS attribute, or remove the table from the publication.'],
	'create_source: FORCE ROW LEVEL SECURITY applies to the table owner too');
RESET ROLE;

----------------------------------------------------------------------
-- Row-level security in the worker
----------------------------------------------------------------------
SET ROLE rs_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('rs_run', 'rs_plain_pub', bootstrap => false)$$,
	'create_source of a table without row-level security');
RESET ROLE;
INSERT INTO rs_plain VALUES (1);
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('rs_run', '60 s')$$, 'the source streams');
ALTER TABLE rs_plain ENABLE ROW LEVEL SECURITY;
CREATE POLICY rs_plain_tenant ON rs_plain USING (tenant = current_user);
INSERT INTO rs_plain VALUES (2, 'someone_else');
SELECT ok(wait_status('rs_run',
	$$last_error = 'owner of source "rs_run" is subject to row-level security on table "public.rs_plain"'
	  AND last_error_detail = 'Policy "rs_plain_tenant" limits the rows the role may see, but a source publishes every row of its tables to all readers of its queue and notifications.'
	  AND last_error_hint = 'Give the source''s owner the BYPASSRLS attribute, disable row-level security on the table, or remove the table from the publication; the source then resumes at the refused change.'$$, 60),
	'worker: row-level security enabled later stops the source with an error naming the table and the policy');
SELECT results_eq($$SELECT element_id FROM pgcdc_drasi.events WHERE source_id = 'rs_run' ORDER BY seq$$,
	$$VALUES ('rs_plain:1')$$, 'worker: no row of the table is published under row-level security');
ALTER TABLE rs_plain DISABLE ROW LEVEL SECURITY;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('rs_run', '60 s')$$,
	'worker: without row-level security the source catches up');
SELECT results_eq($$SELECT element_id FROM pgcdc_drasi.events WHERE source_id = 'rs_run' ORDER BY seq$$,
	$$VALUES ('rs_plain:1'), ('rs_plain:2')$$, 'worker: the refused change is published after it, once');

----------------------------------------------------------------------
-- A dropped table fails closed
----------------------------------------------------------------------
SET ROLE rs_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('rs_drop', 'rs_drop_pub', bootstrap => false)$$,
	'create_source of a readable table');
RESET ROLE;
CREATE TABLE rs_gone (id int PRIMARY KEY, ssn text);
ALTER PUBLICATION rs_drop_pub ADD TABLE rs_gone;
INSERT INTO rs_gone VALUES (1, '123-45-6789');
INSERT INTO rs_open VALUES (1);
SELECT ok(wait_status('rs_drop',
	$$last_error = 'owner of source "rs_drop" cannot read table "public.rs_gone"'$$, 60),
	'worker: a table the owner cannot read stops the source');
DROP TABLE rs_gone;
SELECT ok(wait_status('rs_drop',
	$$last_error = 'cannot check that the owner of source "rs_drop" may read table "public.rs_gone"'
	  AND last_error_detail = 'The table was dropped before the worker read its change, so its privileges are gone; a change whose privileges cannot be checked is never published.'
	  AND last_error_hint = 'Call pgcdc_drasi.resync_source(''rs_drop'') to skip the changes not yet published and take a new snapshot of the source''s tables.'$$, 60),
	'worker: once the table is dropped, the source stops with an error that says what to do');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.events WHERE source_id = 'rs_drop'), 0,
	'worker: no change of the dropped table (or after it) is published');
SELECT lives_ok($$SELECT pgcdc_drasi.resync_source('rs_drop')$$, 'resync_source');
SELECT ok(poll_until($$SELECT count(*) > 0 FROM pgcdc_drasi.events WHERE source_id = 'rs_drop'$$, 60),
	'after resync_source the source writes its snapshot');
SELECT results_eq($$SELECT op, label, element_id, payload->'metadata' ? 'snapshot' FROM pgcdc_drasi.events WHERE source_id = 'rs_drop' ORDER BY seq$$,
	$$VALUES ('t', 'rs_open', NULL::text, true), ('i', 'rs_open', 'rs_open:1', true)$$, 'after resync_source: the readable table''s row comes from the snapshot, the dropped table''s never');

----------------------------------------------------------------------
-- Database settings do not reach the worker
----------------------------------------------------------------------
DO $$BEGIN
	EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database());
	EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = serializable', current_database());
END$$;
SET ROLE rs_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.resume_source('rs_ro')$$,
	'resume a source in a database whose sessions are read-only by default');
RESET ROLE;
INSERT INTO rs_ro VALUES (1);
SELECT is(err_info($$SELECT pgcdc_drasi.wait_for_catchup('rs_ro', '60 s')$$), NULL,
	'the worker writes although the database sets default_transaction_read_only');
DO $$BEGIN
	EXECUTE format('ALTER DATABASE %I RESET ALL', current_database());
END$$;
SELECT results_eq($$SELECT element_id FROM pgcdc_drasi.events WHERE source_id = 'rs_ro' ORDER BY seq$$,
	$$VALUES ('rs_ro:1')$$, 'the worker published the change');

----------------------------------------------------------------------
-- create_source's check runs nothing through the caller's search_path
----------------------------------------------------------------------
CREATE SCHEMA rs_evil AUTHORIZATION rs_admin;
SET ROLE rs_admin;
CREATE FUNCTION rs_evil.never(name, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR rs_evil.= (LEFTARG = name, RIGHTARG = text, FUNCTION = rs_evil.never);
SET search_path = rs_evil, pg_catalog;
SELECT coalesce(public.err_info_rb($$SELECT pgcdc_drasi.create_source('rs_shadow', 'rs_hidden_pub', enabled => false)$$)::text, '') AS rs_shadow \gset
RESET search_path;
RESET ROLE;
SELECT is((NULLIF(:'rs_shadow', '')::text[])[1:2],
	ARRAY['42501', 'permission denied to capture table public.rs_hidden'],
	'create_source: an operator in the caller''s search_path cannot defeat the privilege check');

----------------------------------------------------------------------
-- Readers stream
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('rs_q', 'rs_q_pub', enabled => false, bootstrap => false)$$,
	'a source whose queue the test fills');
INSERT INTO pgcdc_drasi.queue_transactions (source_id, first_seq, tx_key, n_events, lsn, xid, commit_time)
VALUES ('rs_q', 1, 1, 3000, '0/1', '1', now());
-- 60 rows of 50 events, as the worker packs them
INSERT INTO pgcdc_drasi.queue_events (tx_key, tx_index, n_events, source_id, events)
SELECT 1, r * 50, 50, 'rs_q',
	   (SELECT string_agg(pgcdc_drasi._pack('i', 'rs_q', 'rs_q:' || g, jsonb_build_object('n', g), NULL, 0, 0),
						  '' ORDER BY g)
		FROM generate_series(r * 50 + 1, r * 50 + 50) g)
FROM generate_series(0, 59) r;
SELECT pgcdc_drasi.create_consumer('rs_c', 'rs_q');

BEGIN;
-- The queue's index whatever the statistics say, so the counts are exact.
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_sort = off;
SELECT rs_fetched() AS rs_f0 \gset
SELECT results_eq($$SELECT (pgcdc_drasi.get_events('rs_q', 1, 9223372036854775807)).seq LIMIT 3$$,
	$$VALUES (1::bigint), (2), (3)$$, 'get_events over the whole seq range returns the first events');
-- a batch of 1000 events: the 20 rows holding them (the batch starts at
-- its transaction's first event: no lookup of the row holding it)
SELECT is(rs_fetched() - :rs_f0, 20::bigint,
	'get_events reads the queue a batch of 1000 events (20 rows) at a time, not the whole range');
SELECT rs_fetched() AS rs_f2 \gset
SELECT results_eq($$SELECT (pgcdc_drasi.get_events('rs_q', 1026, 9223372036854775807)).seq LIMIT 3$$,
	$$VALUES (1026::bigint), (1027), (1028)$$, 'get_events from inside a transaction and inside a row');
-- starting inside the transaction: the row holding 1026 is looked up once,
-- then the 21 rows holding 1026 to 2025 (from the middle of one row to the
-- middle of another) are read
SELECT is(rs_fetched() - :rs_f2, 22::bigint,
	'get_events from inside a transaction looks up the row holding its first seq once');
SELECT rs_fetched() AS rs_f1 \gset
SELECT results_eq($$SELECT (pgcdc_drasi.read('rs_c', 1000000)).seq LIMIT 3$$,
	$$VALUES (1::bigint), (2), (3)$$, 'read with max_events 1000000 returns the first events');
SELECT is(rs_fetched() - :rs_f1, 20::bigint,
	'read reads the queue a batch of 1000 events (20 rows) at a time, not max_events rows');
COMMIT;

SELECT results_eq($$SELECT count(*)::int, min(seq), max(seq), count(DISTINCT seq)::int FROM pgcdc_drasi.get_events('rs_q', 1, 9223372036854775807)$$,
	$$VALUES (3000, 1::bigint, 3000::bigint, 3000)$$, 'get_events returns every event of the range, each once');
SELECT results_eq($$SELECT count(*)::int, min(seq), max(seq) FROM pgcdc_drasi.get_events('rs_q', 999, 2001)$$,
	$$VALUES (1003, 999::bigint, 2001::bigint)$$, 'get_events across batch boundaries');
SELECT results_eq($$SELECT count(*)::int, min(seq), max(seq) FROM pgcdc_drasi.read('rs_c', 2500)$$,
	$$VALUES (2500, 1::bigint, 2500::bigint)$$, 'read stops at max_events across batches');
SELECT results_eq($$SELECT seq, element_id, payload -> 'payload' -> 'after', payload -> 'metadata' FROM pgcdc_drasi.read('rs_c', 2) UNION ALL SELECT seq, element_id, payload -> 'payload' -> 'after', payload -> 'metadata' FROM pgcdc_drasi.get_events('rs_q', 3000)$$,
	$$VALUES (1::bigint, 'rs_q:1', '{"n": 1, "id": "rs_q:1", "labels": ["rs_q"]}'::jsonb, '{"seq": 1, "xid": 1, "txIndex": 0}'::jsonb),
			 (2, 'rs_q:2', '{"n": 2, "id": "rs_q:2", "labels": ["rs_q"]}', '{"seq": 2, "xid": 1, "txIndex": 1}'),
			 (3000, 'rs_q:3000', '{"n": 3000, "id": "rs_q:3000", "labels": ["rs_q"]}', '{"seq": 3000, "xid": 1, "txIndex": 2999}')$$,
	'the streamed rows carry every column');

-- read() and get_events() unpack rows and build payloads in C; the view
-- does it in SQL (_unpack, _payload): the same rows, column for column,
-- for every kind of event: a snapshot's 't' (no element id), a relation
-- table's '_table', metadata.unavailable, a 'd' (before), an event too
-- large for a row of its own (in TOAST), and bodies whose keys sort
-- around id and labels, need escaping or repeat id and labels.  Assert
-- builds (all of the test runs) also compare, for each of them, the JSON
-- text the delivery workers send (written without jsonb) with the jsonb.
INSERT INTO pgcdc_drasi.queue_transactions (source_id, first_seq, tx_key, n_events, lsn, xid, commit_time, snapshot)
VALUES ('rs_q', 3001, 2, 6, '0/2A', '4294967301', '2026-01-02 03:04:05.678901+00', pg_current_snapshot());
INSERT INTO pgcdc_drasi.queue_events (tx_key, tx_index, n_events, source_id, events)
VALUES (2, 0, 2, 'rs_q',
		pgcdc_drasi._pack('t', 'rs_t', NULL, '{}', NULL, 1234567890123, 1234567890999) ||
		pgcdc_drasi._pack('i', 'KNOWS', 'rs_r:1', '{"w": 1.5, "_table": "rel"}', '["secret"]', 5, 6)),
	   (2, 2, 1, 'rs_q', pgcdc_drasi._pack('d', 'rs_t', 'rs_t:2', '{"k": null}', NULL, 7, 8)),
	   (2, 3, 1, 'rs_q',
		pgcdc_drasi._pack('u', 'rs_t', 'rs_t:3',
						  jsonb_build_object('big', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 4000) g)),
						  NULL, 9, 10)),
	   (2, 4, 2, 'rs_q',
		pgcdc_drasi._pack('u', 'rs_t', 'rs_t:4',
						  '{"a": false, "ab": "x\"y\n", "id": 0, "idd": 3, "lab": 4, "labels": 1, "labelz": [1, {"a": null}], "n": 1e30, "é": "ü\u0001"}',
						  '"scalar"', -1, 0) ||
		pgcdc_drasi._pack('t', 'rs_t', NULL, '{"id": "kept", "labels": 1}', NULL, 11, 12));
SELECT results_eq($$SELECT seq, source_id, lsn, xid, tx_index, commit_time, op, label, element_id, payload, snapshot::text
					  FROM pgcdc_drasi.get_events('rs_q', 3001, 3006)$$,
	$$SELECT seq, source_id, lsn, xid, tx_index, commit_time, op, label, element_id, payload, snapshot::text
		FROM pgcdc_drasi.events WHERE source_id = 'rs_q' AND seq BETWEEN 3001 AND 3006 ORDER BY seq$$,
	'get_events (unpacked in C) returns what the view returns (unpacked in SQL), column for column');
SELECT results_eq($$SELECT seq, tx_index, payload FROM pgcdc_drasi.get_events('rs_q', 2999, 3002)$$,
	$$SELECT seq, tx_index, payload FROM pgcdc_drasi.events
		WHERE source_id = 'rs_q' AND seq BETWEEN 2999 AND 3002 ORDER BY seq$$,
	'get_events from inside one row to inside a row of the next transaction');

-- Small transactions hold their events in their own row (events), with no
-- rows in queue_events, as the worker writes them: read from the middle
-- of one, across both kinds, and the view agrees column for column.
INSERT INTO pgcdc_drasi.queue_transactions (source_id, first_seq, tx_key, n_events, lsn, xid, commit_time, events)
VALUES ('rs_q', 3007, 3, 3, '0/2B', '4294967302', '2026-01-02 03:04:06+00',
		pgcdc_drasi._pack('i', 'rs_t', 'rs_t:5', '{"k": 5}', NULL, 13, 14) ||
		pgcdc_drasi._pack('u', 'rs_t', 'rs_t:6', '{"k": 6}', '["k"]', 15, 16) ||
		pgcdc_drasi._pack('d', 'rs_t', 'rs_t:7', '{"k": 7}', NULL, 17, 18)),
	   ('rs_q', 3010, 4, 1, '0/2C', '4294967303', '2026-01-02 03:04:07+00',
		pgcdc_drasi._pack('i', 'rs_t', 'rs_t:8', '{"k": 8}', NULL, 19, 20));
SELECT results_eq($$SELECT seq, source_id, lsn, xid, tx_index, commit_time, op, label, element_id, payload, snapshot::text
					  FROM pgcdc_drasi.get_events('rs_q', 3004, 3010)$$,
	$$SELECT seq, source_id, lsn, xid, tx_index, commit_time, op, label, element_id, payload, snapshot::text
		FROM pgcdc_drasi.events WHERE source_id = 'rs_q' AND seq >= 3004 ORDER BY seq$$,
	'get_events and the view agree on transactions holding their own events');
SELECT results_eq($$SELECT seq, tx_index, element_id, payload -> 'metadata' -> 'unavailable' FROM pgcdc_drasi.get_events('rs_q', 3008, 3010)$$,
	$$VALUES (3008::bigint, 1, 'rs_t:6', '["k"]'::jsonb), (3009, 2, 'rs_t:7', NULL), (3010, 0, 'rs_t:8', NULL)$$,
	'get_events from inside a transaction holding its own events');
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT rs_fetched() AS rs_f3 \gset
SELECT results_eq($$SELECT count(*)::int FROM pgcdc_drasi.get_events('rs_q', 3007, 3010)$$,
	$$VALUES (4)$$, 'get_events returns the events held in transaction rows');
SELECT is(rs_fetched() - :rs_f3, 0::bigint,
	'transactions holding their own events are read without looking into queue_events');
COMMIT;
-- A transaction row whose events retention removed, the row itself not
-- yet: nothing of it, and the next transaction's event.
INSERT INTO pgcdc_drasi.queue_transactions (source_id, first_seq, tx_key, n_events, lsn, xid, commit_time, events)
VALUES ('rs_q', 3011, 5, 1, '0/2D', '4294967304', '2026-01-02 03:04:08+00', NULL),
	   ('rs_q', 3012, 6, 1, '0/2E', '4294967305', '2026-01-02 03:04:09+00',
		pgcdc_drasi._pack('i', 'rs_t', 'rs_t:9', '{"k": 9}', NULL, 21, 22));
SELECT results_eq($$SELECT seq, element_id FROM pgcdc_drasi.get_events('rs_q', 3011, 3012)
					UNION ALL SELECT seq, element_id FROM pgcdc_drasi.events WHERE source_id = 'rs_q' AND seq > 3010$$,
	$$VALUES (3012::bigint, 'rs_t:9'), (3012, 'rs_t:9')$$,
	'a transaction row left without events gives no event, and the reads go on past it');

----------------------------------------------------------------------
-- clean up
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source(s) FROM unnest(ARRAY['rs_run', 'rs_drop', 'rs_ro', 'rs_q']) s$$,
	'drop the sources');

SELECT * FROM finish();

SET client_min_messages = warning;
SELECT count(*) AS rs_dummy FROM (
	SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
	WHERE slot_name LIKE 'pgcdc\_rs%') s \gset
DROP SCHEMA rs_evil CASCADE;
DROP PUBLICATION rs_rls_pub, rs_owned_pub, rs_plain_pub, rs_drop_pub, rs_hidden_pub, rs_ro_pub, rs_q_pub;
DROP TABLE rs_owned;
DROP OWNED BY rs_admin, rs_bypass, rs_owner;
DROP ROLE rs_admin, rs_bypass, rs_owner;
