-- 010_api.sql: the SQL API of pgcdc_drasi: its schema objects, roles and
-- the happy path of every function, down to the replication slot, the
-- replication origin and the events a change produces.
--
-- No enclosing transaction: create_source refuses to run in a transaction
-- that has already written data, and the launcher acts only on committed
-- configuration.  Every object this file creates in the cluster (slots,
-- origins) starts with "api" and is dropped at the end.
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

CREATE TABLE api_orders (id int PRIMARY KEY, status text, amount numeric(10,2));
CREATE TABLE api_users (id int PRIMARY KEY, email text NOT NULL, name text);
ALTER TABLE api_users REPLICA IDENTITY FULL;
CREATE PUBLICATION api_pub FOR TABLE api_orders, api_users;

SELECT plan(242);

----------------------------------------------------------------------
-- Schema objects
----------------------------------------------------------------------
SELECT has_schema('pgcdc_drasi', 'schema pgcdc_drasi exists');
SELECT tables_are('pgcdc_drasi',
	ARRAY['sources', 'source_progress', 'snapshot_requests', 'consumers', 'table_keys', 'table_options', 'queue_transactions', 'queue_events', 'targets',
	      'source_redis', 'relation_options', 'relations', 'table_modes'],
	'pgcdc_drasi has exactly the tables sources, source_progress, snapshot_requests, consumers, table_keys, table_options, queue_transactions, queue_events, targets, source_redis, relation_options, relations, table_modes');
SELECT views_are('pgcdc_drasi', ARRAY['events', 'status', 'consumer_status', 'target_status'],
	'pgcdc_drasi has exactly the views events, status, consumer_status and target_status');
SELECT results_eq(
	$$SELECT c.relname::text COLLATE "default", d.refobjid::regclass::text, a.attname::text COLLATE "default"
	  FROM pg_class c
	  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'
	                       AND d.refclassid = 'pg_class'::regclass
	  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	  WHERE c.relnamespace = 'pgcdc_drasi'::regnamespace AND c.relkind = 'S'$$,
	$$VALUES ('snapshot_requests_request_id_seq', 'pgcdc_drasi.snapshot_requests', 'request_id')$$,
	'the only sequence of pgcdc_drasi is the one of snapshot_requests.request_id (seq is numbered per source, not by a global sequence)');
SELECT col_hasnt_default('pgcdc_drasi', 'events', 'seq', 'events.seq has no default (the worker numbers events per source)');

-- sources
SELECT columns_are('pgcdc_drasi', 'sources',
	ARRAY['source_id', 'publication', 'slot_name', 'origin_name', 'conninfo', 'enabled', 'sink', 'channel',
	      'notify_payload', 'bootstrap', 'numeric_as_string', 'owner', 'created_at', 'failover'],
	'sources has the expected columns');
SELECT results_eq(
	$$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod), attnotnull
	  FROM pg_attribute WHERE attrelid = 'pgcdc_drasi.sources'::regclass AND attnum > 0 AND NOT attisdropped
	  ORDER BY attnum$$,
	$$VALUES ('source_id', 'text', true), ('publication', 'name', true), ('slot_name', 'name', true),
	         ('origin_name', 'text', true), ('conninfo', 'text', false), ('enabled', 'boolean', true),
	         ('sink', 'text', true), ('channel', 'text', true), ('notify_payload', 'text', true),
	         ('bootstrap', 'boolean', true), ('numeric_as_string', 'boolean', true), ('owner', 'regrole', true),
	         ('created_at', 'timestamp with time zone', true), ('failover', 'boolean', true)$$,
	'sources: column order, types and nullability');
SELECT col_type_is('pgcdc_drasi', 'sources', 'source_id', 'text', 'sources.source_id is text');
SELECT col_type_is('pgcdc_drasi', 'sources', 'publication', 'name', 'sources.publication is name');
SELECT col_type_is('pgcdc_drasi', 'sources', 'slot_name', 'name', 'sources.slot_name is name');
SELECT col_type_is('pgcdc_drasi', 'sources', 'origin_name', 'text', 'sources.origin_name is text');
SELECT col_type_is('pgcdc_drasi', 'sources', 'conninfo', 'text', 'sources.conninfo is text');
SELECT col_type_is('pgcdc_drasi', 'sources', 'enabled', 'boolean', 'sources.enabled is boolean');
SELECT col_type_is('pgcdc_drasi', 'sources', 'sink', 'text', 'sources.sink is text');
SELECT col_type_is('pgcdc_drasi', 'sources', 'channel', 'text', 'sources.channel is text');
SELECT col_type_is('pgcdc_drasi', 'sources', 'notify_payload', 'text', 'sources.notify_payload is text');
SELECT col_type_is('pgcdc_drasi', 'sources', 'bootstrap', 'boolean', 'sources.bootstrap is boolean');
SELECT col_type_is('pgcdc_drasi', 'sources', 'numeric_as_string', 'boolean', 'sources.numeric_as_string is boolean');
SELECT col_type_is('pgcdc_drasi', 'sources', 'owner', 'regrole', 'sources.owner is regrole');
SELECT col_type_is('pgcdc_drasi', 'sources', 'created_at', 'timestamp with time zone', 'sources.created_at is timestamptz');
SELECT col_type_is('pgcdc_drasi', 'sources', 'failover', 'boolean', 'sources.failover is boolean');
SELECT col_is_pk('pgcdc_drasi', 'sources', 'source_id', 'sources primary key is source_id');
SELECT col_is_unique('pgcdc_drasi', 'sources', 'slot_name', 'sources.slot_name is unique');
SELECT col_is_unique('pgcdc_drasi', 'sources', 'origin_name', 'sources.origin_name is unique');
SELECT col_default_is('pgcdc_drasi', 'sources', 'enabled', 'true', 'sources.enabled defaults to true');
SELECT col_is_null('pgcdc_drasi', 'sources', 'conninfo', 'sources.conninfo is nullable');
SELECT col_default_is('pgcdc_drasi', 'sources', 'sink', 'queue', 'sources.sink defaults to queue');
SELECT col_default_is('pgcdc_drasi', 'sources', 'notify_payload', 'full', 'sources.notify_payload defaults to full');
SELECT col_default_is('pgcdc_drasi', 'sources', 'bootstrap', 'true', 'sources.bootstrap defaults to true');
SELECT col_default_is('pgcdc_drasi', 'sources', 'numeric_as_string', 'false', 'sources.numeric_as_string defaults to false');
SELECT col_default_is('pgcdc_drasi', 'sources', 'failover', 'false', 'sources.failover defaults to false');
SELECT col_not_null('pgcdc_drasi', 'sources', 'channel', 'sources.channel is NOT NULL');
SELECT results_eq(
	$$SELECT conname::text COLLATE "default", pg_get_constraintdef(oid) FROM pg_constraint
	  WHERE conrelid = 'pgcdc_drasi.sources'::regclass AND contype = 'c' ORDER BY 1$$,
	$$VALUES ('sources_notify_payload_check', 'CHECK ((notify_payload = ANY (ARRAY[''full''::text, ''wakeup''::text])))'),
	         ('sources_sink_check', 'CHECK ((sink = ANY (ARRAY[''queue''::text, ''notify''::text, ''both''::text, ''redis''::text])))')$$,
	'sources: CHECK constraints on sink and notify_payload');
SELECT has_trigger('pgcdc_drasi', 'sources', 'sources_changed', 'sources has the trigger sources_changed');

-- table_keys
SELECT columns_are('pgcdc_drasi', 'table_keys', ARRAY['source_id', 'table_id', 'key_columns', 'key_attnums'],
	'table_keys has the expected columns');
SELECT col_type_is('pgcdc_drasi', 'table_keys', 'source_id', 'text', 'table_keys.source_id is text');
SELECT col_type_is('pgcdc_drasi', 'table_keys', 'table_id', 'regclass', 'table_keys.table_id is regclass');
SELECT col_type_is('pgcdc_drasi', 'table_keys', 'key_columns', 'text[]', 'table_keys.key_columns is text[]');
SELECT col_type_is('pgcdc_drasi', 'table_keys', 'key_attnums', 'smallint[]', 'table_keys.key_attnums is smallint[]');
SELECT col_is_pk('pgcdc_drasi', 'table_keys', ARRAY['source_id', 'table_id'],
	'table_keys primary key is (source_id, table_id)');
