/*-------------------------------------------------------------------------
 *
 * pgcdc_drasi.h
 *		Declarations shared by the layers of pgcdc_drasi.
 *
 * The layers, from the outside in: the SQL API (sql_common.c,
 * sql_sources.c, sql_consumers.c, sql_snapshots.c) and the launcher
 * (launcher.c) manage sources through shared memory (shmem.c); each
 * source worker (worker.c) reads the replication stream (walstream.c),
 * decodes pgoutput (decode.c), maps rows to Drasi node events (mapping.c,
 * value.c), takes snapshots of its tables (bootstrap.c) and writes the
 * events to the queue (sink_queue.c) and to NOTIFY (sink_notify.c).
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/pgcdc_drasi.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_DRASI_H
#define PGCDC_DRASI_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "replication/logicalproto.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "utils/jsonb.h"

#define PGCDC_EXTENSION_NAME	"pgcdc_drasi"
#define PGCDC_SCHEMA_NAME		"pgcdc_drasi"
#define PGCDC_SOURCE_ID_MAXLEN	48
#define PGCDC_ERROR_MAXLEN		512

/* GUC variables (init.c) */
extern int	pgcdc_max_sources;
extern char *pgcdc_conninfo;
extern int	pgcdc_retry_min_interval;
extern int	pgcdc_retry_max_interval;
extern int	pgcdc_create_slot_timeout;
extern int	pgcdc_batch_size;
extern int	pgcdc_group_timeout;
extern int	pgcdc_retention;
extern int	pgcdc_notify_max_pending;
extern double pgcdc_notify_max_usage;

/* Life cycle of a source worker, as shown in pgcdc_drasi.status. */
typedef enum PgcdcSourceState
{
	PGCDC_STATE_STOPPED = 0,
	PGCDC_STATE_STARTING,
	PGCDC_STATE_CONNECTING,
	PGCDC_STATE_SNAPSHOT,
	PGCDC_STATE_STREAMING,
	PGCDC_STATE_ERROR
} PgcdcSourceState;

/*
 * Shared state of one source.  The launcher, the scanners, the source
 * worker and SQL functions all read it; fields are protected by
 * PgcdcShared->lock except the progress counters, which only the source
 * worker writes (and which are read without strict consistency).
 */
typedef struct PgcdcSource
{
	bool		in_use;
	bool		desired;		/* enabled according to the last scan */
	bool		starting;		/* worker registered, not yet attached */
	bool		failed;			/* last run ended in an error */
	bool		dropped;		/* no longer configured: free once stopped */
	Oid			dboid;
	char		source_id[NAMEDATALEN];
	pid_t		pid;
	int			pgprocno;		/* of the worker, to set its latch */
	PgcdcSourceState state;
	int			failures;		/* consecutive failed runs, for backoff */
	uint32		config_generation;	/* bumped when table keys change */
	TimestampTz next_start;
	TimestampTz started_at;
	XLogRecPtr	received_lsn;
	XLogRecPtr	published_lsn;
	XLogRecPtr	flushed_lsn;
	uint64		events;
	uint64		xacts;
	uint64		reconnects;
	uint64		notifications;
	uint64		notifications_skipped;
	char		snapshot_table[2 * NAMEDATALEN];	/* table being snapshotted */
	uint64		snapshot_rows_done;
	uint64		snapshot_rows_total;	/* estimate */
	TimestampTz last_commit_time;
	TimestampTz last_error_time;
	char		last_error[PGCDC_ERROR_MAXLEN];
	ConditionVariable progress_cv;	/* published_lsn advanced */
} PgcdcSource;

#define PGCDC_MAX_PENDING_DBS 64

typedef struct PgcdcShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	int			launcher_pgprocno;
	bool		rescan_all;
	int			npending;
	Oid			pending_dbs[PGCDC_MAX_PENDING_DBS];
	PgcdcSource sources[FLEXIBLE_ARRAY_MEMBER];
} PgcdcShared;

