/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		Shared state of all sources and targets: which should run, which
 *		run, their progress and their last error.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/shmem.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_SHMEM_H
#define PGCDC_SHMEM_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"

#define PGCDC_ERROR_MAXLEN		512
#define PGCDC_MAX_PENDING_DBS	64
#define PGCDC_MAX_ORPHAN_ORIGINS	16

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

/* The last error of a source's worker, with everything ereport said. */
typedef struct PgcdcSourceError
{
	TimestampTz time;			/* 0: none since the source was set up */
	char		message[PGCDC_ERROR_MAXLEN];
	char		detail[PGCDC_ERROR_MAXLEN];
	char		hint[PGCDC_ERROR_MAXLEN];
	char		context[PGCDC_ERROR_MAXLEN];
} PgcdcSourceError;

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
	int			procno;			/* of the worker, to set its latch */
	PgcdcSourceState state;
	int			failures;		/* consecutive failed runs, for backoff */
	uint32		config_generation;	/* bumped when the configuration changes */
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
	uint64		key_fallbacks;	/* changes mapped with the replica identity
								 * because their key was not in the WAL */
	uint64		values_unavailable; /* values published as a marker */
	char		waiting_for[PGCDC_ERROR_MAXLEN];	/* what the worker waits
													 * for, if anything */
	TimestampTz last_commit_time;
	char		origin_name[2 * NAMEDATALEN];	/* its replication origin,
												 * once a worker read it */
	PgcdcSourceError last_error;
	ConditionVariable progress_cv;	/* published_lsn advanced; keep it last */
} PgcdcSource;

typedef struct PgcdcShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	int			launcher_procno;
	bool		rescan_all;
	int			npending;
	Oid			pending_dbs[PGCDC_MAX_PENDING_DBS];
	/* origins of sources of dropped databases, for a scanner to drop */
	int			norphans;
	char		orphan_origins[PGCDC_MAX_ORPHAN_ORIGINS][2 * NAMEDATALEN];
	PgcdcSource sources[FLEXIBLE_ARRAY_MEMBER];
} PgcdcShared;

/*
 * Shared state of one target (a delivery worker).  Protected by
 * PgcdcShared->lock like the sources, except the counters, which only the
 * target's worker writes.
 */
typedef struct PgcdcTarget
{
	bool		in_use;
	bool		desired;		/* enabled according to the last scan */
	bool		starting;		/* worker registered, not yet attached */
	bool		failed;			/* last run ended in an error */
	bool		dropped;		/* no longer configured: free once stopped */
	Oid			dboid;
	char		target_id[NAMEDATALEN];
	char		source_id[NAMEDATALEN];
	pid_t		pid;
	int			procno;			/* of the worker, to set its latch */
	PgcdcSourceState state;
	int			failures;		/* consecutive failed runs, for backoff */
	uint32		config_generation;	/* bumped by alter_target */
	TimestampTz next_start;
	TimestampTz started_at;
	uint64		events_delivered;	/* written by this target's worker */
	uint64		duplicates_skipped; /* refused by Redis as already there */
	uint64		retries;		/* failed deliveries retried in place */
	uint64		reconnects;		/* connections to the target after the first */
	TimestampTz last_delivery_time;
	PgcdcSourceError last_error;
} PgcdcTarget;

extern PgcdcShared *pgcdc_shared;
extern PgcdcTarget *pgcdc_targets;

/* Set-up, from the shared memory hooks */
extern void pgcdc_shmem_request(void);
extern void pgcdc_shmem_startup(void);
extern void pgcdc_shmem_require_preloaded(void);

/* Finding sources and waking processes */
extern PgcdcSource *pgcdc_shmem_find_source(Oid dboid, const char *source_id);
extern void pgcdc_shmem_init_source(PgcdcSource *src, Oid dboid, const char *source_id);
extern void pgcdc_shmem_request_rescan(Oid dboid);
extern void pgcdc_shmem_wake_launcher(void);
extern void pgcdc_shmem_retry_now(Oid dboid, const char *source_id);
extern void pgcdc_shmem_bump_config_generation(Oid dboid);
extern const char *pgcdc_shmem_state_name(PgcdcSourceState state);
extern int64 pgcdc_shmem_backoff_delay(int failures);

/* Targets */
extern PgcdcTarget *pgcdc_shmem_find_target(Oid dboid, const char *target_id);
extern void pgcdc_shmem_init_target(PgcdcTarget *tgt, Oid dboid, const char *target_id);
extern void pgcdc_shmem_wake_targets(Oid dboid, const char *source_id);
extern PgcdcTarget *pgcdc_shmem_attach_target(int index);
extern void pgcdc_shmem_detach_target(PgcdcTarget *tgt);
extern bool pgcdc_shmem_target_wanted(PgcdcTarget *tgt);
extern void pgcdc_shmem_set_target_state(PgcdcTarget *tgt, PgcdcSourceState state);
extern void pgcdc_shmem_record_target_error(PgcdcTarget *tgt, const char *message,
											const char *detail);

/* The source worker's own entry */
extern PgcdcSource *pgcdc_shmem_attach_source(int index);
extern void pgcdc_shmem_detach_source(PgcdcSource *src);
extern bool pgcdc_shmem_source_wanted(PgcdcSource *src);
extern void pgcdc_shmem_set_state(PgcdcSource *src, PgcdcSourceState state);
extern void pgcdc_shmem_set_connected(PgcdcSource *src);
extern void pgcdc_shmem_set_origin(PgcdcSource *src, const char *origin_name);
extern void pgcdc_shmem_release_locks(void);
extern void pgcdc_shmem_record_error(PgcdcSource *src, const char *message,
									 const char *detail, const char *hint,
									 const char *context);
extern void pgcdc_shmem_set_waiting(PgcdcSource *src, const char *what);
extern void pgcdc_shmem_set_snapshot_progress(PgcdcSource *src, const char *table,
											  uint64 rows_done, uint64 rows_total);

#endif							/* PGCDC_SHMEM_H */