SELECT fk_ok('pgcdc_drasi', 'table_keys', 'source_id', 'pgcdc_drasi', 'sources', 'source_id',
	'table_keys.source_id references sources');

-- table_options
SELECT results_eq(
	$$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod), attnotnull
	  FROM pg_attribute WHERE attrelid = 'pgcdc_drasi.table_options'::regclass AND attnum > 0 AND NOT attisdropped
	  ORDER BY attnum$$,
	$$VALUES ('source_id', 'text', true), ('table_id', 'regclass', true), ('label', 'text', false),
	         ('exclude_columns', 'text[]', false), ('exclude_attnums', 'smallint[]', false)$$,
	'table_options: columns, types and nullability');
SELECT col_is_pk('pgcdc_drasi', 'table_options', ARRAY['source_id', 'table_id'],
	'table_options primary key is (source_id, table_id)');
SELECT fk_ok('pgcdc_drasi', 'table_options', 'source_id', 'pgcdc_drasi', 'sources', 'source_id',
	'table_options.source_id references sources');

-- source_progress
SELECT columns_are('pgcdc_drasi', 'source_progress',
	ARRAY['source_id', 'last_seq', 'snapshot_lsn', 'resnapshot', 'resnapshot_tables', 'resnapshot_until', 'slot_lsn'],
	'source_progress has the expected columns');
SELECT results_eq(
	$$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod), attnotnull
	  FROM pg_attribute WHERE attrelid = 'pgcdc_drasi.source_progress'::regclass AND attnum > 0 AND NOT attisdropped
	  ORDER BY attnum$$,
	$$VALUES ('source_id', 'text', true), ('last_seq', 'bigint', true), ('snapshot_lsn', 'pg_lsn', false),
	         ('resnapshot', 'pg_snapshot', false), ('resnapshot_tables', 'oid[]', false),
	         ('resnapshot_until', 'pg_lsn', false), ('slot_lsn', 'pg_lsn', false)$$,
	'source_progress: column order, types and nullability');
SELECT col_default_is('pgcdc_drasi', 'source_progress', 'last_seq', '0', 'source_progress.last_seq defaults to 0');
SELECT col_is_pk('pgcdc_drasi', 'source_progress', 'source_id', 'source_progress primary key is source_id');
SELECT fk_ok('pgcdc_drasi', 'source_progress', 'source_id', 'pgcdc_drasi', 'sources', 'source_id',
	'source_progress.source_id references sources');

-- snapshot_requests
SELECT results_eq(
	$$SELECT a.attname::text COLLATE "default", format_type(a.atttypid, a.atttypmod), a.attnotnull,
	         pg_get_expr(d.adbin, d.adrelid) COLLATE "default"
	  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	  WHERE a.attrelid = 'pgcdc_drasi.snapshot_requests'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	  ORDER BY a.attnum$$,
	$$VALUES ('request_id', 'bigint', true, 'nextval(''pgcdc_drasi.snapshot_requests_request_id_seq''::regclass)'),
	         ('source_id', 'text', true, NULL), ('tables', 'oid[]', false, NULL),
	         ('resync', 'boolean', true, 'false'), ('requested_at', 'timestamp with time zone', true, 'now()')$$,
	'snapshot_requests: columns, types, nullability and defaults (request_id is a bigserial)');
SELECT col_is_pk('pgcdc_drasi', 'snapshot_requests', 'request_id', 'snapshot_requests primary key is request_id');
SELECT fk_ok('pgcdc_drasi', 'snapshot_requests', 'source_id', 'pgcdc_drasi', 'sources', 'source_id',
	'snapshot_requests.source_id references sources');

-- consumers
SELECT columns_are('pgcdc_drasi', 'consumers',
	ARRAY['consumer', 'source_id', 'acked_seq', 'snapshot', 'owner', 'created_at', 'acked_at'],
	'consumers has the expected columns');
SELECT results_eq(
	$$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod), attnotnull
	  FROM pg_attribute WHERE attrelid = 'pgcdc_drasi.consumers'::regclass AND attnum > 0 AND NOT attisdropped
	  ORDER BY attnum$$,
	$$VALUES ('consumer', 'text', true), ('source_id', 'text', true), ('acked_seq', 'bigint', true),
	         ('snapshot', 'pg_snapshot', false), ('owner', 'regrole', true),
	         ('created_at', 'timestamp with time zone', true), ('acked_at', 'timestamp with time zone', false)$$,
	'consumers: column types and nullability');
SELECT col_is_pk('pgcdc_drasi', 'consumers', 'consumer', 'consumers primary key is consumer');
SELECT fk_ok('pgcdc_drasi', 'consumers', 'source_id', 'pgcdc_drasi', 'sources', 'source_id',
	'consumers.source_id references sources');
SELECT has_index('pgcdc_drasi', 'consumers', 'consumers_source_id_idx', 'source_id',
	'consumers has an index on source_id (retention looks consumers up by source)');
SELECT results_eq(
	$$SELECT conrelid::regclass::text, confrelid::regclass::text, confdeltype::text FROM pg_constraint
	  WHERE connamespace = 'pgcdc_drasi'::regnamespace AND contype = 'f' ORDER BY 1$$,
	$$VALUES ('pgcdc_drasi.consumers', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.relation_options', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.relations', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.snapshot_requests', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.source_progress', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.source_redis', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.table_keys', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.table_modes', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.table_options', 'pgcdc_drasi.sources', 'c'),
	         ('pgcdc_drasi.targets', 'pgcdc_drasi.sources', 'c')$$,
	'every foreign key references sources and is ON DELETE CASCADE');
SELECT results_eq(
	$$SELECT e.objid::regclass::text FROM pg_extension x
	  CROSS JOIN LATERAL unnest(x.extconfig) AS e(objid) WHERE x.extname = 'pgcdc_drasi' ORDER BY 1$$,
	$$VALUES ('pgcdc_drasi.consumers'), ('pgcdc_drasi.relation_options'), ('pgcdc_drasi.relations'),
	         ('pgcdc_drasi.source_progress'), ('pgcdc_drasi.source_redis'), ('pgcdc_drasi.sources'),
	         ('pgcdc_drasi.table_keys'), ('pgcdc_drasi.table_modes'), ('pgcdc_drasi.table_options'),
	         ('pgcdc_drasi.targets')$$,
	'pg_dump dumps the configuration tables (not the queue, nor pending snapshot requests)');

-- events
SELECT columns_are('pgcdc_drasi', 'events',
	ARRAY['seq', 'source_id', 'lsn', 'xid', 'tx_index', 'commit_time', 'op', 'label', 'element_id', 'payload',
	      'snapshot'],
	'events has the expected columns');
SELECT col_type_is('pgcdc_drasi', 'events', 'seq', 'bigint', 'events.seq is bigint');
SELECT col_type_is('pgcdc_drasi', 'events', 'source_id', 'text', 'events.source_id is text');
SELECT col_type_is('pgcdc_drasi', 'events', 'lsn', 'pg_lsn', 'events.lsn is pg_lsn');
SELECT col_type_is('pgcdc_drasi', 'events', 'xid', 'xid8', 'events.xid is xid8');
SELECT col_type_is('pgcdc_drasi', 'events', 'tx_index', 'integer', 'events.tx_index is integer');
SELECT col_type_is('pgcdc_drasi', 'events', 'commit_time', 'timestamp with time zone', 'events.commit_time is timestamptz');
SELECT col_type_is('pgcdc_drasi', 'events', 'op', 'text', 'events.op is text');
SELECT col_type_is('pgcdc_drasi', 'events', 'label', 'text', 'events.label is text');
SELECT col_type_is('pgcdc_drasi', 'events', 'element_id', 'text', 'events.element_id is text');
SELECT col_type_is('pgcdc_drasi', 'events', 'payload', 'jsonb', 'events.payload is jsonb');
SELECT col_type_is('pgcdc_drasi', 'events', 'snapshot', 'pg_snapshot', 'events.snapshot is pg_snapshot');
SELECT col_is_pk('pgcdc_drasi', 'queue_transactions', ARRAY['source_id', 'first_seq'], 'queue_transactions primary key is (source_id, first_seq)');
SELECT col_is_pk('pgcdc_drasi', 'queue_events', ARRAY['source_id', 'tx_key', 'tx_index'], 'queue_events primary key is (source_id, tx_key, tx_index)');
SELECT col_is_null('pgcdc_drasi', 'events', 'element_id', 'events.element_id is nullable (truncate events)');
SELECT col_is_null('pgcdc_drasi', 'events', 'snapshot', 'events.snapshot is nullable (set on snapshot events only)');

