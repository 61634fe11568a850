/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		Shared state of all sources: which should run, which run, and
 *		their progress.
 *
 * The configuration tables are per database, but workers are started
 * by one cluster-wide launcher; this array is where the two meet.  It is
 * rebuilt from the tables after every server start or crash.
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
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"

#include "pgcdc_drasi.h"

PgcdcShared *pgcdc_shared = NULL;

/* Bytes of shared memory we need. */
static Size
pgcdc_shmem_size(void)
{
	return add_size(offsetof(PgcdcShared, sources),
					mul_size(pgcdc_max_sources, sizeof(PgcdcSource)));
}

/* Reserve memory and a lock; called from the shmem_request hook. */
void
pgcdc_shmem_request(void)
{
	RequestAddinShmemSpace(pgcdc_shmem_size());
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
		pgcdc_shared->launcher_pgprocno = -1;
		pgcdc_shared->rescan_all = true;
		for (i = 0; i < pgcdc_max_sources; i++)
			ConditionVariableInit(&pgcdc_shared->sources[i].progress_cv);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Fail clearly when the library was not preloaded: without the preload
 * there is no shared state and no launcher, so nothing would ever run.
 */
void
pgcdc_require_preloaded(void)
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
pgcdc_source_find(Oid dboid, const char *source_id)
{
	int			i;

	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource *src = &pgcdc_shared->sources[i];

		if (src->in_use && src->dboid == dboid &&
			strcmp(src->source_id, source_id) == 0)
			return src;
	}
	return NULL;
}

/* Set the launcher's latch, if it runs. */
void
pgcdc_wake_launcher(void)
{
	int			procno = pgcdc_shared->launcher_pgprocno;

	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/*
 * Ask the launcher to re-read the sources of a database.  Called at
 * commit of any change to pgcdc_drasi.sources.
 */
void
pgcdc_request_rescan(Oid dboid)
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
	pgcdc_wake_launcher();
}

/*
 * Tell the workers of a database that table keys changed, so they
 * resolve keys again before the next change they map.
 */
void
pgcdc_bump_config_generation(Oid dboid)
{
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource *src = &pgcdc_shared->sources[i];

		if (src->in_use && src->dboid == dboid)
		{
			src->config_generation++;
			if (src->pid != 0 && src->pgprocno >= 0)
				SetLatch(&ProcGlobal->allProcs[src->pgprocno].procLatch);
		}
	}
	LWLockRelease(pgcdc_shared->lock);
}

/* Name of a state as shown in the status view. */
const char *
pgcdc_state_name(PgcdcSourceState state)
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