/* shmem.c */
extern PgcdcShared *pgcdc_shared;
extern void pgcdc_shmem_request(void);
extern void pgcdc_shmem_startup(void);
extern void pgcdc_require_preloaded(void);
extern PgcdcSource *pgcdc_source_find(Oid dboid, const char *source_id);
extern void pgcdc_request_rescan(Oid dboid);
extern void pgcdc_wake_launcher(void);
extern void pgcdc_bump_config_generation(Oid dboid);
extern const char *pgcdc_state_name(PgcdcSourceState state);

/* launcher.c */
extern void pgcdc_register_launcher(void);
extern PGDLLEXPORT void pgcdc_launcher_main(Datum main_arg);
extern PGDLLEXPORT void pgcdc_scanner_main(Datum main_arg);

/* worker.c */
extern PGDLLEXPORT void pgcdc_source_main(Datum main_arg);

/* walstream.c: the replication connection */
typedef struct PgcdcStream PgcdcStream;
extern PgcdcStream *pgcdc_stream_connect(const char *conninfo, const char *appname);
extern void pgcdc_stream_start(PgcdcStream *stream, const char *slot_name,
							   const char *publication, XLogRecPtr startpos);
extern int	pgcdc_stream_receive(PgcdcStream *stream, char **buf, pgsocket *wait_fd);
extern void pgcdc_stream_send_feedback(PgcdcStream *stream, XLogRecPtr write_lsn,
									   XLogRecPtr flush_lsn, bool request_reply);
extern void pgcdc_stream_disconnect(PgcdcStream *stream);
extern char *pgcdc_stream_create_slot(PgcdcStream *stream, const char *slot_name,
									  XLogRecPtr *consistent_lsn);
extern void pgcdc_stream_drop_slot(PgcdcStream *stream, const char *slot_name);
extern char *pgcdc_build_conninfo(const char *override, const char *dbname,
								  const char *username);

/* decode.c: framing and pgoutput messages */
typedef struct PgcdcWalHeader
{
	char		kind;			/* 'w' (XLogData) or 'k' (keepalive) */
	XLogRecPtr	data_start;
	XLogRecPtr	wal_end;
	bool		reply_requested;
} PgcdcWalHeader;

typedef struct PgcdcChange
{
	LogicalRepMsgType action;
	LogicalRepBeginData begin;
	LogicalRepCommitData commit;
	LogicalRepRelation *relation;
	LogicalRepRelId relid;
	bool		has_old;
	LogicalRepTupleData oldtup;
	LogicalRepTupleData newtup;
	List	   *truncated;		/* relids, for TRUNCATE */
} PgcdcChange;

extern void pgcdc_decode_header(StringInfo msg, PgcdcWalHeader *hdr);
extern void pgcdc_decode_change(StringInfo msg, PgcdcChange *change);

/*
 * value.c: one conversion of column values to JSON, shared by the stream
 * and the snapshots.  Its input is always a value's text output form.
 */
typedef struct PgcdcValueType PgcdcValueType;

extern PgcdcValueType *pgcdc_value_type(Oid typid);
extern void pgcdc_append_json_value(StringInfo buf, PgcdcValueType *type,
									const char *text, int len);
extern void pgcdc_append_json_value_opts(StringInfo buf, PgcdcValueType *type,
										 const char *text, int len,
										 bool numeric_as_string);
extern void pgcdc_value_to_jsonb(JsonbValue *out, PgcdcValueType *type,
								 const char *text, int len, bool numeric_as_string);
extern void pgcdc_append_key_value(StringInfo buf, PgcdcValueType *type,
								   const char *text, int len, bool escape);

/* mapping.c: relations, element ids and events */
typedef struct PgcdcTxContext
{
	const char *source_id;
	Oid			owner;
	TransactionId xid;
	uint64		full_xid;
	XLogRecPtr	commit_lsn;
	TimestampTz commit_time;
	int			tx_index;		/* events emitted so far in this transaction */
	TimestampTz received_at;
	int64		last_seq;		/* last seq used by the source */
	bool		snapshot;		/* events describe a snapshot, not changes */
	Datum		snapshot_datum; /* pg_snapshot of that snapshot */
} PgcdcTxContext;