-- The view over 20,000 one-event transactions written just now (tables
-- not analyzed): each transaction fetches its events by the primary key
-- of queue_events, never a loop over sequential scans.
INSERT INTO pgcdc_drasi.queue_transactions (source_id, first_seq, tx_key, n_events, lsn, xid, commit_time)
SELECT 'api-plan', g, g + 7, 1, '0/10', '7', '2026-01-01 00:00:00+00' FROM generate_series(1, 20000) g;
INSERT INTO pgcdc_drasi.queue_events (tx_key, tx_index, n_events, source_id, events)
SELECT g + 7, 0, 1, 'api-plan',
	   pgcdc_drasi._pack('i', CASE WHEN g % 4 = 0 THEN 'A' ELSE 'B' END, 'A:' || g, '{"properties": {}}', NULL, 1, 2)
FROM generate_series(1, 20000) g;
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	plan text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		plan := plan || line || E'\n';
	END LOOP;
	RETURN plan;
END
$$;
SELECT matches(pg_temp.plan_of($$SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'api-plan' AND label = 'A'$$),
	'Index Scan using queue_events_pkey on queue_events',
	'the events view reaches events through the primary key of queue_events, statistics or not');
SELECT is((SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'api-plan' AND label = 'A'), 5000::bigint,
	'the events view counts the events of its transactions');
SELECT is((SELECT sum(seq) FROM pgcdc_drasi.events WHERE source_id = 'api-plan'), 200010000::numeric,
	'seq = first_seq + tx_index over the view');
DELETE FROM pgcdc_drasi.queue_events WHERE source_id = 'api-plan';
DELETE FROM pgcdc_drasi.queue_transactions WHERE source_id = 'api-plan';

-- the payload assembled from a queue row: a relation's (payload.source.table "rel") as well
SELECT is(pgcdc_drasi._payload('i', 'L', 'L:1', '{"_table": "rel", "endId": "a", "startId": "b", "properties": {}}',
								NULL, 1, 2, 's', '0/10', '2026-01-01 00:00:00+00', 5, '7', 0, false),
	'{"op": "i", "payload": {"after": {"id": "L:1", "endId": "a", "labels": ["L"], "startId": "b", "properties": {}},
	  "source": {"db": "s", "lsn": 16, "table": "rel", "ts_ns": 1767225600000000000}},
	  "metadata": {"seq": 5, "xid": 7, "txIndex": 0}, "reactivatorEnd_ns": 2, "reactivatorStart_ns": 1}'::jsonb,
	'_payload puts back id, labels, source, metadata and the build times');

-- the packed events of a queue row: entries concatenate, come back in order, cut exactly
SELECT results_eq(
	$$SELECT i, op, label, element_id, body, unavailable, start_ns, end_ns
	  FROM pgcdc_drasi._unpack(pgcdc_drasi._pack('i', 'L', 'L:1', '{"properties": {"a": 1}}', NULL, 1, 2)
							   || pgcdc_drasi._pack('t', repeat('x', 300), NULL, '{}', '["v"]', -5, 9223372036854775807)
							   || pgcdc_drasi._pack('d', 'L', 'L:2', '{"properties": {}}', NULL, 3, 4))$$,
	$$VALUES (1, 'i', 'L', 'L:1', '{"properties": {"a": 1}}'::jsonb, NULL::jsonb, 1::bigint, 2::bigint),
			 (2, 't', repeat('x', 300), NULL, '{}', '["v"]', -5, 9223372036854775807),
			 (3, 'd', 'L', 'L:2', '{"properties": {}}', NULL, 3, 4)$$,
	'_unpack returns the packed events in order, every value as packed');
SELECT results_eq(
	$$SELECT i, element_id FROM pgcdc_drasi._unpack(pgcdc_drasi._slice(
		pgcdc_drasi._pack('i', 'L', 'L:1', '{}', NULL, 1, 2) || pgcdc_drasi._pack('i', 'L', 'L:2', '{}', '[]', 1, 2)
		|| pgcdc_drasi._pack('i', 'L', 'L:3', '{}', NULL, 1, 2), 1, 1))$$,
	$$VALUES (1, 'L:2')$$,
	'_slice keeps the events asked for');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi._unpack('\x6901'::bytea)$$,
	'XX001', 'invalid packed events in pgcdc_drasi.queue_events', '_unpack refuses a row that is not a sequence of entries');
SELECT throws_ok($$SELECT pgcdc_drasi._slice(pgcdc_drasi._pack('i', 'L', 'L:1', '{}', NULL, 1, 2), 0, 2)$$,
	'XX001', 'invalid packed events in pgcdc_drasi.queue_events', '_slice refuses to keep more events than the row has');
SELECT throws_ok($$SELECT pgcdc_drasi._slice(pgcdc_drasi._pack('i', 'L', 'L:1', '{}', NULL, 1, 2), -1, 1)$$,
	'22023', 'cannot cut 1 events after -1 from a queue row', '_slice refuses a negative count');
SELECT throws_ok($$SELECT pgcdc_drasi._pack('x', 'L', 'L:1', '{}', NULL, 1, 2)$$,
	'22023', 'invalid event op "x"', '_pack refuses an unknown op');
SELECT throws_ok($$SELECT pgcdc_drasi._pack('i', NULL, 'L:1', '{}', NULL, 1, 2)$$,
	'22004', 'only element_id and unavailable of a packed event can be NULL', '_pack refuses a NULL label');

-- status view: names, types and order of its columns
SELECT results_eq(
	$$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod)
	  FROM pg_attribute
	  WHERE attrelid = 'pgcdc_drasi.status'::regclass AND attnum > 0 AND NOT attisdropped
	  ORDER BY attnum$$,
	$$VALUES ('source_id', 'text'), ('enabled', 'boolean'), ('state', 'text'), ('pid', 'integer'),
	         ('slot_name', 'name'), ('publication', 'name'), ('received_lsn', 'pg_lsn'),
	         ('published_lsn', 'pg_lsn'), ('confirmed_lsn', 'pg_lsn'), ('lag_bytes', 'bigint'),
	         ('events_published', 'bigint'), ('transactions_published', 'bigint'),
	         ('last_commit_time', 'timestamp with time zone'), ('last_error', 'text'),
	         ('last_error_detail', 'text'), ('last_error_hint', 'text'), ('last_error_context', 'text'),
	         ('last_error_time', 'timestamp with time zone'), ('reconnects', 'bigint'),
	         ('started_at', 'timestamp with time zone'), ('sink', 'text'), ('channel', 'text'),
	         ('notify_payload', 'text'), ('last_seq', 'bigint'), ('notifications_sent', 'bigint'),
	         ('notifications_skipped', 'bigint'), ('bootstrap', 'boolean'), ('failover', 'boolean'),
	         ('snapshot_lsn', 'pg_lsn'),
	         ('snapshot_table', 'text'), ('snapshot_rows_done', 'bigint'), ('snapshot_rows_total', 'bigint'),
	         ('key_fallbacks', 'bigint'), ('values_unavailable', 'bigint'), ('waiting_for', 'text'), ('slot_wal_status', 'text'),
	         ('slot_invalidation_reason', 'text')$$,
	'status view has the expected columns, types and order');

-- consumer_status view
SELECT results_eq(
	$$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod)
	  FROM pg_attribute
	  WHERE attrelid = 'pgcdc_drasi.consumer_status'::regclass AND attnum > 0 AND NOT attisdropped
	  ORDER BY attnum$$,
	$$VALUES ('consumer', 'text'), ('source_id', 'text'), ('owner', 'regrole'), ('acked_seq', 'bigint'),
	         ('last_seq', 'bigint'), ('lag_events', 'bigint'), ('created_at', 'timestamp with time zone'),
	         ('acked_at', 'timestamp with time zone')$$,
	'consumer_status view has the expected columns, types and order');

