/*
 * pgcdc_drasi.sql: objects of the pgcdc_drasi extension, current version.
 *
 * The build installs this file as pgcdc_drasi--<version>.sql (Makefile,
 * EXTVERSION).  Every change here ships with an upgrade script
 * sql/pgcdc_drasi--<old>--<new>.sql that brings an installed extension to
 * exactly the same objects; test/sql/upgrade.sql proves it.
 */

\echo Use "CREATE EXTENSION pgcdc_drasi" to load this file. \quit

/*
 * Roles.  Roles are cluster-wide and outlive the extension, so they are
 * created only when missing.  pgcdc_drasi_admin configures sources;
 * pgcdc_drasi_reader reads the queue.  Neither can read connection strings.
 * The roles say what a member may do; USAGE on this database's schema
 * pgcdc_drasi, granted per database to the member and never to the two
 * roles themselves, says where (README, Security).  Membership alone
 * gives access to no database.
 */
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgcdc_drasi_admin') THEN
		CREATE ROLE pgcdc_drasi_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgcdc_drasi_reader') THEN
		CREATE ROLE pgcdc_drasi_reader NOLOGIN;
	END IF;
END
$roles$;


/* One row per configured source. */
CREATE TABLE pgcdc_drasi.sources (
	source_id	text PRIMARY KEY,
	publication	name NOT NULL,
	slot_name	name NOT NULL UNIQUE,
	origin_name	text NOT NULL UNIQUE,
	conninfo	text,
	enabled		boolean NOT NULL DEFAULT true,
	sink		text NOT NULL DEFAULT 'queue'
				CHECK (sink IN ('queue', 'notify', 'both', 'redis')),
	channel		text NOT NULL,
	notify_payload text NOT NULL DEFAULT 'full'
				CHECK (notify_payload IN ('full', 'wakeup')),
	bootstrap	boolean NOT NULL DEFAULT true,
	numeric_as_string boolean NOT NULL DEFAULT false,
	owner		regrole NOT NULL,	/* a name in a dump, never a stale number */
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	/* the slot is synchronized to standbys (PostgreSQL 17 or later) */
	failover	boolean NOT NULL DEFAULT false
);

/*
 * The last seq each source has used.  The worker updates it in the same
 * transaction as the queue rows and the replication origin, so seq
 * numbers of a source are contiguous across restarts: a gap is always a
 * missed event, never a crash.
 */
CREATE TABLE pgcdc_drasi.source_progress (
	source_id	text PRIMARY KEY REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	last_seq	bigint NOT NULL DEFAULT 0,
	snapshot_lsn pg_lsn,		/* where the initial snapshot was taken */
	/* a re-snapshot whose overlap with the stream is still being skipped */
	resnapshot	pg_snapshot,
	resnapshot_tables oid[],	/* NULL: all tables */
	resnapshot_until pg_lsn,
	/*
	 * The slot this source made or adopted: its confirmed position when it
	 * did.  NULL: none, so a slot of that name is someone else's and is
	 * never dropped.
	 */
	slot_lsn	pg_lsn
);

