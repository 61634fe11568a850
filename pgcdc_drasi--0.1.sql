/* pgcdc_drasi--0.1.sql: objects of the pgcdc_drasi extension */

\echo Use "CREATE EXTENSION pgcdc_drasi" to load this file. \quit

/*
 * Roles.  Roles are cluster-wide and outlive the extension, so they are
 * created only when missing.  pgcdc_drasi_admin configures sources;
 * pgcdc_drasi_reader reads the queue.  Neither can read connection strings.
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

GRANT USAGE ON SCHEMA pgcdc_drasi TO pgcdc_drasi_admin, pgcdc_drasi_reader;

/* One row per configured source. */
CREATE TABLE pgcdc_drasi.sources (
	source_id	text PRIMARY KEY,
	publication	name NOT NULL,
	slot_name	name NOT NULL UNIQUE,
	origin_name	text NOT NULL UNIQUE,
	conninfo	text,
	enabled		boolean NOT NULL DEFAULT true,
	owner		oid NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now()
);

/* Key columns chosen per table, overriding the primary key. */
CREATE TABLE pgcdc_drasi.table_keys (
	source_id	text NOT NULL REFERENCES pgcdc_drasi.sources ON DELETE CASCADE,
	table_id	regclass NOT NULL,
	key_columns	text[] NOT NULL,
	PRIMARY KEY (source_id, table_id)
);

/* The queue: one row per change event, in commit order per source. */
CREATE SEQUENCE pgcdc_drasi.events_seq AS bigint;

CREATE TABLE pgcdc_drasi.events (
	seq			bigint NOT NULL,
	source_id	text NOT NULL,
	lsn			pg_lsn NOT NULL,
	xid			xid8 NOT NULL,
	tx_index	integer NOT NULL,
	commit_time	timestamptz NOT NULL,
	op			text NOT NULL,
	label		text NOT NULL,
	element_id	text,
	payload		jsonb NOT NULL,
	PRIMARY KEY (source_id, seq)
);

SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.sources', '');
SELECT pg_catalog.pg_extension_config_dump('pgcdc_drasi.table_keys', '');

/* Wakes the launcher at commit whenever the source list changes. */
CREATE FUNCTION pgcdc_drasi._sources_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgcdc_drasi_sources_changed'
LANGUAGE C;

CREATE TRIGGER sources_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pgcdc_drasi.sources
	FOR EACH STATEMENT EXECUTE FUNCTION pgcdc_drasi._sources_changed();

CREATE FUNCTION pgcdc_drasi.create_source(
	source_id text,
	publication text DEFAULT 'drasi_publication',
	slot_name text DEFAULT NULL,
	conninfo text DEFAULT NULL,
	enabled boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_create_source'
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

CREATE FUNCTION pgcdc_drasi.wait_for_catchup(source_id text, timeout interval DEFAULT '30s')
RETURNS void
AS 'MODULE_PATHNAME', 'pgcdc_drasi_wait_for_catchup'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

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
	OUT started_at timestamptz)
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
	st.last_error_time,
	coalesce(st.reconnects, 0) AS reconnects,
	st.started_at
FROM pgcdc_drasi.sources s
LEFT JOIN pgcdc_drasi.source_status() st USING (source_id)
LEFT JOIN pg_catalog.pg_replication_slots rs ON rs.slot_name = s.slot_name;

/* Least privilege: nothing is public; the roles get what they need. */
REVOKE ALL ON ALL TABLES IN SCHEMA pgcdc_drasi FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgcdc_drasi FROM PUBLIC;

GRANT SELECT (source_id, publication, slot_name, origin_name, enabled, owner, created_at)
	ON pgcdc_drasi.sources TO pgcdc_drasi_admin;
GRANT SELECT ON pgcdc_drasi.table_keys TO pgcdc_drasi_admin;
GRANT SELECT ON pgcdc_drasi.events TO pgcdc_drasi_admin, pgcdc_drasi_reader;
GRANT SELECT ON pgcdc_drasi.status TO pgcdc_drasi_admin, pgcdc_drasi_reader;

GRANT EXECUTE ON FUNCTION
	pgcdc_drasi.create_source(text, text, text, text, boolean),
	pgcdc_drasi.drop_source(text),
	pgcdc_drasi.pause_source(text),
	pgcdc_drasi.resume_source(text),
	pgcdc_drasi.set_table_key(text, regclass, text[]),
	pgcdc_drasi.drop_table_key(text, regclass)
	TO pgcdc_drasi_admin;
GRANT EXECUTE ON FUNCTION
	pgcdc_drasi.wait_for_catchup(text, interval),
	pgcdc_drasi.source_status()
	TO pgcdc_drasi_admin, pgcdc_drasi_reader;