-- functions: exact list, signatures (with defaults), return types, strictness
SELECT functions_are('pgcdc_drasi',
	ARRAY['_sources_changed', '_snapshot_within', '_payload', '_guard_publication_drop', '_guard_ddl',
	      '_unpack', '_slice', '_pack',
	      'create_source', 'alter_source', 'drop_source', 'pause_source', 'resume_source', 'resync_source',
	      'set_table_key', 'drop_table_key', 'set_table_label', 'set_excluded_columns', 'wait_for_catchup',
	      'source_status', 'create_consumer', 'drop_consumer', 'read', 'ack', 'get_events', 'bootstrap',
	      'resnapshot', 'create_target', 'alter_target', 'pause_target', 'resume_target', 'drop_target',
	      'target_worker_status', 'set_relations', 'set_relation', 'drop_relation', 'set_table_mode',
	      'set_source_redis'],
	'pgcdc_drasi has exactly the expected functions');
SELECT results_eq(
	$$SELECT p.proname::text COLLATE "default", pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
	         p.proisstrict, p.provolatile::text, p.prosecdef
	  FROM pg_proc p
	  WHERE p.pronamespace = 'pgcdc_drasi'::regnamespace
	  ORDER BY p.proname$$,
	$$VALUES
	  ('_guard_ddl', '', 'event_trigger', false, 'v', false),
	  ('_guard_publication_drop', '', 'event_trigger', false, 'v', true),
	  ('_pack', 'op text, label text, element_id text, body jsonb, unavailable jsonb, start_ns bigint, end_ns bigint',
	   'bytea', false, 'i', false),
	  ('_payload', 'op text, label text, element_id text, body jsonb, unavailable jsonb, start_ns bigint, end_ns bigint, source_id text, lsn pg_lsn, commit_time timestamp with time zone, seq bigint, xid xid8, tx_index integer, snapshot boolean',
	   'jsonb', false, 'i', false),
	  ('_slice', 'events bytea, skip integer, keep integer', 'bytea', true, 'i', false),
	  ('_snapshot_within', 'a pg_snapshot, b pg_snapshot', 'boolean', true, 'i', false),
	  ('_sources_changed', '', 'trigger', false, 'v', false),
	  ('_unpack', 'events bytea, OUT i integer, OUT op text, OUT label text, OUT element_id text, OUT body jsonb, OUT unavailable jsonb, OUT start_ns bigint, OUT end_ns bigint',
	   'SETOF record', true, 'i', false),
	  ('ack', 'consumer text, seq bigint', 'void', false, 'v', false),
	  ('alter_source',
	   'source_id text, sink text DEFAULT NULL::text, channel text DEFAULT NULL::text, notify_payload text DEFAULT NULL::text, numeric_as_string boolean DEFAULT NULL::boolean, failover boolean DEFAULT NULL::boolean',
	   'void', false, 'v', false),
	  ('alter_target', 'target_id text, url text DEFAULT NULL::text, options jsonb DEFAULT NULL::jsonb',
	   'void', false, 'v', false),
	  ('bootstrap', 'source_id text, labels text[] DEFAULT NULL::text[]', 'SETOF jsonb', false, 'v', false),
	  ('create_consumer',
	   'consumer text, source_id text, start_at text DEFAULT ''earliest''::text, bootstrap boolean DEFAULT false',
	   'void', false, 'v', false),
	  ('create_source',
	   'source_id text, publication text DEFAULT ''drasi_publication''::text, slot_name text DEFAULT NULL::text, conninfo text DEFAULT NULL::text, enabled boolean DEFAULT true, sink text DEFAULT ''queue''::text, channel text DEFAULT NULL::text, notify_payload text DEFAULT ''full''::text, bootstrap boolean DEFAULT true, numeric_as_string boolean DEFAULT false, failover boolean DEFAULT false',
	   'void', false, 'v', false),
	  ('create_target',
	   'target_id text, source_id text, kind text DEFAULT ''redis''::text, url text DEFAULT NULL::text, options jsonb DEFAULT ''{}''::jsonb',
	   'void', false, 'v', false),
	  ('drop_consumer', 'consumer text', 'void', false, 'v', false),
	  ('drop_relation', 'source_id text, "table" regclass, label text', 'void', false, 'v', false),
	  ('drop_source', 'source_id text', 'void', false, 'v', false),
	  ('drop_table_key', 'source_id text, "table" regclass', 'void', false, 'v', false),
	  ('drop_target', 'target_id text', 'void', false, 'v', false),
	  ('get_events', 'source_id text, first_seq bigint, last_seq bigint DEFAULT NULL::bigint',
	   'SETOF pgcdc_drasi.events', false, 'v', false),
	  ('pause_source', 'source_id text', 'void', false, 'v', false),
	  ('pause_target', 'target_id text', 'void', false, 'v', false),
	  ('read', 'consumer text, max_events integer DEFAULT 100', 'SETOF pgcdc_drasi.events', false, 'v', false),
	  ('resnapshot', 'source_id text, tables regclass[] DEFAULT NULL::regclass[]', 'void', false, 'v', false),
	  ('resume_source', 'source_id text', 'void', false, 'v', false),
	  ('resume_target', 'target_id text', 'void', false, 'v', false),
	  ('resync_source', 'source_id text, snapshot boolean DEFAULT true', 'void', false, 'v', false),
	  ('set_excluded_columns', 'source_id text, "table" regclass, columns text[]', 'void', false, 'v', false),
	  ('set_relation',
	   'source_id text, "table" regclass, columns text[], references_table regclass, label text DEFAULT NULL::text',
	   'void', false, 'v', false),
	  ('set_relations', 'source_id text, relations text', 'void', false, 'v', false),
	  ('set_source_redis', 'source_id text, url text, options jsonb DEFAULT ''{}''::jsonb', 'void', false, 'v', false),
	  ('set_table_key', 'source_id text, "table" regclass, key_columns text[]', 'void', false, 'v', false),
	  ('set_table_label', 'source_id text, "table" regclass, label text', 'void', false, 'v', false),
	  ('set_table_mode', 'source_id text, "table" regclass, mode text', 'void', false, 'v', false),
	  ('source_status',
	   'OUT source_id text, OUT state text, OUT pid integer, OUT received_lsn pg_lsn, OUT published_lsn pg_lsn, OUT flushed_lsn pg_lsn, OUT events_published bigint, OUT transactions_published bigint, OUT last_commit_time timestamp with time zone, OUT last_error text, OUT last_error_time timestamp with time zone, OUT reconnects bigint, OUT started_at timestamp with time zone, OUT notifications_sent bigint, OUT notifications_skipped bigint, OUT snapshot_table text, OUT snapshot_rows_done bigint, OUT snapshot_rows_total bigint, OUT last_error_detail text, OUT last_error_hint text, OUT last_error_context text, OUT key_fallbacks bigint, OUT values_unavailable bigint, OUT waiting_for text',
	   'SETOF record', false, 'v', false),
	  ('target_worker_status',
	   'OUT target_id text, OUT state text, OUT pid integer, OUT events_delivered bigint, OUT duplicates_skipped bigint, OUT retries bigint, OUT reconnects bigint, OUT last_delivery_time timestamp with time zone, OUT last_error text, OUT last_error_detail text, OUT last_error_time timestamp with time zone, OUT started_at timestamp with time zone',
	   'SETOF record', false, 'v', false),
	  ('wait_for_catchup', 'source_id text, timeout interval DEFAULT ''00:00:30''::interval', 'void', false, 'v', false)$$,
	'functions have the expected arguments, defaults, results, strictness, volatility; SECURITY DEFINER only for the two event-trigger guards');
SELECT has_function('pgcdc_drasi', 'create_source',
	ARRAY['text', 'text', 'text', 'text', 'boolean', 'text', 'text', 'text', 'boolean', 'boolean', 'boolean'],
	'create_source(text, text, text, text, boolean, text, text, text, boolean, boolean, boolean) exists');
SELECT hasnt_function('pgcdc_drasi', 'create_source',
	ARRAY['text', 'text', 'text', 'text', 'boolean', 'text', 'text', 'text', 'boolean', 'boolean'],
	'the ten-argument create_source of 0.1 is gone (no ambiguous overload)');
SELECT hasnt_function('pgcdc_drasi', 'create_source', ARRAY['text', 'text', 'text', 'text', 'boolean', 'text', 'text', 'text'],
	'the old eight-argument create_source is gone (no ambiguous overload)');
SELECT hasnt_function('pgcdc_drasi', 'create_source', ARRAY['text', 'text', 'text', 'text', 'boolean'],
	'the old five-argument create_source is gone (no ambiguous overload)');
SELECT has_function('pgcdc_drasi', 'alter_source', ARRAY['text', 'text', 'text', 'text', 'boolean', 'boolean'],
	'alter_source(text, text, text, text, boolean, boolean) exists');