/* Re-snapshots asked for with resnapshot(), done by the worker. */
CREATE TABLE pgcdc_drasi.snapshot_requests (
	request_id	bigserial PRIMARY KEY,
	source_id	text NOT NULL REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	tables		oid[],			/* NULL: all tables */
	resync		boolean NOT NULL DEFAULT false,	/* skip to the current WAL first */
	requested_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

/* Durable readers of a source's queue, each at its own position. */
CREATE TABLE pgcdc_drasi.consumers (
	consumer	text PRIMARY KEY,
	source_id	text NOT NULL REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	acked_seq	bigint NOT NULL,
	snapshot	pg_snapshot,	/* events of transactions it shows are skipped */
	owner		regrole NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	acked_at	timestamptz
);
CREATE INDEX ON pgcdc_drasi.consumers (source_id);

/*
 * Targets: where a delivery worker sends a source's events (Redis
 * Streams or HTTP).  Each target reads the source's queue as the durable
 * consumer named 'target:' || target_id, whose acked_seq is the last
 * event delivered.  url may hold a password and options HTTP headers
 * (bearer tokens): no role but the superuser reads those columns;
 * target_status shows them masked.
 */
CREATE TABLE pgcdc_drasi.targets (
	target_id	text PRIMARY KEY,
	source_id	text NOT NULL REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	kind		text NOT NULL CHECK (kind IN ('redis', 'http')),
	url			text NOT NULL,
	options		jsonb NOT NULL DEFAULT '{}',
	enabled		boolean NOT NULL DEFAULT true,
	owner		regrole NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX ON pgcdc_drasi.targets (source_id);

/*
 * Where a source with the redis sink writes its events (set_source_redis):
 * url may hold a password, so no role but the superuser reads this table.
 */
CREATE TABLE pgcdc_drasi.source_redis (
	source_id	text PRIMARY KEY REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	url			text NOT NULL,
	options		jsonb NOT NULL DEFAULT '{}'
);

/*
 * Key columns chosen per table, overriding the primary key.  key_attnums
 * are the columns' numbers when they were chosen (NULL for a name that
 * matched none), so that the key follows a column that is renamed.
 */
CREATE TABLE pgcdc_drasi.table_keys (
	source_id	text NOT NULL REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	table_id	regclass NOT NULL,
	key_columns	text[] NOT NULL,
	PRIMARY KEY (source_id, table_id),
	key_attnums	smallint[]
);

/*
 * Per-table choices other than keys: the label, columns left out (with
 * their numbers, so that an exclusion follows a renamed column).
 */
CREATE TABLE pgcdc_drasi.table_options (
	source_id	text NOT NULL REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	table_id	regclass NOT NULL,
	label		text,
	exclude_columns text[],
	PRIMARY KEY (source_id, table_id),
	exclude_attnums smallint[]
);

/*
 * The queue, stored compactly: what is the same for every event of a
 * source transaction (its commit LSN, commit time, xid, the snapshot of a
 * snapshot's events) is in one row of queue_transactions, and each event
 * is a row of queue_events holding only its own values, none twice; the
 * payload is assembled when it is read (the view pgcdc_drasi.events below).
 *
 * An event belongs to its transaction by tx_key, a number the worker
 * gives each source transaction when its first event arrives.  A
 * transaction streamed before its commit has event rows, committed chunk
 * by chunk, but no transaction row until its commit: readers join the
 * two, so they see nothing of it before then.  Its row numbers it at the
 * commit: seq = first_seq + tx_index, contiguous in commit order.
 *
 * A row of queue_events holds up to 64 consecutive events of one
 * transaction (n_events; tx_index is its first one's), packed into one
 * bytea (src/queue_row.c), as long as the row stays within half a page:
 * one heap tuple and one index entry for many events, never compressed
 * nor moved to TOAST unless a single event is that large.  A transaction
 * whose events all fit one such row and are written at its commit (a
 * small one, the usual case) keeps them in its own row instead (events),
 * and has no rows in queue_events: one heap tuple and one index entry.
 */
CREATE TABLE pgcdc_drasi.queue_transactions (
	source_id	text NOT NULL,
	first_seq	bigint NOT NULL,
	tx_key		bigint NOT NULL,
	n_events	integer NOT NULL,
	lsn			pg_lsn NOT NULL,
	xid			xid8 NOT NULL,
	commit_time	timestamptz NOT NULL,
	snapshot	pg_snapshot,	/* snapshot events: the snapshot they show */
	events		bytea,			/* all its events, packed as in queue_events;
								 * NULL: they are in queue_events */
	PRIMARY KEY (source_id, first_seq)
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.05,
		autovacuum_vacuum_cost_delay = 0, toast_tuple_target = 4080);

CREATE TABLE pgcdc_drasi.queue_events (
	tx_key		bigint NOT NULL,
	tx_index	integer NOT NULL,	/* of the row's first event */
	n_events	integer NOT NULL,
	source_id	text NOT NULL,
	events		bytea NOT NULL,	/* per event: op, label, element_id, body
								 * (the element without id and labels;
								 * _table: payload.source.table if not
								 * node), metadata.unavailable,
								 * reactivatorStart_ns and End_ns */
	PRIMARY KEY (source_id, tx_key, tx_index)
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.05,
		autovacuum_vacuum_cost_delay = 0, toast_tuple_target = 4080);

/*
 * An event's payload (see the README's "Event format"), assembled from
 * its row and its transaction's (src/sql_payload.c).
 */
CREATE FUNCTION pgcdc_drasi._payload(op text, label text, element_id text, body jsonb,
									 unavailable jsonb, start_ns bigint, end_ns bigint,
									 source_id text, lsn pg_lsn, commit_time timestamptz,
									 seq bigint, xid xid8, tx_index integer, snapshot boolean)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgcdc_drasi_payload'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

/* The events of a queue_events row, in order (src/queue_row.c). */
CREATE FUNCTION pgcdc_drasi._unpack(events bytea, OUT i integer, OUT op text, OUT label text,
									OUT element_id text, OUT body jsonb, OUT unavailable jsonb,
									OUT start_ns bigint, OUT end_ns bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgcdc_drasi_unpack'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 16;

/* The keep events of a queue_events row after its first skip. */
CREATE FUNCTION pgcdc_drasi._slice(events bytea, skip integer, keep integer)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pgcdc_drasi_slice'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/* One event packed as a queue_events row holds it; rows concatenate them. */
CREATE FUNCTION pgcdc_drasi._pack(op text, label text, element_id text, body jsonb,
								  unavailable jsonb, start_ns bigint, end_ns bigint)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pgcdc_drasi_pack'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

/*
 * The queue as one row per change event.  seq numbers each source's
 * events 1, 2, 3, ... in commit order, then order within the transaction.
 * Each transaction row holds its events or fetches its rows of events by
 * the primary key of queue_events (OFFSET 0 keeps the planner from
 * flattening the join): a plain join, planned before the tables are
 * analyzed, could loop over sequential scans, and an index from events to
 * transactions would cost the worker an index entry per source
 * transaction.  _unpack takes the events out of each row.
 */
CREATE VIEW pgcdc_drasi.events AS
SELECT t.first_seq + coalesce(e.tx_index, 0) + u.i - 1 AS seq, t.source_id, t.lsn, t.xid,
	   coalesce(e.tx_index, 0) + u.i - 1 AS tx_index, t.commit_time, u.op, u.label, u.element_id,
	   pgcdc_drasi._payload(u.op, u.label, u.element_id, u.body, u.unavailable, u.start_ns,
							u.end_ns, t.source_id, t.lsn, t.commit_time,
							t.first_seq + coalesce(e.tx_index, 0) + u.i - 1, t.xid,
							coalesce(e.tx_index, 0) + u.i - 1, t.snapshot IS NOT NULL) AS payload,
	   t.snapshot
FROM pgcdc_drasi.queue_transactions t
LEFT JOIN LATERAL (SELECT * FROM pgcdc_drasi.queue_events e
				   WHERE t.events IS NULL AND e.source_id = t.source_id AND e.tx_key = t.tx_key
				   OFFSET 0) e ON true
CROSS JOIN LATERAL pgcdc_drasi._unpack(coalesce(t.events, e.events)) u;

SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.sources', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.table_keys', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.source_progress', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.table_options', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.consumers', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.targets', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.source_redis', '');

/*
 * Does snapshot a show nothing that b does not?  Snapshots taken at
 * different times are ordered by inclusion: xmax never decreases, and at
 * equal xmax the later one has fewer transactions in progress.
 */
CREATE FUNCTION pgcdc_drasi._snapshot_within(a pg_snapshot, b pg_snapshot)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_snapshot_xmax(a) < pg_snapshot_xmax(b)
		OR (pg_snapshot_xmax(a) = pg_snapshot_xmax(b)
			AND NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(b) x
							WHERE x NOT IN (SELECT pg_snapshot_xip(a))))
$$;

/* Wakes the launcher at commit whenever the source list changes. */
CREATE FUNCTION pgcdc_drasi._sources_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgcdc_drasi_sources_changed'
LANGUAGE C;

CREATE TRIGGER sources_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pgcdc_drasi.sources
	FOR EACH STATEMENT EXECUTE FUNCTION pgcdc_drasi._sources_changed();

/* Targets are started by the launcher too. */
CREATE TRIGGER targets_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pgcdc_drasi.targets
	FOR EACH STATEMENT EXECUTE FUNCTION pgcdc_drasi._sources_changed();

CREATE FUNCTION pgcdc_drasi.create_source(
	source_id text,
	publication text DEFAULT 'drasi_publication',
	slot_name text DEFAULT NULL,
	conninfo text DEFAULT NULL,
	enabled boolean DEFAULT true,
	sink text DEFAULT 'queue',
	channel text DEFAULT NULL,
	notify_payload text DEFAULT 'full',
	bootstrap boolean DEFAULT true,
	numeric_as_string boolean DEFAULT false,
	failover boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_create_source_0_2'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.alter_source(
	source_id text,
	sink text DEFAULT NULL,
	channel text DEFAULT NULL,
	notify_payload text DEFAULT NULL,
	numeric_as_string boolean DEFAULT NULL,
	failover boolean DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_alter_source_0_2'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.set_source_redis(
	source_id text,
	url text,
	options jsonb DEFAULT '{}')
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_set_source_redis'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.drop_source(source_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_drop_source'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.pause_source(source_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_pause_source'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.resume_source(source_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_resume_source'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.set_table_key(source_id text, "table" regclass, key_columns text[])
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_set_table_key'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.drop_table_key(source_id text, "table" regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_drop_table_key'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.set_table_label(source_id text, "table" regclass, label text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_set_table_label'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.set_excluded_columns(source_id text, "table" regclass, columns text[])
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_set_excluded_columns'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.wait_for_catchup(source_id text, timeout interval DEFAULT '30s')
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_wait_for_catchup'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.create_consumer(
	consumer text,
	source_id text,
	start_at text DEFAULT 'earliest',
	bootstrap boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_create_consumer'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.drop_consumer(consumer text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_drop_consumer'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.read(consumer text, max_events integer DEFAULT 100)
RETURNS SETOF pgcdc_drasi.events
AS 'MODULE_PATHNAME', 'pgcdc_drasi_read'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 100;

CREATE FUNCTION pgcdc_drasi.ack(consumer text, seq bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_ack'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.get_events(source_id text, first_seq bigint, last_seq bigint DEFAULT NULL)
RETURNS SETOF pgcdc_drasi.events
AS 'MODULE_PATHNAME', 'pgcdc_drasi_get_events'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 100;

CREATE FUNCTION pgcdc_drasi.resnapshot(source_id text, tables regclass[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_resnapshot'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.resync_source(source_id text, snapshot boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_resync_source_v2'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.bootstrap(source_id text, labels text[] DEFAULT NULL)
RETURNS SETOF jsonb
AS 'MODULE_PATHNAME', 'pgcdc_drasi_bootstrap'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 1000;

CREATE FUNCTION pgcdc_drasi.source_status(
	OUT source_id text,
	OUT state text,
	OUT pid integer,
	OUT received_lsn pg_lsn,
	OUT published_lsn pg_lsn,
	OUT flushed_lsn pg_lsn,
	OUT events_published bigint,
	OUT transactions_published bigint,
	OUT last_commit_time timestamptz,
	OUT last_error text,
	OUT last_error_time timestamptz,
	OUT reconnects bigint,
	OUT started_at timestamptz,
	OUT notifications_sent bigint,
	OUT notifications_skipped bigint,
	OUT snapshot_table text,
	OUT snapshot_rows_done bigint,
	OUT snapshot_rows_total bigint,
	OUT last_error_detail text,
	OUT last_error_hint text,
	OUT last_error_context text,
	OUT key_fallbacks bigint,
	OUT values_unavailable bigint,
	OUT waiting_for text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgcdc_drasi_source_status'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE VIEW pgcdc_drasi.status AS
SELECT
	s.source_id,
	s.enabled,
	coalesce(st.state, CASE WHEN s.enabled THEN 'starting' ELSE 'paused' END) AS state,
	st.pid,
	s.slot_name,
	s.publication,
	st.received_lsn,
	st.published_lsn,
	rs.confirmed_flush_lsn AS confirmed_lsn,
	pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), rs.confirmed_flush_lsn)::bigint AS lag_bytes,
	coalesce(st.events_published, 0) AS events_published,
	coalesce(st.transactions_published, 0) AS transactions_published,
	st.last_commit_time,
	st.last_error,
	st.last_error_detail,
	st.last_error_hint,
	st.last_error_context,
	st.last_error_time,
	coalesce(st.reconnects, 0) AS reconnects,
	st.started_at,
	s.sink,
	s.channel,
	s.notify_payload,
	p.last_seq,
	coalesce(st.notifications_sent, 0) AS notifications_sent,
	coalesce(st.notifications_skipped, 0) AS notifications_skipped,
	s.bootstrap,
	s.failover,
	p.snapshot_lsn,
	st.snapshot_table,
	st.snapshot_rows_done,
	st.snapshot_rows_total,
	coalesce(st.key_fallbacks, 0) AS key_fallbacks,
	coalesce(st.values_unavailable, 0) AS values_unavailable,
	st.waiting_for,
	CASE WHEN rs.slot_name IS NULL THEN 'missing' ELSE rs.wal_status END AS slot_wal_status,
	-- invalidation_reason is a column from PostgreSQL 17 on (18 adds
	-- idle_timeout); through jsonb the view is the same on every version
	coalesce(pg_catalog.to_jsonb(rs) ->> 'invalidation_reason',
			 CASE WHEN rs.wal_status = 'lost' THEN 'wal_removed' END) AS slot_invalidation_reason
FROM pgcdc_drasi.sources s
LEFT JOIN pgcdc_drasi.source_progress p USING (source_id)
LEFT JOIN pgcdc_drasi.source_status() st USING (source_id)
LEFT JOIN pg_catalog.pg_replication_slots rs ON rs.slot_name = s.slot_name;

CREATE VIEW pgcdc_drasi.consumer_status AS
SELECT
	c.consumer,
	c.source_id,
	c.owner,
	c.acked_seq,
	coalesce(p.last_seq, 0) AS last_seq,
	greatest(coalesce(p.last_seq, 0) - c.acked_seq, 0) AS lag_events,
	c.created_at,
	c.acked_at
FROM pgcdc_drasi.consumers c
LEFT JOIN pgcdc_drasi.source_progress p USING (source_id);

CREATE FUNCTION pgcdc_drasi.create_target(
	target_id text,
	source_id text,
	kind text DEFAULT 'redis',
	url text DEFAULT NULL,
	options jsonb DEFAULT '{}')
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_create_target'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.alter_target(
	target_id text,
	url text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_alter_target'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.pause_target(target_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_pause_target'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.resume_target(target_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_resume_target'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.drop_target(target_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_drop_target'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.target_worker_status(
	OUT target_id text,
	OUT state text,
	OUT pid integer,
	OUT events_delivered bigint,
	OUT duplicates_skipped bigint,
	OUT retries bigint,
	OUT reconnects bigint,
	OUT last_delivery_time timestamptz,
	OUT last_error text,
	OUT last_error_detail text,
	OUT last_error_time timestamptz,
	OUT started_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgcdc_drasi_target_worker_status'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

/* The url with its password masked; the table's url is superuser-only. */
CREATE VIEW pgcdc_drasi.target_status AS
SELECT
	t.target_id,
	t.source_id,
	t.kind,
	pg_catalog.regexp_replace(t.url, '^([A-Za-z][A-Za-z0-9+.-]*://[^/@]*?):[^/@]*@', '\1:********@') AS url,
	CASE WHEN pg_catalog.jsonb_typeof(t.options -> 'headers') = 'object'
		THEN pg_catalog.jsonb_set(t.options, '{headers}',
			(SELECT coalesce(pg_catalog.jsonb_object_agg(h.key, '********'), '{}')
			 FROM pg_catalog.jsonb_each(t.options -> 'headers') h))
		ELSE t.options END AS options,
	t.enabled,
	CASE WHEN NOT t.enabled THEN 'paused' ELSE coalesce(st.state, 'starting') END AS state,
	st.pid,
	c.acked_seq AS delivered_seq,
	coalesce(p.last_seq, 0) AS last_seq,
	greatest(coalesce(p.last_seq, 0) - c.acked_seq, 0) AS lag_events,
	c.acked_at AS delivered_at,
	coalesce(st.events_delivered, 0) AS events_delivered,
	coalesce(st.duplicates_skipped, 0) AS duplicates_skipped,
	coalesce(st.retries, 0) AS retries,
	coalesce(st.reconnects, 0) AS reconnects,
	st.last_delivery_time,
	st.last_error,
	st.last_error_detail,
	st.last_error_time,
	st.started_at,
	t.owner,
	t.created_at
FROM pgcdc_drasi.targets t
LEFT JOIN pgcdc_drasi.consumers c ON c.consumer = 'target:' || t.target_id
LEFT JOIN pgcdc_drasi.source_progress p ON p.source_id = t.source_id
LEFT JOIN pgcdc_drasi.target_worker_status() st ON st.target_id = t.target_id;

/*
 * A source whose publication disappears cannot be repaired by creating it
 * again: PostgreSQL 15 decodes each change with the catalog of its time,
 * so the changes written in between fail forever.  Refuse the drop.
 */
CREATE FUNCTION pgcdc_drasi._guard_publication_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	dropped record;
	src record;
BEGIN
	FOR dropped IN SELECT * FROM pg_catalog.pg_event_trigger_dropped_objects()
		WHERE object_type = 'publication'
	LOOP
		SELECT s.source_id, s.publication INTO src FROM pgcdc_drasi.sources s
		WHERE quote_ident(s.publication) = dropped.object_identity LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'publication "%" is used by pgcdc_drasi source "%"', src.publication, src.source_id
				USING ERRCODE = 'dependent_objects_still_exist',
					  DETAIL = 'Changes written while the publication is missing are never published, and before PostgreSQL 18 the source cannot go on even after it is created again.',
					  HINT = 'Drop the source first with pgcdc_drasi.drop_source(), or remove tables with ALTER PUBLICATION ... DROP TABLE.';
		END IF;
	END LOOP;
END
$$;

CREATE EVENT TRIGGER pgcdc_drasi_guard_publication_drop ON sql_drop
	WHEN TAG IN ('DROP PUBLICATION', 'DROP OWNED')
	EXECUTE FUNCTION pgcdc_drasi._guard_publication_drop();

/*
 * Refused before they start: renaming a publication a source streams
 * (the source names it; it breaks the same way as a drop), and dropping
 * the extension or its schema while sources exist (their slots and
 * origins would stay behind, holding WAL and catalog_xmin forever).
 */
CREATE FUNCTION pgcdc_drasi._guard_ddl()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pgcdc_drasi_guard_ddl'
LANGUAGE C;

CREATE EVENT TRIGGER pgcdc_drasi_guard_ddl ON ddl_command_start
	WHEN TAG IN ('ALTER PUBLICATION', 'DROP EXTENSION', 'DROP SCHEMA')
	EXECUTE FUNCTION pgcdc_drasi._guard_ddl();

/* Least privilege: nothing is public; the roles get what they need. */
REVOKE ALL ON ALL TABLES IN SCHEMA pgcdc_drasi FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgcdc_drasi FROM PUBLIC;

GRANT SELECT (source_id, publication, slot_name, origin_name, enabled, sink, channel,
			  notify_payload, bootstrap, numeric_as_string, owner, created_at, failover)
	ON pgcdc_drasi.sources TO pgcdc_drasi_admin;
GRANT SELECT ON pgcdc_drasi.source_progress TO pgcdc_drasi_admin, pgcdc_drasi_reader;
GRANT SELECT ON pgcdc_drasi.consumer_status TO pgcdc_drasi_admin, pgcdc_drasi_reader;
GRANT SELECT ON pgcdc_drasi.table_keys, pgcdc_drasi.table_options TO pgcdc_drasi_admin;
GRANT SELECT ON pgcdc_drasi.events TO pgcdc_drasi_admin, pgcdc_drasi_reader;
GRANT SELECT ON pgcdc_drasi.status TO pgcdc_drasi_admin, pgcdc_drasi_reader;
GRANT SELECT (target_id, source_id, kind, enabled, owner, created_at)
	ON pgcdc_drasi.targets TO pgcdc_drasi_admin;
GRANT SELECT ON pgcdc_drasi.target_status TO pgcdc_drasi_admin, pgcdc_drasi_reader;

GRANT EXECUTE ON FUNCTION
	pgcdc_drasi.create_source(text, text, text, text, boolean, text, text, text, boolean, boolean, boolean),
	pgcdc_drasi.alter_source(text, text, text, text, boolean, boolean),
	pgcdc_drasi.set_source_redis(text, text, jsonb),
	pgcdc_drasi.set_table_label(text, regclass, text),
	pgcdc_drasi.set_excluded_columns(text, regclass, text[]),
	pgcdc_drasi.resnapshot(text, regclass[]),
	pgcdc_drasi.resync_source(text, boolean),
	pgcdc_drasi.drop_source(text),
	pgcdc_drasi.pause_source(text),
	pgcdc_drasi.resume_source(text),
	pgcdc_drasi.set_table_key(text, regclass, text[]),
	pgcdc_drasi.drop_table_key(text, regclass),
	pgcdc_drasi.create_target(text, text, text, text, jsonb),
	pgcdc_drasi.alter_target(text, text, jsonb),
	pgcdc_drasi.pause_target(text),
	pgcdc_drasi.resume_target(text),
	pgcdc_drasi.drop_target(text)
	TO pgcdc_drasi_admin;
GRANT EXECUTE ON FUNCTION
	pgcdc_drasi.wait_for_catchup(text, interval),
	pgcdc_drasi.source_status(),
	pgcdc_drasi.create_consumer(text, text, text, boolean),
	pgcdc_drasi.drop_consumer(text),
	pgcdc_drasi.read(text, integer),
	pgcdc_drasi.ack(text, bigint),
	pgcdc_drasi.get_events(text, bigint, bigint),
	pgcdc_drasi._payload(text, text, text, jsonb, jsonb, bigint, bigint, text, pg_lsn, timestamptz, bigint, xid8, integer, boolean),
	pgcdc_drasi._unpack(bytea),
	pgcdc_drasi.bootstrap(text, text[]),
	pgcdc_drasi.target_worker_status()
	TO pgcdc_drasi_admin, pgcdc_drasi_reader;

/*
 * Relations (foreign keys as Drasi relations).  relation_options says
 * whether a source publishes the foreign keys among its tables;
 * relations holds relations declared by hand, with the numbers of their
 * columns when declared (so that they follow renames).
 */
CREATE TABLE pgcdc_drasi.relation_options (
	source_id	text PRIMARY KEY REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	foreign_keys boolean NOT NULL DEFAULT false
);
CREATE TABLE pgcdc_drasi.relations (
	source_id	text NOT NULL REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	table_id	regclass NOT NULL,
	label		text NOT NULL,
	columns		text[] NOT NULL,
	references_table regclass NOT NULL,
	column_attnums smallint[],
	PRIMARY KEY (source_id, table_id, label)
);
/* Tables whose rows are relations (join tables), not nodes. */
CREATE TABLE pgcdc_drasi.table_modes (
	source_id	text NOT NULL REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	table_id	regclass NOT NULL,
	mode		text NOT NULL CHECK (mode IN ('relation')),
	PRIMARY KEY (source_id, table_id)
);
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.relation_options', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.relations', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.table_modes', '');

CREATE FUNCTION pgcdc_drasi.set_relations(source_id text, relations text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_set_relations'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.set_relation(source_id text, "table" regclass, columns text[],
										 references_table regclass, label text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_set_relation'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.drop_relation(source_id text, "table" regclass, label text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_drop_relation'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgcdc_drasi.set_table_mode(source_id text, "table" regclass, mode text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_set_table_mode'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

REVOKE ALL ON pgcdc_drasi.relation_options, pgcdc_drasi.relations, pgcdc_drasi.table_modes
	FROM PUBLIC;
REVOKE ALL ON FUNCTION
	pgcdc_drasi.set_relations(text, text),
	pgcdc_drasi.set_relation(text, regclass, text[], regclass, text),
	pgcdc_drasi.drop_relation(text, regclass, text),
	pgcdc_drasi.set_table_mode(text, regclass, text)
	FROM PUBLIC;
GRANT SELECT ON pgcdc_drasi.relation_options, pgcdc_drasi.relations, pgcdc_drasi.table_modes
	TO pgcdc_drasi_admin;
GRANT EXECUTE ON FUNCTION
	pgcdc_drasi.set_relations(text, text),
	pgcdc_drasi.set_relation(text, regclass, text[], regclass, text),
	pgcdc_drasi.drop_relation(text, regclass, text),
	pgcdc_drasi.set_table_mode(text, regclass, text)
	TO pgcdc_drasi_admin;
