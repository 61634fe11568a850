--
-- Upgrade from version 0.1: ALTER EXTENSION UPDATE keeps every source,
-- consumer, table option and queued event (moved into the compact queue,
-- read back with the same columns and payloads), the worker streams after
-- it, and the result has exactly the objects of a fresh install.
--
CREATE DATABASE pgcdc_upgrade;
\c pgcdc_upgrade
SET client_min_messages = warning;

CREATE EXTENSION pgcdc_drasi VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'pgcdc_drasi';

CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, secret text);
CREATE PUBLICATION up_pub FOR TABLE item;
INSERT INTO item VALUES (1, 'one', 's1');
-- configured before the worker starts, so the initial snapshot has it too
SELECT pgcdc_drasi.create_source('up', publication => 'up_pub', enabled => false);
SELECT pgcdc_drasi.set_table_label('up', 'item', 'Item');
SELECT pgcdc_drasi.set_excluded_columns('up', 'item', ARRAY['secret']);
SELECT pgcdc_drasi.set_table_key('up', 'item', ARRAY['id']);

-- This library's worker writes the 0.2 queue, so the source stays paused
-- until the update; what a 0.1 worker queued and a 0.1 consumer read is
-- written here as 0.1 wrote it: a snapshot event, then a transaction of
-- two events, the first acknowledged.
INSERT INTO pgcdc_drasi.events
	(seq, source_id, lsn, xid, tx_index, commit_time, op, label, element_id, payload, snapshot)
VALUES
	(1, 'up', '0/1A2B3C0', '740', 0, '2026-01-02 03:04:05.123456+00', 'i', 'Item', 'item:1',
	 '{"op": "i", "payload": {"after": {"id": "item:1", "labels": ["Item"], "properties": {"id": 1, "name": "one"}}, "source": {"db": "up", "lsn": 27440064, "table": "node", "ts_ns": 1767323045123456000}}, "metadata": {"seq": 1, "xid": 740, "txIndex": 0, "snapshot": true}, "reactivatorEnd_ns": 1767323045200000000, "reactivatorStart_ns": 1767323045100000000}',
	 '740:740:'),
	(2, 'up', '0/1A2B4D8', '741', 0, '2026-01-02 03:04:06.5+00', 'i', 'Item', 'item:2',
	 '{"op": "i", "payload": {"after": {"id": "item:2", "labels": ["Item"], "properties": {"id": 2, "name": "two"}}, "source": {"db": "up", "lsn": 27440344, "table": "node", "ts_ns": 1767323046500000000}}, "metadata": {"seq": 2, "xid": 741, "txIndex": 0}, "reactivatorEnd_ns": 1767323046600000000, "reactivatorStart_ns": 1767323046550000000}',
	 NULL),
	(3, 'up', '0/1A2B4D8', '741', 1, '2026-01-02 03:04:06.5+00', 'u', 'Item', 'item:1',
	 '{"op": "u", "payload": {"after": {"id": "item:1", "labels": ["Item"], "properties": {"id": 1, "name": "uno"}}, "source": {"db": "up", "lsn": 27440344, "table": "node", "ts_ns": 1767323046500000000}}, "metadata": {"seq": 3, "xid": 741, "txIndex": 1}, "reactivatorEnd_ns": 1767323046600000000, "reactivatorStart_ns": 1767323046550000000}',
	 NULL);
UPDATE pgcdc_drasi.source_progress SET last_seq = 3 WHERE source_id = 'up';
INSERT INTO pgcdc_drasi.consumers (consumer, source_id, acked_seq, owner)
VALUES ('reader', 'up', 0, (SELECT oid FROM pg_roles WHERE rolname = current_user));

-- what 0.1 holds
CREATE TEMP TABLE events_before AS
	SELECT seq, source_id, lsn, xid, tx_index, commit_time, op, label, element_id, payload,
		snapshot::text AS snapshot
	FROM pgcdc_drasi.events WHERE source_id = 'up';
SELECT seq, op, label, element_id, payload -> 'payload' -> 'after' AS after
FROM events_before ORDER BY seq;
SELECT pgcdc_drasi.ack('reader', 1);