SELECT hasnt_function('pgcdc_drasi', 'alter_source', ARRAY['text', 'text', 'text', 'text', 'boolean'],
	'the five-argument alter_source of 0.1 is gone (no ambiguous overload)');
SELECT hasnt_function('pgcdc_drasi', 'alter_source', ARRAY['text', 'text', 'text', 'text'],
	'the old four-argument alter_source is gone (no ambiguous overload)');
SELECT has_function('pgcdc_drasi', 'create_consumer', ARRAY['text', 'text', 'text', 'boolean'],
	'create_consumer(text, text, text, boolean) exists');
SELECT hasnt_function('pgcdc_drasi', 'create_consumer', ARRAY['text', 'text', 'text'],
	'the old three-argument create_consumer is gone (no ambiguous overload)');
SELECT has_function('pgcdc_drasi', 'drop_consumer', ARRAY['text'], 'drop_consumer(text) exists');
SELECT has_function('pgcdc_drasi', 'read', ARRAY['text', 'integer'], 'read(text, integer) exists');
SELECT has_function('pgcdc_drasi', 'ack', ARRAY['text', 'bigint'], 'ack(text, bigint) exists');
SELECT has_function('pgcdc_drasi', 'get_events', ARRAY['text', 'bigint', 'bigint'],
	'get_events(text, bigint, bigint) exists');
SELECT has_function('pgcdc_drasi', 'drop_source', ARRAY['text'], 'drop_source(text) exists');
SELECT has_function('pgcdc_drasi', 'pause_source', ARRAY['text'], 'pause_source(text) exists');
SELECT has_function('pgcdc_drasi', 'resume_source', ARRAY['text'], 'resume_source(text) exists');
SELECT has_function('pgcdc_drasi', 'resync_source', ARRAY['text', 'boolean'], 'resync_source(text, boolean) exists');
SELECT hasnt_function('pgcdc_drasi', 'resync_source', ARRAY['text'],
	'the old one-argument resync_source is gone (no ambiguous overload)');
SELECT has_function('pgcdc_drasi', 'set_table_key', ARRAY['text', 'regclass', 'text[]'],
	'set_table_key(text, regclass, text[]) exists');
SELECT has_function('pgcdc_drasi', 'drop_table_key', ARRAY['text', 'regclass'], 'drop_table_key(text, regclass) exists');
SELECT has_function('pgcdc_drasi', 'set_table_label', ARRAY['text', 'regclass', 'text'],
	'set_table_label(text, regclass, text) exists');
SELECT has_function('pgcdc_drasi', 'set_excluded_columns', ARRAY['text', 'regclass', 'text[]'],
	'set_excluded_columns(text, regclass, text[]) exists');
SELECT has_function('pgcdc_drasi', 'wait_for_catchup', ARRAY['text', 'interval'], 'wait_for_catchup(text, interval) exists');
SELECT has_function('pgcdc_drasi', 'source_status', ARRAY[]::name[], 'source_status() exists');
SELECT has_function('pgcdc_drasi', 'bootstrap', ARRAY['text', 'text[]'], 'bootstrap(text, text[]) exists');
SELECT has_function('pgcdc_drasi', 'resnapshot', ARRAY['text', 'regclass[]'], 'resnapshot(text, regclass[]) exists');
SELECT has_function('pgcdc_drasi', '_snapshot_within', ARRAY['pg_snapshot', 'pg_snapshot'],
	'_snapshot_within(pg_snapshot, pg_snapshot) exists');
SELECT results_eq(
	$$SELECT p.proname::text COLLATE "default", l.lanname::text COLLATE "default", p.proconfig::text[] COLLATE "default"
	  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	  WHERE p.pronamespace = 'pgcdc_drasi'::regnamespace AND (l.lanname <> 'c' OR p.proconfig IS NOT NULL)
	  ORDER BY p.proname$$,
	$$VALUES ('_guard_publication_drop', 'plpgsql', ARRAY['search_path=pg_catalog, pg_temp']),
	         ('_snapshot_within', 'sql', ARRAY['search_path=pg_catalog, pg_temp'])$$,
	'every function of pgcdc_drasi is written in C except the snapshot comparison (SQL) and the publication drop guard (PL/pgSQL), which pin their search_path');

-- event triggers: the publication guards
SELECT results_eq(
	$$SELECT evtname::text COLLATE "default", evtevent::text COLLATE "default", evttags COLLATE "default", evtenabled::text,
	         evtfoid::regproc::text
	  FROM pg_event_trigger WHERE evtname LIKE 'pgcdc\_drasi\_%' ORDER BY evtname$$,
	$$VALUES ('pgcdc_drasi_guard_ddl', 'ddl_command_start', ARRAY['ALTER PUBLICATION', 'DROP EXTENSION', 'DROP SCHEMA'], 'O',
	          'pgcdc_drasi._guard_ddl'),
	         ('pgcdc_drasi_guard_publication_drop', 'sql_drop', ARRAY['DROP PUBLICATION', 'DROP OWNED'], 'O',
	          'pgcdc_drasi._guard_publication_drop')$$,
	'event triggers guard DROP PUBLICATION / DROP OWNED (sql_drop), and ALTER PUBLICATION, DROP EXTENSION, DROP SCHEMA (ddl_command_start)');

-- roles
SELECT has_role('pgcdc_drasi_admin', 'role pgcdc_drasi_admin exists');
SELECT has_role('pgcdc_drasi_reader', 'role pgcdc_drasi_reader exists');
SELECT results_eq(
	$$SELECT rolname::text COLLATE "default", rolcanlogin, rolsuper, rolreplication, rolcreaterole, rolcreatedb, rolbypassrls
	  FROM pg_roles WHERE rolname IN ('pgcdc_drasi_admin', 'pgcdc_drasi_reader') ORDER BY rolname$$,
	$$VALUES ('pgcdc_drasi_admin', false, false, false, false, false, false),
	         ('pgcdc_drasi_reader', false, false, false, false, false, false)$$,
	'the two roles are NOLOGIN and carry no special attributes');

----------------------------------------------------------------------
-- create_source with defaults
----------------------------------------------------------------------
-- With bootstrap => true (the default) create_source does not create the
-- slot: the worker does, after the commit, exporting the snapshot of the
-- slot's start for the initial snapshot.
BEGIN;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('Api-Orders.DB', 'api_pub')$$,
	'create_source with the default slot name');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_api_orders_db'), 0,
	'with bootstrap => true (the default), create_source leaves the slot to the worker');
SELECT results_eq(
	$$SELECT source_id, last_seq, snapshot_lsn, resnapshot IS NULL, resnapshot_tables, resnapshot_until, slot_lsn
	  FROM pgcdc_drasi.source_progress$$,
	$$VALUES ('Api-Orders.DB', 0::bigint, NULL::pg_lsn, true, NULL::oid[], NULL::pg_lsn, NULL::pg_lsn)$$,
	'create_source records a progress row at seq 0, no snapshot taken yet');
COMMIT;
SELECT results_eq(
	$$SELECT source_id, publication::text COLLATE "default", slot_name::text COLLATE "default", origin_name, conninfo, enabled,
	         owner = (SELECT oid FROM pg_roles WHERE rolname = current_user),
	         created_at <= now()
	  FROM pgcdc_drasi.sources$$,
	$$VALUES ('Api-Orders.DB', 'api_pub', 'pgcdc_api_orders_db', 'pgcdc_drasi_pgcdc_api_orders_db',
	          NULL::text, true, true, true)$$,
	'sources row: default slot pgcdc_ + sanitized lower-case id, origin pgcdc_drasi_ + slot, owner = caller');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload, bootstrap, numeric_as_string FROM pgcdc_drasi.sources WHERE source_id = 'Api-Orders.DB'$$,
	$$VALUES ('queue', 'pgcdc_api_orders_db', 'full', true, false)$$,
	'sources row: sink queue, channel = the default slot name, notify_payload full, bootstrap on, numeric_as_string off by default');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname = 'pgcdc_drasi_pgcdc_api_orders_db'), 1,
	'the replication origin was created');
SELECT is(wait_state('Api-Orders.DB', 'streaming'), 'streaming', 'the source reaches state streaming');
SELECT results_eq(
	$$SELECT slot_type, plugin::text COLLATE "default", database::text COLLATE "default", temporary
	  FROM pg_replication_slots WHERE slot_name = 'pgcdc_api_orders_db'$$,
	$$VALUES ('logical', 'pgoutput', current_database()::text COLLATE "default", false)$$,
	'the worker created a permanent logical pgoutput slot of this database');
