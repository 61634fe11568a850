/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		The extension's configuration tables, as typed structs.
 *
 * catalog.c is the only C code that reads or writes pgcdc_drasi.sources,
 * source_progress, snapshot_requests, table_keys, table_options,
 * consumers and targets; the queue table pgcdc_drasi.events belongs to the queue
 * sink (sink_queue.c).  The column numbers below are those of the tables
 * as the install and upgrade scripts define them; an upgrade that adds a
 * column adds it at the end, and Natts_* with it.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/catalog.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_CATALOG_H
#define PGCDC_CATALOG_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/array.h"

/*
 * pgcdc_drasi.sources.  Version 0.1 had publication_oid after publication
 * (dropped in 0.2) and no failover (added in 0.2, read as false from a 0.1
 * table); rows are read by an explicit column list, so these numbers hold
 * for both.
 */
#define Natts_sources					14
#define Anum_sources_source_id			1
#define Anum_sources_publication		2
#define Anum_sources_slot_name			3
#define Anum_sources_origin_name		4
#define Anum_sources_conninfo			5
#define Anum_sources_enabled			6
#define Anum_sources_sink				7
#define Anum_sources_channel			8
#define Anum_sources_notify_payload		9
#define Anum_sources_bootstrap			10
#define Anum_sources_numeric_as_string	11
#define Anum_sources_owner				12	/* regrole (oid in 0.1) */
#define Anum_sources_created_at			13
#define Anum_sources_failover			14

/*
 * pgcdc_drasi.source_progress.  slot_lsn is new in 0.2: it is read and
 * written on its own (pgcdc_catalog_get_slot_lsn), so the other columns
 * are read the same way from a 0.1 table.
 */
#define Natts_source_progress					7
#define Anum_source_progress_source_id			1
#define Anum_source_progress_last_seq			2
#define Anum_source_progress_snapshot_lsn		3
#define Anum_source_progress_resnapshot			4
#define Anum_source_progress_resnapshot_tables	5
#define Anum_source_progress_resnapshot_until	6
#define Anum_source_progress_slot_lsn			7

/* pgcdc_drasi.snapshot_requests */
#define Natts_snapshot_requests					5
#define Anum_snapshot_requests_request_id		1
#define Anum_snapshot_requests_source_id		2
#define Anum_snapshot_requests_tables			3
#define Anum_snapshot_requests_resync			4
#define Anum_snapshot_requests_requested_at		5

/* pgcdc_drasi.relation_options, relations and table_modes */
extern bool pgcdc_catalog_relations_installed(void);
extern bool pgcdc_catalog_is_join_table(const char *source_id, Oid relid);
extern List *pgcdc_catalog_get_relations(const char *source_id, Oid relid, bool join);
extern AttrNumber *pgcdc_catalog_node_key(const char *source_id, Oid relid, int *n);
extern bool pgcdc_catalog_is_node_label(const char *source_id, const char *publication,
										const char *label);
extern int64 pgcdc_catalog_join_foreign_keys(const char *source_id, Oid relid,
											 const char *publication);
extern void pgcdc_catalog_set_relations(const char *source_id, bool foreign_keys);
extern void pgcdc_catalog_set_relation(const char *source_id, Oid relid, const char *label,
									   ArrayType *columns, Oid references);
extern bool pgcdc_catalog_drop_relation(const char *source_id, Oid relid, const char *label);
extern void pgcdc_catalog_set_table_mode(const char *source_id, Oid relid, bool relation);

/* pgcdc_drasi.consumers */
#define Natts_consumers					7
#define Anum_consumers_consumer			1
#define Anum_consumers_source_id		2
#define Anum_consumers_acked_seq		3
#define Anum_consumers_snapshot			4
#define Anum_consumers_owner			5	/* regrole (oid in 0.1) */
#define Anum_consumers_created_at		6
#define Anum_consumers_acked_at			7

/* pgcdc_drasi.targets (new in 0.2) */
#define Natts_targets					8
#define Anum_targets_target_id			1
#define Anum_targets_source_id			2
#define Anum_targets_kind				3
#define Anum_targets_url				4
#define Anum_targets_options			5
#define Anum_targets_enabled			6
#define Anum_targets_owner				7
#define Anum_targets_created_at			8

/*
 * The consumer whose acked_seq is a target's delivered position: this
 * prefix and the target id.  create_consumer refuses names with it.
 */
#define PGCDC_TARGET_CONSUMER_PREFIX	"target:"