typedef struct PgcdcEvent
{
	char		op;				/* 'i', 'u', 'd' or 't' */
	int64		seq;
	int			tx_index;
	const char *label;
	const char *element_id;		/* NULL for 't' */
	char		opstr[2];
	Jsonb *jsonb;		/* the event */
	char	   *text;			/* its text, once a sink asked for it */
	int			textlen;
} PgcdcEvent;

typedef void (*PgcdcEmitFn) (PgcdcTxContext *tx, PgcdcEvent *event, void *arg);

typedef struct PgcdcRelCache PgcdcRelCache;

extern PgcdcRelCache *pgcdc_relcache_create(const char *source_id, Oid owner,
											MemoryContext parent);
extern void pgcdc_relcache_update(PgcdcRelCache *cache, LogicalRepRelation *remoterel);
extern void pgcdc_relcache_invalidate_keys(PgcdcRelCache *cache);
extern MemoryContext pgcdc_relcache_context(PgcdcRelCache *cache);
extern const char *pgcdc_relcache_label(PgcdcRelCache *cache, LogicalRepRelId relid);
extern void pgcdc_relcache_set_numeric_as_string(PgcdcRelCache *cache, bool on);
extern void pgcdc_map_change(PgcdcRelCache *cache, PgcdcTxContext *tx, PgcdcChange *change,
							 PgcdcEmitFn emit, void *arg);
extern Jsonb *pgcdc_map_element(PgcdcRelCache *cache, LogicalRepRelId relid,
									   LogicalRepTupleData *tup);
extern const char *pgcdc_event_text(PgcdcEvent *ev, int *len);

/* bootstrap.c: snapshots of a source's tables */
typedef struct PgcdcSnapshotScan PgcdcSnapshotScan;
typedef void (*PgcdcSnapshotRowFn) (PgcdcRelCache *cache, Oid relid,
									LogicalRepTupleData *tup, void *arg);

extern PgcdcSnapshotScan *pgcdc_snapshot_begin(PgcdcRelCache *cache, const char *publication,
											   List *labels, List *relids);
extern uint64 pgcdc_snapshot_fetch(PgcdcSnapshotScan *scan, PgcdcSnapshotRowFn fn, void *arg);
extern void pgcdc_snapshot_progress(PgcdcSnapshotScan *scan, Oid *relid, uint64 *rows_done,
									double *estimate);
extern void pgcdc_snapshot_end(PgcdcSnapshotScan *scan);
extern List *pgcdc_snapshot_relids(PgcdcSnapshotScan *scan);
extern int	pgcdc_snapshot_settings(void);

/* sink_queue.c */
extern void pgcdc_queue_begin(void);
extern void pgcdc_progress_save(const char *source_id, int64 last_seq);
extern void pgcdc_queue_append(PgcdcTxContext *tx, PgcdcEvent *event);
extern void pgcdc_queue_flush(void);
extern void pgcdc_queue_end(void);

/* sink_notify.c */
typedef enum PgcdcSink
{
	PGCDC_SINK_QUEUE = 1,
	PGCDC_SINK_NOTIFY = 2,
	PGCDC_SINK_BOTH = 3
} PgcdcSink;

extern uint64 pgcdc_notify_sent;
extern uint64 pgcdc_notify_skipped;
extern PgcdcSink pgcdc_sink_from_name(const char *name);
extern void pgcdc_notify_begin_group(void);
extern bool pgcdc_notify_event(const char *channel, PgcdcTxContext *tx, PgcdcEvent *event,
							   bool queue_has_it);
extern void pgcdc_notify_end_group(const char *channel, const char *source_id,
								   int64 first_seq, int64 last_seq, bool wakeup);

#endif							/* PGCDC_DRASI_H */