SELECT results_eq(
	$$SELECT p.snapshot_lsn IS NOT NULL, s.restart_lsn <= p.snapshot_lsn, s.confirmed_flush_lsn >= p.snapshot_lsn
	  FROM pgcdc_drasi.source_progress p, pg_replication_slots s
	  WHERE p.source_id = 'Api-Orders.DB' AND s.slot_name = 'pgcdc_api_orders_db'$$,
	$$VALUES (true, true, true)$$,
	'the initial snapshot was taken at the slot''s start (source_progress.snapshot_lsn)');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB'), 0,
	'the initial snapshot of empty tables publishes no event');
SELECT results_eq(
	$$SELECT enabled, pid IS NOT NULL, slot_name::text COLLATE "default", publication::text COLLATE "default", last_error,
	         pid IN (SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source')
	  FROM pgcdc_drasi.status WHERE source_id = 'Api-Orders.DB'$$,
	$$VALUES (true, true, 'pgcdc_api_orders_db', 'api_pub', NULL::text, true)$$,
	'status of a streaming source: enabled, a worker pid, slot, publication, no error');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload, last_seq, notifications_sent, notifications_skipped
	  FROM pgcdc_drasi.status WHERE source_id = 'Api-Orders.DB'$$,
	$$VALUES ('queue', 'pgcdc_api_orders_db', 'full', 0::bigint, 0::bigint, 0::bigint)$$,
	'status shows the sink settings, last_seq 0 and no notifications');
SELECT results_eq(
	$$SELECT bootstrap, failover, snapshot_lsn = (SELECT snapshot_lsn FROM pgcdc_drasi.source_progress WHERE source_id = 'Api-Orders.DB'),
	         snapshot_table, snapshot_rows_done, snapshot_rows_total
	  FROM pgcdc_drasi.status WHERE source_id = 'Api-Orders.DB'$$,
	$$VALUES (true, false, true, NULL::text, NULL::bigint, NULL::bigint)$$,
	'status shows bootstrap and the snapshot position; no snapshot in progress');
SELECT results_eq(
	$$SELECT source_id, state FROM pgcdc_drasi.source_status()$$,
	$$VALUES ('Api-Orders.DB', 'streaming')$$,
	'source_status() reports the source');

----------------------------------------------------------------------
-- changes become events
----------------------------------------------------------------------
INSERT INTO api_orders VALUES (1, 'new', 10.50), (2, 'new', NULL);
UPDATE api_orders SET status = 'paid' WHERE id = 1;
DELETE FROM api_orders WHERE id = 2;

SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('Api-Orders.DB')$$, 'wait_for_catchup returns');
SELECT results_eq(
	$$SELECT op, label, element_id, tx_index,
	         coalesce(payload->'payload'->'after', payload->'payload'->'before')
	  FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB' ORDER BY seq$$,
	$$VALUES
	  ('i', 'api_orders', 'api_orders:1', 0,
	   '{"id": "api_orders:1", "labels": ["api_orders"], "properties": {"id": 1, "status": "new", "amount": 10.50}}'::jsonb),
	  ('i', 'api_orders', 'api_orders:2', 1,
	   '{"id": "api_orders:2", "labels": ["api_orders"], "properties": {"id": 2, "status": "new", "amount": null}}'::jsonb),
	  ('u', 'api_orders', 'api_orders:1', 0,
	   '{"id": "api_orders:1", "labels": ["api_orders"], "properties": {"id": 1, "status": "paid", "amount": 10.50}}'::jsonb),
	  ('d', 'api_orders', 'api_orders:2', 0,
	   '{"id": "api_orders:2", "labels": ["api_orders"], "properties": {"id": 2}}'::jsonb)$$,
	'insert, update and delete after create_source became events, in commit order');
SELECT results_eq(
	$$SELECT seq, element_id FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB' ORDER BY seq$$,
	$$VALUES (1::bigint, 'api_orders:1'), (2::bigint, 'api_orders:2'), (3::bigint, 'api_orders:1'), (4::bigint, 'api_orders:2')$$,
	'the source numbers its events 1, 2, 3, 4: commit order, then order within the transaction');
SELECT results_eq(
	$$SELECT p.last_seq, s.last_seq, s.notifications_sent, s.notifications_skipped
	  FROM pgcdc_drasi.source_progress p JOIN pgcdc_drasi.status s USING (source_id)
	  WHERE source_id = 'Api-Orders.DB'$$,
	$$VALUES (4::bigint, 4::bigint, 0::bigint, 0::bigint)$$,
	'source_progress.last_seq and status.last_seq are the last seq published; the queue sink notifies nothing');
SELECT is(
	(SELECT count(*)::int FROM pgcdc_drasi.events
	 WHERE source_id = 'Api-Orders.DB' AND (
	   payload->>'op' <> op OR
	   payload->'payload'->'source'->>'db' <> source_id OR
	   payload->'payload'->'source'->>'table' <> 'node' OR
	   (payload->'metadata'->>'seq')::bigint <> seq OR
	   (payload->'metadata'->>'xid') <> xid::text OR
	   (payload->'payload'->'source'->>'lsn')::numeric <> (lsn - '0/0'::pg_lsn))),
	0, 'the event JSON agrees with the queue columns');
SELECT is((SELECT count(DISTINCT lsn)::int FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB'), 3,
	'three transactions, three commit LSNs');
SELECT results_eq(
	$$SELECT events_published, transactions_published, published_lsn >= (SELECT max(lsn) FROM pgcdc_drasi.events),
	         received_lsn >= published_lsn, last_commit_time = (SELECT max(commit_time) FROM pgcdc_drasi.events),
	         last_error IS NULL
	  FROM pgcdc_drasi.status WHERE source_id = 'Api-Orders.DB'$$,
	$$VALUES (4::bigint, 3::bigint, true, true, true, true)$$,
	'status counts the published events and transactions');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('Api-Orders.DB', '5 s')$$,
	'wait_for_catchup with an explicit timeout returns');

----------------------------------------------------------------------
-- pause_source / resume_source
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.pause_source('Api-Orders.DB')$$, 'pause_source');
SELECT is((SELECT enabled FROM pgcdc_drasi.sources WHERE source_id = 'Api-Orders.DB'), false,
	'pause_source clears enabled');
SELECT is(wait_state('Api-Orders.DB', 'paused'), 'paused', 'the paused source reaches state paused');
SELECT results_eq(
	$$SELECT enabled, pid FROM pgcdc_drasi.status WHERE source_id = 'Api-Orders.DB'$$,
	$$VALUES (false, NULL::int)$$,
	'a paused source has no worker');
SELECT ok(poll_until($$SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'pgcdc_api_orders_db'$$),
	'the slot of a paused source becomes inactive');

INSERT INTO api_orders VALUES (3, 'while paused', 1);

SELECT lives_ok($$SELECT pgcdc_drasi.pause_source('Api-Orders.DB')$$, 'pausing a paused source is harmless');
SELECT lives_ok($$SELECT pgcdc_drasi.resume_source('Api-Orders.DB')$$, 'resume_source');
SELECT is((SELECT enabled FROM pgcdc_drasi.sources WHERE source_id = 'Api-Orders.DB'), true,
	'resume_source sets enabled');
SELECT is(wait_state('Api-Orders.DB', 'streaming'), 'streaming', 'the resumed source streams again');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('Api-Orders.DB')$$, 'wait_for_catchup after resume');
SELECT results_eq(
	$$SELECT op, element_id FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB' ORDER BY seq$$,
	$$VALUES ('i', 'api_orders:1'), ('i', 'api_orders:2'), ('u', 'api_orders:1'), ('d', 'api_orders:2'),
	         ('i', 'api_orders:3')$$,
	'the change made while paused is published after resume, nothing twice');
SELECT results_eq(
	$$SELECT array_agg(seq ORDER BY seq), (SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'Api-Orders.DB')
	  FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB'$$,
	$$VALUES (ARRAY[1, 2, 3, 4, 5]::bigint[], 5::bigint)$$,
	'seq goes on from the persisted last_seq after a pause: no gap, no repeat');

----------------------------------------------------------------------
-- a second source of the same publication numbers its own events
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('api_second', 'api_pub', sink => 'both')$$,
	'create_source of a second source, sink both');