-- a member of a role under 0.1 (USAGE came with the role)
CREATE ROLE regress_up_member;
GRANT pgcdc_drasi_reader TO regress_up_member;
SELECT has_schema_privilege('regress_up_member', 'pgcdc_drasi', 'USAGE') AS member_usage_01;
ALTER EXTENSION pgcdc_drasi UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pgcdc_drasi';
-- USAGE per database: the roles and so their members lose it (the
-- WARNING says how to give it back)
SELECT has_schema_privilege('pgcdc_drasi_reader', 'pgcdc_drasi', 'USAGE') AS reader_usage,
       has_schema_privilege('pgcdc_drasi_admin', 'pgcdc_drasi', 'USAGE') AS admin_usage,
       has_schema_privilege('regress_up_member', 'pgcdc_drasi', 'USAGE') AS member_usage;
DROP ROLE regress_up_member;

-- nothing lost: sources, progress, options, keys, consumers, events
SELECT source_id, publication, slot_name, enabled, sink, bootstrap, owner::regrole, failover
FROM pgcdc_drasi.sources;
SELECT source_id, last_seq, snapshot_lsn IS NOT NULL AS snapshot_taken FROM pgcdc_drasi.source_progress;
SELECT source_id, table_id, label, exclude_columns, exclude_attnums FROM pgcdc_drasi.table_options;
SELECT source_id, table_id, key_columns, key_attnums FROM pgcdc_drasi.table_keys;
SELECT consumer, source_id, acked_seq, lag_events FROM pgcdc_drasi.consumer_status;
-- every column and payload of the queued events as they were
SELECT count(*) AS events_kept FROM (
	SELECT seq, source_id, lsn, xid, tx_index, commit_time, op, label, element_id, payload,
		snapshot::text FROM pgcdc_drasi.events
	WHERE source_id = 'up'
	INTERSECT
	SELECT * FROM events_before) k;
-- stored once per transaction
SELECT source_id, first_seq, n_events, lsn, xid, snapshot FROM pgcdc_drasi.queue_transactions
ORDER BY first_seq;
SELECT seq, op, element_id FROM pgcdc_drasi.read('reader', 10);

-- the worker starts now: its initial snapshot follows the queued events
SELECT pgcdc_drasi.resume_source('up');
SELECT pgcdc_drasi.wait_for_catchup('up', '60s');
SELECT pgcdc_drasi.ack('reader', 3);

-- converted: owners are regrole (names in a dump), the raw publication oid
-- is gone, and the slot the worker made is recorded as the source's own
SELECT attrelid::regclass AS "table", attname, atttypid::regtype AS type
FROM pg_attribute
WHERE attrelid IN ('pgcdc_drasi.sources'::regclass, 'pgcdc_drasi.consumers'::regclass)
  AND attname IN ('owner', 'publication_oid') AND NOT attisdropped
ORDER BY attrelid, attname;
SELECT consumer, owner FROM pgcdc_drasi.consumers;
SELECT p.slot_lsn IS NOT NULL AND p.slot_lsn <= rs.confirmed_flush_lsn AS slot_recorded
FROM pgcdc_drasi.source_progress p
JOIN pgcdc_drasi.sources s USING (source_id)
JOIN pg_catalog.pg_replication_slots rs ON rs.slot_name = s.slot_name;

-- the worker streams on, seq stays contiguous, the new status columns exist
INSERT INTO item VALUES (3, 'three', 's3');
SELECT pgcdc_drasi.wait_for_catchup('up', '60s');
SELECT seq, op, element_id, payload -> 'payload' -> 'after' AS after
FROM pgcdc_drasi.read('reader', 10);
SELECT state, last_error, last_error_detail, last_error_hint, last_error_context
FROM pgcdc_drasi.status;

