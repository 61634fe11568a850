/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		Shared state of all sources and targets: which should run, which
 *		run, and their progress.
 *
 * The configuration tables are per database, but workers are started
 * by one cluster-wide launcher; this array is where the two meet.  It is
 * rebuilt from the tables after every server start or crash.  This file
 * is also where a source worker attaches to its entry, reports its state
 * and errors, and detaches (scheduling its next start) when it exits.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "compat.h"
#include "fault.h"
#include "pgcdc_drasi.h"
#include "shmem.h"

PgcdcShared *pgcdc_shared = NULL;
PgcdcTarget *pgcdc_targets = NULL;

/* Bytes of shared memory we need for the sources. */
static Size
pgcdc_shmem_size(void)
{
	return add_size(offsetof(PgcdcShared, sources),
					mul_size(pgcdc_max_sources, sizeof(PgcdcSource)));
}

/* Bytes of shared memory we need for the targets. */
static Size
pgcdc_targets_size(void)
{
	return mul_size(pgcdc_max_targets, sizeof(PgcdcTarget));
}

/* Reserve memory and a lock; called from the shmem_request hook. */
void
pgcdc_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(pgcdc_shmem_size(), pgcdc_targets_size()));
	RequestNamedLWLockTranche(PGCDC_EXTENSION_NAME, 1);
}

/* Create or attach to the shared state; called at (re)initialisation. */
void
pgcdc_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgcdc_shared = ShmemInitStruct(PGCDC_EXTENSION_NAME, pgcdc_shmem_size(), &found);
	if (!found)
	{
		int			i;

		memset(pgcdc_shared, 0, pgcdc_shmem_size());
		pgcdc_shared->lock = &(GetNamedLWLockTranche(PGCDC_EXTENSION_NAME))->lock;
		pgcdc_shared->launcher_procno = -1;
		pgcdc_shared->rescan_all = true;
		for (i = 0; i < pgcdc_max_sources; i++)
			ConditionVariableInit(&pgcdc_shared->sources[i].progress_cv);
	}
	pgcdc_targets = ShmemInitStruct(PGCDC_EXTENSION_NAME " targets", pgcdc_targets_size(), &found);
	if (!found)
		memset(pgcdc_targets, 0, pgcdc_targets_size());
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Fail clearly when the library was not preloaded: without the preload
 * there is no shared state and no launcher, so nothing would ever run.
 */
void
pgcdc_shmem_require_preloaded(void)
{
	if (pgcdc_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgcdc_drasi is not loaded through shared_preload_libraries"),
				 errdetail("Sources are run by background workers that exist only when the library is preloaded."),
				 errhint("Add pgcdc_drasi to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* The entry of a source, or NULL.  Caller holds the lock. */
PgcdcSource *
pgcdc_shmem_find_source(Oid dboid, const char *source_id)
{
	int			i;

	Assert(LWLockHeldByMe(pgcdc_shared->lock));
	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource *src = &pgcdc_shared->sources[i];

		if (src->in_use && src->dboid == dboid &&
			strcmp(src->source_id, source_id) == 0)
			return src;
	}
	return NULL;
}

/*
 * Make a free entry the entry of a source: nothing of a previous source
 * survives but the condition variable, which is never touched (a waiter
 * of wait_for_catchup may still be on it, under its own spinlock).
 * Caller holds the lock exclusively.
 */
void
pgcdc_shmem_init_source(PgcdcSource *src, Oid dboid, const char *source_id)
{
	StaticAssertStmt(sizeof(PgcdcSource) - offsetof(PgcdcSource, progress_cv) <
					 sizeof(ConditionVariable) + MAXIMUM_ALIGNOF,
					 "progress_cv must be the last field of PgcdcSource");
	Assert(LWLockHeldByMeInMode(pgcdc_shared->lock, LW_EXCLUSIVE));
	Assert(!src->in_use);
	memset(src, 0, offsetof(PgcdcSource, progress_cv));
	src->in_use = true;
	src->dboid = dboid;
	strlcpy(src->source_id, source_id, NAMEDATALEN);
	src->procno = -1;
	src->state = PGCDC_STATE_STOPPED;
}

/* Set the launcher's latch, if it runs. */
void
pgcdc_shmem_wake_launcher(void)
{
	int			procno = pgcdc_shared->launcher_procno;

	if (procno >= 0)
		pgcdc_set_latch_of(procno);
}

/*
 * Let the launcher start a source's worker without waiting out the
 * backoff of its failures: the caller (resync_source) has just removed
 * their cause, and the user expects the source back at once.
 */
void
pgcdc_shmem_retry_now(Oid dboid, const char *source_id)
{
	PgcdcSource *src;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	src = pgcdc_shmem_find_source(dboid, source_id);
	if (src != NULL)
	{
		src->failures = 0;
		src->next_start = 0;
	}
	LWLockRelease(pgcdc_shared->lock);
}

/*
 * Ask the launcher to re-read the sources of a database.  Called at
 * commit of any change to pgcdc_drasi.sources.
 */
void
pgcdc_shmem_request_rescan(Oid dboid)
{
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgcdc_shared->npending; i++)
		if (pgcdc_shared->pending_dbs[i] == dboid)
			break;
	if (i == pgcdc_shared->npending)
	{
		if (pgcdc_shared->npending < PGCDC_MAX_PENDING_DBS)
			pgcdc_shared->pending_dbs[pgcdc_shared->npending++] = dboid;
		else
			pgcdc_shared->rescan_all = true;
	}
	LWLockRelease(pgcdc_shared->lock);
	pgcdc_shmem_wake_launcher();
}

/*
 * Tell the workers of a database that their configuration changed, so
 * they read it again before the next change they map.
 */
void
pgcdc_shmem_bump_config_generation(Oid dboid)
{
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource *src = &pgcdc_shared->sources[i];

		if (src->in_use && src->dboid == dboid)
		{
			src->config_generation++;
			if (src->pid != 0 && src->procno >= 0)
				pgcdc_set_latch_of(src->procno);
		}
	}
	for (i = 0; i < pgcdc_max_targets; i++)
	{
		PgcdcTarget *tgt = &pgcdc_targets[i];

		if (tgt->in_use && tgt->dboid == dboid)
		{
			tgt->config_generation++;
			if (tgt->pid != 0 && tgt->procno >= 0)
				pgcdc_set_latch_of(tgt->procno);
		}
	}
	LWLockRelease(pgcdc_shared->lock);
}