SELECT is(wait_state('api_second', 'streaming'), 'streaming', 'the second source streams');

----------------------------------------------------------------------
-- set_table_key / drop_table_key
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('Api-Orders.DB', 'api_users', ARRAY['email'])$$,
	'set_table_key');
SELECT results_eq(
	$$SELECT source_id, table_id::text, key_columns FROM pgcdc_drasi.table_keys$$,
	$$VALUES ('Api-Orders.DB', 'api_users', ARRAY['email'])$$,
	'set_table_key records the key');
SELECT is((SELECT table_id FROM pgcdc_drasi.table_keys), 'api_users'::regclass,
	'table_keys.table_id is the table''s oid');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('Api-Orders.DB', 'api_users', ARRAY['email', 'id'])$$,
	'set_table_key again replaces the key');
SELECT results_eq(
	$$SELECT source_id, table_id::text, key_columns FROM pgcdc_drasi.table_keys$$,
	$$VALUES ('Api-Orders.DB', 'api_users', ARRAY['email', 'id'])$$,
	'still one row, with the new key columns');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('Api-Orders.DB', 'api_users', ARRAY['email'])$$,
	'set_table_key back to one column');

INSERT INTO api_users VALUES (1, 'ann@example.com', 'Ann');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('Api-Orders.DB')$$, 'wait_for_catchup after set_table_key');
SELECT results_eq(
	$$SELECT op, label, element_id FROM pgcdc_drasi.events
	  WHERE source_id = 'Api-Orders.DB' AND label = 'api_users' ORDER BY seq$$,
	$$VALUES ('i', 'api_users', 'api_users:ann@example.com')$$,
	'the element id uses the chosen key column');

SELECT lives_ok($$SELECT pgcdc_drasi.drop_table_key('Api-Orders.DB', 'api_users')$$, 'drop_table_key');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_keys$$, 'drop_table_key removes the row');
INSERT INTO api_users VALUES (2, 'bob@example.com', 'Bob');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('Api-Orders.DB')$$, 'wait_for_catchup after drop_table_key');
SELECT results_eq(
	$$SELECT op, element_id FROM pgcdc_drasi.events
	  WHERE source_id = 'Api-Orders.DB' AND label = 'api_users' ORDER BY seq$$,
	$$VALUES ('i', 'api_users:ann@example.com'), ('i', 'api_users:2')$$,
	'after drop_table_key the element id is the primary key again');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('api_second')$$, 'wait_for_catchup of the second source');
SELECT results_eq(
	$$SELECT seq, op, element_id, coalesce(payload->'metadata'->'snapshot', 'false'), snapshot IS NOT NULL
	  FROM pgcdc_drasi.events WHERE source_id = 'api_second' ORDER BY seq$$,
	$$VALUES (1::bigint, 'i', 'api_orders:1', 'true'::jsonb, true), (2::bigint, 'i', 'api_orders:3', 'true'::jsonb, true),
	         (3::bigint, 'i', 'api_users:1', 'false'::jsonb, false), (4::bigint, 'i', 'api_users:2', 'false'::jsonb, false)$$,
	'the second source numbers its events from 1, independently of the first: its initial snapshot of the existing rows (marked as snapshot events), then its stream (with its own keys)');
SELECT results_eq(
	$$SELECT seq, element_id FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB' AND seq > 5 ORDER BY seq$$,
	$$VALUES (6::bigint, 'api_users:ann@example.com'), (7::bigint, 'api_users:2')$$,
	'the first source went on with 6 and 7');
SELECT results_eq(
	$$SELECT source_id, sink, last_seq, events_published, notifications_sent, notifications_skipped
	  FROM pgcdc_drasi.status WHERE source_id IN ('Api-Orders.DB', 'api_second') ORDER BY 1$$,
	$$VALUES ('Api-Orders.DB', 'queue', 7::bigint, 7::bigint, 0::bigint, 0::bigint),
	         ('api_second', 'both', 4::bigint, 4::bigint, 4::bigint, 0::bigint)$$,
	'status: per-source last_seq; the sink both sent one notification per event, snapshot events included');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('api_second')$$, 'drop the second source');

----------------------------------------------------------------------
-- set_table_label / set_excluded_columns / bootstrap() / resnapshot
-- (the details are in 050_table_options.sql and sql/07, sql/08)
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('Api-Orders.DB', 'api_orders', 'Order')$$, 'set_table_label');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('Api-Orders.DB', 'api_orders', ARRAY['amount'])$$,
	'set_excluded_columns');
SELECT results_eq(
	$$SELECT source_id, table_id::text, label, exclude_columns FROM pgcdc_drasi.table_options$$,
	$$VALUES ('Api-Orders.DB', 'api_orders', 'Order', ARRAY['amount'])$$,
	'both options are recorded in one table_options row');
INSERT INTO api_orders VALUES (4, 'labelled', 4.00);
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('Api-Orders.DB')$$, 'wait_for_catchup after the options');
SELECT results_eq(
	$$SELECT seq, op, label, element_id, payload->'payload'->'after' FROM pgcdc_drasi.events
	  WHERE source_id = 'Api-Orders.DB' AND seq > 7 ORDER BY seq$$,
	$$VALUES (8::bigint, 'i', 'Order', 'api_orders:4',
	          '{"id": "api_orders:4", "labels": ["Order"], "properties": {"id": 4, "status": "labelled"}}'::jsonb)$$,
	'the event carries the label, keeps the table name in its id and leaves the excluded column out');
SELECT results_eq(
	$$SELECT e FROM pgcdc_drasi.bootstrap('Api-Orders.DB') e ORDER BY e->>'id'$$,
	$$VALUES ('{"id": "api_orders:1", "labels": ["Order"], "properties": {"id": 1, "status": "paid"}}'::jsonb),
	         ('{"id": "api_orders:3", "labels": ["Order"], "properties": {"id": 3, "status": "while paused"}}'::jsonb),
	         ('{"id": "api_orders:4", "labels": ["Order"], "properties": {"id": 4, "status": "labelled"}}'::jsonb),
	         ('{"id": "api_users:1", "labels": ["api_users"], "properties": {"id": 1, "name": "Ann", "email": "ann@example.com"}}'::jsonb),
	         ('{"id": "api_users:2", "labels": ["api_users"], "properties": {"id": 2, "name": "Bob", "email": "bob@example.com"}}'::jsonb)$$,
	'bootstrap() returns the current rows as elements, with the same options as the stream');
SELECT results_eq(
	$$SELECT e->>'id' FROM pgcdc_drasi.bootstrap('Api-Orders.DB', ARRAY['Order', 'no_such_label']) e ORDER BY 1$$,
	$$VALUES ('api_orders:1'), ('api_orders:3'), ('api_orders:4')$$,
	'bootstrap() with labels returns the elements of those labels only');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('Api-Orders.DB', 'api_orders', NULL)$$,
	'set_table_label NULL');
SELECT results_eq(
	$$SELECT table_id::text, label, exclude_columns FROM pgcdc_drasi.table_options$$,
	$$VALUES ('api_orders', NULL::text, ARRAY['amount'])$$,
	'set_table_label NULL clears the label and keeps the excluded columns');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('Api-Orders.DB', 'api_orders', NULL)$$,
	'set_excluded_columns NULL');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_options$$,
	'with neither option left, the table_options row is removed');

SELECT lives_ok($$SELECT pgcdc_drasi.resnapshot('Api-Orders.DB', ARRAY['api_users'::regclass])$$,
	'resnapshot of one table');