-- the updated extension has exactly the objects of a fresh install
CREATE FUNCTION pg_temp.extension_objects()
RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $$
	WITH members AS (
		SELECT d.classid, d.objid
		FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		  AND e.extname = 'pgcdc_drasi')
	SELECT pg_describe_object(m.classid, m.objid, 0),
		CASE m.classid
			WHEN 'pg_proc'::regclass THEN
				pg_get_functiondef(m.objid) || ' acl: ' ||
				coalesce((SELECT proacl::text FROM pg_proc WHERE oid = m.objid), '-')
			WHEN 'pg_class'::regclass THEN
				(SELECT relkind::text || ' ' || coalesce(reloptions::text, '-') || ' acl: ' ||
						coalesce(relacl::text, '-') FROM pg_class WHERE oid = m.objid) ||
				' columns: ' || coalesce((
					SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
									  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
									  coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '') ||
									  coalesce(' acl ' || a.attacl::text, ''), ', ' ORDER BY a.attnum)
					FROM pg_attribute a
					LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
					WHERE a.attrelid = m.objid AND a.attnum > 0 AND NOT a.attisdropped), '') ||
				' constraints: ' || coalesce((
					SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname)
					FROM pg_constraint WHERE conrelid = m.objid), '-') ||
				' indexes: ' || coalesce((
					SELECT string_agg(regexp_replace(pg_get_indexdef(indexrelid), 'INDEX \S+ ON', 'INDEX ON'),
									  ', ' ORDER BY 1)
					FROM pg_index WHERE indrelid = m.objid), '-') ||
				' triggers: ' || coalesce((
					SELECT string_agg(pg_get_triggerdef(oid), ', ' ORDER BY tgname)
					FROM pg_trigger WHERE tgrelid = m.objid AND NOT tgisinternal), '-') ||
				coalesce(' view: ' || pg_get_viewdef(m.objid), '')
			WHEN 'pg_event_trigger'::regclass THEN
				(SELECT evtevent || ' ' || evtfoid::regproc || ' ' || coalesce(evttags::text, '-')
				 FROM pg_event_trigger WHERE oid = m.objid)
			ELSE ''
		END
	FROM members m
	UNION ALL
	SELECT 'dumped configuration',
		(SELECT string_agg(c::regclass::text, ', ' ORDER BY c::regclass::text)
		 FROM pg_extension, unnest(extconfig) c WHERE extname = 'pgcdc_drasi')
$$;
CREATE TEMP TABLE updated AS SELECT * FROM pg_temp.extension_objects();
-- (PostgreSQL 18 also records the row types of the tables and views as
-- members: they are left out of the count, not out of the comparison)
SELECT count(*) FILTER (WHERE object NOT LIKE 'type %') AS objects,
	count(*) FILTER (WHERE object LIKE 'function %') AS functions,
	count(*) FILTER (WHERE object LIKE 'table %') AS tables,
	count(*) FILTER (WHERE object LIKE 'view %') AS views
FROM updated;

SELECT pgcdc_drasi.drop_source('up');
-- the recorded slot went with the source
SELECT count(*) AS slots_left FROM pg_replication_slots WHERE slot_name = 'pgcdc_up';
DROP EXTENSION pgcdc_drasi;
CREATE EXTENSION pgcdc_drasi;
SELECT extversion FROM pg_extension WHERE extname = 'pgcdc_drasi';
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.extension_objects();

-- no difference either way
CREATE VIEW pg_temp.differences AS
SELECT 'only after update' AS side, object FROM (SELECT * FROM updated EXCEPT SELECT * FROM fresh) u
UNION ALL
SELECT 'only in fresh install', object FROM (SELECT * FROM fresh EXCEPT SELECT * FROM updated) f;
SELECT * FROM pg_temp.differences ORDER BY 1, 2;

-- the comparison sees a missing grant (so it would see a missing line of
-- an upgrade script)
REVOKE SELECT ON pgcdc_drasi.status FROM pgcdc_drasi_reader;
CREATE TEMP TABLE fresh_without_grant AS SELECT * FROM pg_temp.extension_objects();
SELECT count(*) AS objects_that_differ FROM (
	SELECT * FROM fresh EXCEPT SELECT * FROM fresh_without_grant) d;
GRANT SELECT ON pgcdc_drasi.status TO pgcdc_drasi_reader;

\c contrib_regression
DROP DATABASE pgcdc_upgrade WITH (FORCE);