/* Name of a state as shown in the status view. */
const char *
pgcdc_shmem_state_name(PgcdcSourceState state)
{
	switch (state)
	{
		case PGCDC_STATE_STOPPED:
			return "stopped";
		case PGCDC_STATE_STARTING:
			return "starting";
		case PGCDC_STATE_CONNECTING:
			return "connecting";
		case PGCDC_STATE_SNAPSHOT:
			return "snapshot";
		case PGCDC_STATE_STREAMING:
			return "streaming";
		case PGCDC_STATE_ERROR:
			return "error";
	}
	return "unknown";
}

/*
 * The delay before attempt number failures + 1 after that many
 * consecutive failures: pgcdc_drasi.retry_min_interval, doubled with each
 * failure after the first, at most pgcdc_drasi.retry_max_interval (ms).
 */
int64
pgcdc_shmem_backoff_delay(int failures)
{
	int64		delay = pgcdc_retry_min_interval;
	int			i;

	for (i = 1; i < failures && delay < pgcdc_retry_max_interval; i++)
		delay *= 2;
	return Min(delay, pgcdc_retry_max_interval);
}

/*
 * Attach the calling source worker to entry index.  Returns NULL when
 * the entry no longer wants a worker (paused, dropped, or another worker
 * got there first), in which case the caller exits.
 */
PgcdcSource *
pgcdc_shmem_attach_source(int index)
{
	PgcdcSource *src;

	if (index < 0 || index >= pgcdc_max_sources)
		elog(ERROR, "invalid source index %d", index);

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	src = &pgcdc_shared->sources[index];
	if (!src->in_use || !src->desired || src->pid != 0)
	{
		src->starting = false;
		LWLockRelease(pgcdc_shared->lock);
		return NULL;
	}
	src->pid = MyProcPid;
	src->procno = pgcdc_my_procno();
	src->starting = false;

	/*
	 * A run counts as failed until the worker has connected to its database:
	 * one that cannot (the database was dropped, or does not accept
	 * connections) dies FATAL without a chance to say so, and must back off
	 * like any other failure.
	 */
	src->failed = true;
	src->state = PGCDC_STATE_STARTING;
	if (src->started_at != 0)
		src->reconnects++;
	src->started_at = GetCurrentTimestamp();
	LWLockRelease(pgcdc_shared->lock);
	return src;
}

/*
 * Detach the exiting worker from its entry, and schedule the next start:
 * soon after a clean stop, with doubling delays after consecutive
 * failures.  Waiters of wait_for_catchup and the launcher are woken.
 */