SELECT ok(poll_until($$SELECT NOT EXISTS (SELECT 1 FROM pgcdc_drasi.snapshot_requests WHERE source_id = 'Api-Orders.DB')
	                 AND (SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB' AND seq > 8) = 3$$),
	'the worker takes the request and publishes the re-snapshot');
SELECT results_eq(
	$$SELECT seq, op, label, element_id, payload->'metadata'->'snapshot', snapshot IS NOT NULL
	  FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB' AND seq > 8 ORDER BY seq$$,
	$$VALUES (9::bigint, 't', 'api_users', NULL::text, 'true'::jsonb, true),
	         (10::bigint, 'i', 'api_users', 'api_users:1', 'true'::jsonb, true),
	         (11::bigint, 'i', 'api_users', 'api_users:2', 'true'::jsonb, true)$$,
	'a re-snapshot: a t event for the table, then an insert per row, all marked as snapshot events');
SELECT is(wait_state('Api-Orders.DB', 'streaming'), 'streaming', 'the source streams again after the re-snapshot');

----------------------------------------------------------------------
-- create_source with an explicit slot name, disabled, with a conninfo
----------------------------------------------------------------------
SELECT lives_ok(
	$$SELECT pgcdc_drasi.create_source('api_explicit', publication => 'api_pub',
	    slot_name => 'api_explicit_slot', conninfo => 'host=/nonexistent port=1', enabled => false,
	    sink => 'both', channel => 'Api Channel', notify_payload => 'wakeup', bootstrap => false,
	    numeric_as_string => true)$$,
	'create_source with explicit slot_name, conninfo, enabled => false, sink, channel, notify_payload, bootstrap => false and numeric_as_string => true');
SELECT results_eq(
	$$SELECT source_id, publication::text COLLATE "default", slot_name::text COLLATE "default", origin_name, conninfo, enabled
	  FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES ('api_explicit', 'api_pub', 'api_explicit_slot', 'pgcdc_drasi_api_explicit_slot',
	          'host=/nonexistent port=1', false)$$,
	'sources row of the explicit source');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES ('both', 'Api Channel', 'wakeup')$$,
	'the explicit sink settings are recorded as given (channel names are case-sensitive, any characters)');
SELECT results_eq(
	$$SELECT bootstrap, numeric_as_string FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES (false, true)$$,
	'bootstrap => false and numeric_as_string => true are recorded');

-- alter_source: NULL keeps a setting
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('api_explicit', sink => 'queue')$$, 'alter_source: sink only');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES ('queue', 'Api Channel', 'wakeup')$$,
	'alter_source changes the sink and keeps channel and notify_payload');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('api_explicit', channel => repeat('c', 63))$$,
	'alter_source: a 63-byte channel');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES ('queue', repeat('c', 63), 'wakeup')$$,
	'alter_source changes the channel and keeps the rest');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload, numeric_as_string FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES ('queue', repeat('c', 63), 'wakeup', true)$$,
	'alter_source without numeric_as_string keeps it');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('api_explicit', 'notify', 'api_chan', 'full', false)$$,
	'alter_source: all four settings at once');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload, numeric_as_string FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES ('notify', 'api_chan', 'full', false)$$,
	'alter_source set all four');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('api_explicit', numeric_as_string => true)$$,
	'alter_source: numeric_as_string only');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload, numeric_as_string FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES ('notify', 'api_chan', 'full', true)$$,
	'alter_source changes numeric_as_string and keeps the sink settings');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('api_explicit')$$, 'alter_source with nothing to change');
SELECT results_eq(
	$$SELECT sink, channel, notify_payload, numeric_as_string, bootstrap, enabled FROM pgcdc_drasi.sources WHERE source_id = 'api_explicit'$$,
	$$VALUES ('notify', 'api_chan', 'full', true, false, false)$$,
	'alter_source with only NULLs keeps everything (and does not touch bootstrap or enabled)');
SELECT results_eq(
	$$SELECT slot_type, plugin::text COLLATE "default", database::text COLLATE "default" FROM pg_replication_slots WHERE slot_name = 'api_explicit_slot'$$,
	$$VALUES ('logical', 'pgoutput', current_database()::text COLLATE "default")$$,
	'with bootstrap => false, create_source created the explicit slot itself (the source is disabled)');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname = 'pgcdc_drasi_api_explicit_slot'), 1,
	'the origin of the explicit slot was created');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_api_explicit'), 0,
	'no slot with the default name was created');
SELECT is(wait_state('api_explicit', 'paused'), 'paused', 'a source created disabled is paused');
SELECT results_eq(
	$$SELECT enabled, state, pid, events_published FROM pgcdc_drasi.status WHERE source_id = 'api_explicit'$$,
	$$VALUES (false, 'paused', NULL::int, 0::bigint)$$,
	'status of the disabled source');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.events WHERE source_id = 'api_explicit'), 0,
	'a disabled source publishes nothing');

-- A 48-character id is accepted; '.' and '-' become '_' in the slot name.
SELECT lives_ok(
	$$SELECT pgcdc_drasi.create_source('API.' || repeat('x', 40) || '-end', 'api_pub', enabled => false)$$,
	'create_source accepts a 48-character source id');
SELECT results_eq(
	$$SELECT length(source_id), slot_name::text COLLATE "default" FROM pgcdc_drasi.sources WHERE source_id LIKE 'API.%'$$,
	$$VALUES (48, 'pgcdc_api_' || repeat('x', 40) || '_end')$$,
	'its default slot name is pgcdc_ + the id in lower case with . and - replaced by _');
SELECT is((SELECT channel FROM pgcdc_drasi.sources WHERE source_id LIKE 'API.%'), 'pgcdc_api_' || repeat('x', 40) || '_end',
	'its default channel follows the same rule as the default slot name');

----------------------------------------------------------------------
-- drop_source
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('Api-Orders.DB', 'api_users', ARRAY['email'])$$,
	'a table key to be dropped with the source');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_key('api_explicit', 'api_users', ARRAY['email'])$$,
	'a table key of the other source');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB'), 11,
	'the source has events before drop_source');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_label('Api-Orders.DB', 'api_users', 'User')$$,
	'a table option to be dropped with the source');
SELECT lives_ok($$SELECT pgcdc_drasi.set_excluded_columns('api_explicit', 'api_users', ARRAY['name'])$$,
	'a table option of the other source');
SELECT lives_ok($$SELECT pgcdc_drasi.resnapshot('api_explicit')$$,
	'a snapshot request of the paused source, which waits for its worker');
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('api_consumer', 'Api-Orders.DB')$$,
	'a consumer to be dropped with the source');

SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('Api-Orders.DB')$$, 'drop_source of a streaming source');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.sources WHERE source_id = 'Api-Orders.DB'), 0,
	'drop_source removes the sources row');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.events WHERE source_id = 'Api-Orders.DB'), 0,
	'drop_source removes the events of the source');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.source_progress WHERE source_id = 'Api-Orders.DB'), 0,
	'drop_source removes the progress row of the source');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.consumers WHERE source_id = 'Api-Orders.DB'), 0,
	'drop_source removes the consumers of the source');
SELECT results_eq(
	$$SELECT source_id, table_id::text FROM pgcdc_drasi.table_keys$$,
	$$VALUES ('api_explicit', 'api_users')$$,
	'drop_source removes the table keys of the source, not those of others');
SELECT results_eq(
	$$SELECT source_id, table_id::text, label, exclude_columns FROM pgcdc_drasi.table_options$$,
	$$VALUES ('api_explicit', 'api_users', NULL::text, ARRAY['name'])$$,
	'drop_source removes the table options of the source, not those of others');
SELECT results_eq(
	$$SELECT source_id, tables, resync FROM pgcdc_drasi.snapshot_requests$$,
	$$VALUES ('api_explicit', NULL::oid[], false)$$,
	'the snapshot request of the paused source is still pending');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'pgcdc_api_orders_db'), 0,
	'drop_source drops the slot');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname = 'pgcdc_drasi_pgcdc_api_orders_db'), 0,
	'drop_source drops the origin');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.status WHERE source_id = 'Api-Orders.DB'), 0,
	'the dropped source is gone from the status view');
SELECT is(
	(SELECT count(*)::int FROM pg_stat_activity
	 WHERE backend_type = 'pgcdc_drasi source' AND datname = current_database()),
	0, 'no worker of this database is left running');

SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('api_explicit')$$, 'drop_source of a paused source');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('API.' || repeat('x', 40) || '-end')$$,
	'drop_source of the 48-character source');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.sources$$, 'no sources are left');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_keys$$, 'no table keys are left');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.table_options$$, 'no table options are left');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.snapshot_requests$$, 'no snapshot requests are left');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.source_progress$$, 'no progress rows are left');
SELECT is((SELECT count(*)::int FROM pg_replication_slots WHERE slot_name IN ('api_explicit_slot', 'pgcdc_api_' || repeat('x', 40) || '_end')), 0,
	'the slots of the other sources are dropped');
SELECT is((SELECT count(*)::int FROM pg_replication_origin WHERE roname LIKE 'pgcdc_drasi_%api%'), 0,
	'their origins are dropped');

SELECT * FROM finish();

DROP PUBLICATION api_pub;