/* pgcdc_drasi.table_keys */
#define Natts_table_keys				4
#define Anum_table_keys_source_id		1
#define Anum_table_keys_table_id		2
#define Anum_table_keys_key_columns		3
#define Anum_table_keys_key_attnums		4

/* pgcdc_drasi.table_options */
#define Natts_table_options					5
#define Anum_table_options_source_id		1
#define Anum_table_options_table_id			2
#define Anum_table_options_label			3
#define Anum_table_options_exclude_columns	4
#define Anum_table_options_exclude_attnums	5

/*
 * The configuration of one table: names as they were given, with the
 * attnums recorded at the time (same length; 0 where unknown).
 */
typedef struct PgcdcTableConfig
{
	List	   *key_names;
	List	   *key_attnums;
	char	   *label;
	List	   *exclude_names;
	List	   *exclude_attnums;
} PgcdcTableConfig;

/*
 * One relation a table's rows may start, as configured: declared with
 * set_relation (label set, refcols NULL: cols are in the order of the
 * referenced key) or a foreign key constraint (conname set).
 */
typedef struct PgcdcRelationConfig
{
	char	   *label;
	char	   *conname;
	Oid			references;
	int			ncols;
	AttrNumber *cols;			/* the row's columns */
	AttrNumber *refcols;		/* the referenced columns they match */
} PgcdcRelationConfig;

/* Where a source's events go (sources.sink). */
typedef enum PgcdcSink
{
	PGCDC_SINK_QUEUE = 1,
	PGCDC_SINK_NOTIFY = 2,
	PGCDC_SINK_BOTH = 3,
	PGCDC_SINK_REDIS = 4		/* straight to Redis, no queue (sink_redis.c) */
} PgcdcSink;

/* A row of pgcdc_drasi.sources. */
typedef struct PgcdcSourceConfig
{
	char	   *source_id;
	char	   *publication;
	char	   *slot_name;
	char	   *origin_name;
	char	   *conninfo;		/* NULL: the server's own */
	bool		enabled;
	PgcdcSink	sink;
	char	   *channel;
	bool		wakeup;			/* notify_payload = 'wakeup' */
	bool		bootstrap;
	bool		numeric_as_string;
	Oid			owner;
	TimestampTz created_at;
	bool		failover;		/* its slot is synchronized to standbys */
} PgcdcSourceConfig;

/* A row of pgcdc_drasi.source_progress. */
typedef struct PgcdcSourceProgress
{
	int64		last_seq;
	XLogRecPtr	snapshot_lsn;	/* Invalid: no initial snapshot recorded */
	char	   *resnapshot;		/* pg_snapshot text, or NULL */
	List	   *resnapshot_relids;	/* NIL: all tables */
	XLogRecPtr	resnapshot_until;
} PgcdcSourceProgress;

/* A row of pgcdc_drasi.consumers. */
typedef struct PgcdcConsumer
{
	char	   *consumer;
	char	   *source_id;
	int64		acked_seq;
	char	   *snapshot;		/* pg_snapshot text, or NULL */
	Oid			owner;
} PgcdcConsumer;

/* A row of pgcdc_drasi.targets. */
typedef struct PgcdcTargetConfig
{
	char	   *target_id;
	char	   *source_id;
	char	   *kind;
	char	   *url;			/* may hold a password: never log it */
	char	   *options;		/* jsonb as text */
	bool		enabled;
	Oid			owner;
} PgcdcTargetConfig;

/* How a source's row is locked while it is read. */
typedef enum PgcdcRowLock
{
	PGCDC_LOCK_NONE,
	PGCDC_LOCK_KEY_SHARE,		/* keep it from being deleted */
	PGCDC_LOCK_UPDATE			/* keep it from changing */
} PgcdcRowLock;

/*
 * Access to our tables: SPI, as the bootstrap superuser, with a pinned
 * search_path, so no caller's function or operator runs with those
 * privileges.  Results are copied to the caller's memory context.
 */
typedef struct PgcdcCatalogAccess
{
	MemoryContext caller_mcxt;
	Oid			userid;
	int			sec_context;
	int			guc_nestlevel;
	bool		pushed_snapshot;
} PgcdcCatalogAccess;

extern void pgcdc_catalog_begin(PgcdcCatalogAccess *access);
extern void pgcdc_catalog_end(PgcdcCatalogAccess *access);

/* Sinks */
extern PgcdcSink pgcdc_catalog_sink_from_name(const char *name);
extern const char *pgcdc_catalog_sink_name(PgcdcSink sink);