void
pgcdc_shmem_detach_source(PgcdcSource *src)
{
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	if (src->pid == MyProcPid)
	{
		int64		delay = pgcdc_retry_min_interval;

		/* A run that lasted longer than the longest delay starts afresh. */
		if (src->started_at != 0 &&
			TimestampDifferenceExceeds(src->started_at, now, pgcdc_retry_max_interval))
			src->failures = 0;
		if (src->failed)
		{
			src->failures++;
			delay = pgcdc_shmem_backoff_delay(src->failures);
			src->state = PGCDC_STATE_ERROR;
		}
		else
			src->state = PGCDC_STATE_STOPPED;
		src->next_start = TimestampTzPlusMilliseconds(now, delay);
		src->pid = 0;
		src->procno = -1;
		src->starting = false;
		if (src->dropped)
			src->in_use = false;
	}
	LWLockRelease(pgcdc_shared->lock);
	ConditionVariableBroadcast(&src->progress_cv);
	pgcdc_shmem_wake_launcher();
}

/*
 * The worker is connected to its database: from now on, its run counts
 * as failed only if it reports an error.
 */
void
pgcdc_shmem_set_connected(PgcdcSource *src)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	PGCDC_FAULT("source_connected");
	src->failed = false;
	LWLockRelease(pgcdc_shared->lock);
}

/*
 * Remember the source's replication origin, so that the launcher can drop
 * it should the source's database be dropped while no worker runs.
 */
void
pgcdc_shmem_set_origin(PgcdcSource *src, const char *origin_name)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	PGCDC_FAULT("source_origin");
	strlcpy(src->origin_name, origin_name, sizeof(src->origin_name));
	LWLockRelease(pgcdc_shared->lock);
}

/*
 * Release every LWLock this process holds.  Called first by exit
 * callbacks and error handlers that take the shared lock: an ERROR raised
 * while a lock was held (out of memory, say) leaves it held, and taking
 * it again would wait forever for ourselves, and so would every other
 * process.  Transaction abort does the same, but these run outside one.
 */
void
pgcdc_shmem_release_locks(void)
{
	LWLockReleaseAll();
}

/* Is the source still enabled (not paused, not dropped)? */
bool
pgcdc_shmem_source_wanted(PgcdcSource *src)
{
	bool		desired;

	LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
	desired = src->desired;
	LWLockRelease(pgcdc_shared->lock);
	return desired;
}

/* Publish the worker's state. */
void
pgcdc_shmem_set_state(PgcdcSource *src, PgcdcSourceState state)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	src->state = state;
	LWLockRelease(pgcdc_shared->lock);
}

/*
 * Record an error for the status view, with its detail, hint and
 * context; the log gets it as usual.  The run counts as failed.
 */
void
pgcdc_shmem_record_error(PgcdcSource *src, const char *message, const char *detail,
						 const char *hint, const char *context)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	src->failed = true;
	src->state = PGCDC_STATE_ERROR;
	strlcpy(src->last_error.message, message ? message : "unknown error", PGCDC_ERROR_MAXLEN);
	strlcpy(src->last_error.detail, detail ? detail : "", PGCDC_ERROR_MAXLEN);
	strlcpy(src->last_error.hint, hint ? hint : "", PGCDC_ERROR_MAXLEN);
	strlcpy(src->last_error.context, context ? context : "", PGCDC_ERROR_MAXLEN);
	src->last_error.time = GetCurrentTimestamp();
	LWLockRelease(pgcdc_shared->lock);
}

/*
 * Show which table a snapshot reads and how far it got; a NULL table
 * ends the snapshot's progress report.
 */
void
pgcdc_shmem_set_snapshot_progress(PgcdcSource *src, const char *table,
								  uint64 rows_done, uint64 rows_total)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	strlcpy(src->snapshot_table, table ? table : "", sizeof(src->snapshot_table));
	src->snapshot_rows_done = rows_done;
	src->snapshot_rows_total = rows_total;
	LWLockRelease(pgcdc_shared->lock);
}

/* Show what the worker waits for (NULL: nothing), in the status view. */
void
pgcdc_shmem_set_waiting(PgcdcSource *src, const char *what)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	strlcpy(src->waiting_for, what ? what : "", sizeof(src->waiting_for));
	LWLockRelease(pgcdc_shared->lock);
}

/* The entry of a target, or NULL.  Caller holds the lock. */
PgcdcTarget *
pgcdc_shmem_find_target(Oid dboid, const char *target_id)
{
	int			i;

	Assert(LWLockHeldByMe(pgcdc_shared->lock));
	for (i = 0; i < pgcdc_max_targets; i++)
	{
		PgcdcTarget *tgt = &pgcdc_targets[i];

		if (tgt->in_use && tgt->dboid == dboid && strcmp(tgt->target_id, target_id) == 0)
			return tgt;
	}
	return NULL;
}

/* Make a free entry the entry of a target.  Caller holds the lock exclusively. */
void
pgcdc_shmem_init_target(PgcdcTarget *tgt, Oid dboid, const char *target_id)
{
	Assert(LWLockHeldByMeInMode(pgcdc_shared->lock, LW_EXCLUSIVE));
	Assert(!tgt->in_use);
	memset(tgt, 0, sizeof(PgcdcTarget));
	tgt->in_use = true;
	tgt->dboid = dboid;
	strlcpy(tgt->target_id, target_id, NAMEDATALEN);
	tgt->procno = -1;
	tgt->state = PGCDC_STATE_STOPPED;
}

/*
 * Wake the delivery workers of a source: it has just committed new
 * events.  Called by the source worker after each local commit.
 */
void
pgcdc_shmem_wake_targets(Oid dboid, const char *source_id)
{
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
	for (i = 0; i < pgcdc_max_targets; i++)
	{
		PgcdcTarget *tgt = &pgcdc_targets[i];

		if (tgt->in_use && tgt->pid != 0 && tgt->procno >= 0 && tgt->dboid == dboid &&
			strcmp(tgt->source_id, source_id) == 0)
			pgcdc_set_latch_of(tgt->procno);
	}
	LWLockRelease(pgcdc_shared->lock);
}

/*
 * Attach the calling delivery worker to entry index; NULL when the entry
 * no longer wants a worker (the caller exits).  As for sources, the run
 * counts as failed until the worker is connected to its database.
 */
PgcdcTarget *
pgcdc_shmem_attach_target(int index)
{
	PgcdcTarget *tgt;

	if (index < 0 || index >= pgcdc_max_targets)
		elog(ERROR, "invalid target index %d", index);

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	tgt = &pgcdc_targets[index];
	if (!tgt->in_use || !tgt->desired || tgt->pid != 0)
	{
		tgt->starting = false;
		LWLockRelease(pgcdc_shared->lock);
		return NULL;
	}
	tgt->pid = MyProcPid;
	tgt->procno = pgcdc_my_procno();
	tgt->starting = false;
	tgt->failed = true;
	tgt->state = PGCDC_STATE_STARTING;
	tgt->started_at = GetCurrentTimestamp();
	LWLockRelease(pgcdc_shared->lock);
	return tgt;
}

/*
 * Detach the exiting delivery worker and schedule its next start, with
 * the same backoff as source workers.
 */
void
pgcdc_shmem_detach_target(PgcdcTarget *tgt)
{
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	if (tgt->pid == MyProcPid)
	{
		int64		delay = pgcdc_retry_min_interval;

		if (tgt->started_at != 0 &&
			TimestampDifferenceExceeds(tgt->started_at, now, pgcdc_retry_max_interval))
			tgt->failures = 0;
		if (tgt->failed)
		{
			tgt->failures++;
			delay = pgcdc_shmem_backoff_delay(tgt->failures);
			tgt->state = PGCDC_STATE_ERROR;
		}
		else
			tgt->state = PGCDC_STATE_STOPPED;
		tgt->next_start = TimestampTzPlusMilliseconds(now, delay);
		tgt->pid = 0;
		tgt->procno = -1;
		tgt->starting = false;
		if (tgt->dropped)
			tgt->in_use = false;
	}
	LWLockRelease(pgcdc_shared->lock);
	pgcdc_shmem_wake_launcher();
}

/* Is the target still enabled (not paused, not dropped)? */
bool
pgcdc_shmem_target_wanted(PgcdcTarget *tgt)
{
	bool		desired;

	LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
	desired = tgt->desired;
	LWLockRelease(pgcdc_shared->lock);
	return desired;
}

/* Publish the delivery worker's state; any state but error clears "failed". */
void
pgcdc_shmem_set_target_state(PgcdcTarget *tgt, PgcdcSourceState state)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	tgt->state = state;
	if (state != PGCDC_STATE_ERROR)
		tgt->failed = false;
	LWLockRelease(pgcdc_shared->lock);
}

/*
 * Record a delivery error for target_status (state "error").  The message
 * and detail must not hold the target's url (it may hold a password).
 */
void
pgcdc_shmem_record_target_error(PgcdcTarget *tgt, const char *message, const char *detail)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	tgt->failed = true;
	tgt->state = PGCDC_STATE_ERROR;
	strlcpy(tgt->last_error.message, message ? message : "unknown error", PGCDC_ERROR_MAXLEN);
	strlcpy(tgt->last_error.detail, detail ? detail : "", PGCDC_ERROR_MAXLEN);
	tgt->last_error.hint[0] = '\0';
	tgt->last_error.context[0] = '\0';
	tgt->last_error.time = GetCurrentTimestamp();
	LWLockRelease(pgcdc_shared->lock);
}