/* pgcdc_drasi.sources */
extern PgcdcSourceConfig *pgcdc_catalog_get_source(const char *source_id, PgcdcRowLock lock,
												   bool missing_ok);
extern char *pgcdc_catalog_source_conflict(const char *source_id, const char *slot_name);
extern void pgcdc_catalog_insert_source(const PgcdcSourceConfig *config);
extern bool pgcdc_catalog_delete_source(const char *source_id, char **slot_name,
										char **origin_name);
extern bool pgcdc_catalog_set_enabled(const char *source_id, bool enabled);
extern void pgcdc_catalog_set_sink(const char *source_id, PgcdcSink sink, const char *channel,
								   bool wakeup);
extern bool pgcdc_catalog_get_source_redis(const char *source_id, char **url, char **options);
extern void pgcdc_catalog_set_source_redis(const char *source_id, const char *url,
										   const char *options);
extern void pgcdc_catalog_set_numeric_as_string(const char *source_id, bool on);
extern void pgcdc_catalog_set_failover(const char *source_id, bool failover);
extern void pgcdc_catalog_list_sources(List **source_ids, List **enabled);
extern bool pgcdc_catalog_any_source(void);
extern char *pgcdc_catalog_source_of_publication(const char *publication);

/* pgcdc_drasi.source_progress */
extern bool pgcdc_catalog_get_progress(const char *source_id, PgcdcSourceProgress *progress);
extern void pgcdc_catalog_save_last_seq(const char *source_id, int64 last_seq);
extern void pgcdc_catalog_save_snapshot_lsn(const char *source_id, XLogRecPtr lsn);
extern XLogRecPtr pgcdc_catalog_get_slot_lsn(const char *source_id);
extern void pgcdc_catalog_save_slot_lsn(const char *source_id, XLogRecPtr lsn);
extern void pgcdc_catalog_save_resnapshot(const char *source_id, const char *snapshot,
										  List *relids, XLogRecPtr until);

/* pgcdc_drasi.snapshot_requests */
extern void pgcdc_catalog_add_snapshot_request(const char *source_id, ArrayType *tables,
											   bool resync);
extern bool pgcdc_catalog_resync_requested(const char *source_id);
extern bool pgcdc_catalog_claim_snapshot_requests(const char *source_id, List **relids);

/* pgcdc_drasi.table_keys and table_options */
extern void pgcdc_catalog_get_table_config(const char *source_id, Oid relid,
										   PgcdcTableConfig *config);
extern void pgcdc_catalog_set_table_key(const char *source_id, Oid relid, ArrayType *key_columns);
extern bool pgcdc_catalog_drop_table_key(const char *source_id, Oid relid);
extern void pgcdc_catalog_set_table_label(const char *source_id, Oid relid, const char *label);
extern void pgcdc_catalog_set_excluded_columns(const char *source_id, Oid relid,
											   ArrayType *columns);

/* pgcdc_drasi.consumers */
extern bool pgcdc_catalog_get_consumer(const char *consumer, PgcdcRowLock lock,
									   PgcdcConsumer *out);
extern bool pgcdc_catalog_consumer_exists(const char *consumer);
extern bool pgcdc_catalog_source_has_consumers(const char *source_id);
extern void pgcdc_catalog_insert_consumer(const char *consumer, const char *source_id,
										  int64 acked_seq, Oid owner, bool with_snapshot);
extern void pgcdc_catalog_delete_consumer(const char *consumer);
extern void pgcdc_catalog_ack_consumer(const char *consumer, int64 seq);
extern bool pgcdc_catalog_min_acked_seq(const char *source_id, int64 *min_acked);

/* pgcdc_drasi.targets */
extern char *pgcdc_catalog_target_consumer(const char *target_id);
extern PgcdcTargetConfig *pgcdc_catalog_get_target(const char *target_id, PgcdcRowLock lock,
												   bool missing_ok);
extern void pgcdc_catalog_insert_target(const PgcdcTargetConfig *config);
extern void pgcdc_catalog_update_target(const char *target_id, const char *url,
										const char *options);
extern bool pgcdc_catalog_set_target_enabled(const char *target_id, bool enabled);
extern bool pgcdc_catalog_delete_target(const char *target_id);
extern void pgcdc_catalog_list_targets(List **target_ids, List **source_ids, List **enabled);

#endif							/* PGCDC_CATALOG_H */
