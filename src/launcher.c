/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The cluster-wide launcher and the per-database scanners.
 *
 * Sources are configured in tables of each database, but a background
 * worker can connect to one database only.  So the launcher (connected
 * to no database) starts a short-lived scanner in a database whenever it
 * needs to know that database's sources: for every database at launcher
 * start, and afterwards for a database whose pgcdc_drasi.sources changed
 * (a statement trigger asks for it at commit).  Scanners record the
 * sources in shared memory; the launcher starts one worker per enabled
 * source and starts it again, with exponential backoff, when it exits.
 * After a crash the postmaster restarts the launcher, which scans again,
 * so no per-database setting is needed.  Targets (pgcdc_drasi.targets)
 * are read by the same scanners and get one delivery worker each
 * (target.c), started and restarted the same way.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/launcher.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/origin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "compat.h"
#include "fault.h"
#include "launcher.h"
#include "pgcdc_drasi.h"
#include "shmem.h"

#define LAUNCHER_NAPTIME_MS 10000

/* Launcher-local handles of the workers it started, by source index. */
static BackgroundWorkerHandle **source_handles = NULL;

/* The same for delivery workers, by target index. */
static BackgroundWorkerHandle **target_handles = NULL;

/*
 * Register the launcher; called from _PG_init during preload.
 *
 * Not under pg_upgrade: it starts the old and the new cluster in binary
 * upgrade mode (postgres -b), each with the shared_preload_libraries of
 * its configuration, so we are loaded there too.  A source worker would
 * then write queue rows and move its origin in the old cluster after
 * pg_upgrade has checked it and dumped its schema, create origins and
 * slots (or take an initial snapshot) in the new one while its schema is
 * restored and its files are put in place, and from PostgreSQL 17 on it
 * would consume the slots pg_upgrade has just migrated.  PostgreSQL's own
 * logical replication launcher stays away from binary upgrades for the
 * same reason.  Without the launcher nothing of ours starts; the SQL
 * functions still load (pg_upgrade checks that the library does).
 */
void
pgcdc_launcher_register(void)
{
	BackgroundWorker worker;

	if (IsBinaryUpgrade)
	{
		ereport(LOG,
				(errmsg("pgcdc_drasi starts no sources in binary upgrade mode")));
		return;
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pgcdc_drasi");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pgcdc_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgcdc_drasi launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pgcdc_drasi launcher");
	RegisterBackgroundWorker(&worker);
}

/* Clear our registration when the launcher exits. */
static void
launcher_on_exit(int code, Datum arg)
{
	pgcdc_shmem_release_locks();
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	pgcdc_shared->launcher_pid = 0;
	pgcdc_shared->launcher_procno = -1;
	pgcdc_shared->rescan_all = true;
	LWLockRelease(pgcdc_shared->lock);
}

/* Describe a dynamic worker of ours that the launcher watches. */
static void
init_worker(BackgroundWorker *worker, const char *function, const char *type,
			Datum main_arg)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "pgcdc_drasi");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
	worker->bgw_main_arg = main_arg;
	worker->bgw_notify_pid = MyProcPid;
}

/* Start a scanner for one database; false when no worker slot is free. */
static bool
start_scanner(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	init_worker(&worker, "pgcdc_scanner_main", "pgcdc_drasi scanner", ObjectIdGetDatum(dboid));
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgcdc_drasi scanner for database %u", dboid);
	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

/* Start the worker of one source; false when no worker slot is free. */
static bool
start_source_worker(int index, const char *source_id)
{
	BackgroundWorker worker;
	MemoryContext old;
	bool		started;

	init_worker(&worker, "pgcdc_source_main", "pgcdc_drasi source", Int32GetDatum(index));
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgcdc_drasi source %s", source_id);

	if (source_handles[index] != NULL)
	{
		pfree(source_handles[index]);
		source_handles[index] = NULL;
	}
	/* The handle outlives the round of the launcher loop. */
	old = MemoryContextSwitchTo(TopMemoryContext);
	started = RegisterDynamicBackgroundWorker(&worker, &source_handles[index]);
	MemoryContextSwitchTo(old);
	return started;
}

/* Start the delivery worker of one target; false when no worker slot is free. */
static bool
start_target_worker(int index, const char *target_id)
{
	BackgroundWorker worker;
	MemoryContext old;
	bool		started;

	init_worker(&worker, "pgcdc_target_main", "pgcdc_drasi target", Int32GetDatum(index));
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgcdc_drasi target %s", target_id);

	if (target_handles[index] != NULL)
	{
		pfree(target_handles[index]);
		target_handles[index] = NULL;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	started = RegisterDynamicBackgroundWorker(&worker, &target_handles[index]);
	MemoryContextSwitchTo(old);
	return started;
}

/*
 * Oids of the databases a source could live in (connectable_only), or of
 * all databases.
 */
static List *
list_databases(bool connectable_only)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext caller = CurrentMemoryContext;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (connectable_only && (!db->datallowconn || db->datistemplate))
			continue;
		old = MemoryContextSwitchTo(caller);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller);
	return result;
}

/*
 * Start scanners for the databases that asked for one.  A database whose
 * scanner cannot start now stays pending for the next round.
 */
static void
run_scans(void)
{
	List	   *dbs = NIL;
	List	   *failed = NIL;
	bool		all;
	ListCell   *lc;
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	all = pgcdc_shared->rescan_all;
	for (i = 0; i < pgcdc_shared->npending; i++)
		dbs = lappend_oid(dbs, pgcdc_shared->pending_dbs[i]);
	pgcdc_shared->npending = 0;
	pgcdc_shared->rescan_all = false;
	LWLockRelease(pgcdc_shared->lock);

	if (all)
		dbs = list_databases(true);

	foreach(lc, dbs)
	{
		if (!start_scanner(lfirst_oid(lc)))
			failed = lappend_oid(failed, lfirst_oid(lc));
	}

	if (failed != NIL)
	{
		ereport(LOG,
				(errmsg("pgcdc_drasi launcher could not start a scanner for %d database(s), will retry",
						list_length(failed)),
				 errhint("You might need to increase max_worker_processes.")));
		foreach(lc, failed)
			pgcdc_shmem_request_rescan(lfirst_oid(lc));
	}
}

/* Is the entry's worker due to be started now?  Caller holds the lock. */
static bool
start_due(PgcdcSource *src, TimestampTz now)
{
	return src->in_use && src->desired && src->pid == 0 && !src->starting &&
		src->next_start <= now;
}

/*
 * Forget the sources of databases that no longer exist, and have their
 * replication origins dropped (pg_replication_origin is shared, so they
 * would outlive the database).  A database dropped while its source's
 * worker was not running (in backoff after an error) never gets a scanner
 * again, so without this the launcher would start a worker that dies at
 * once, forever.  Only looked at when a worker is due to start.  The
 * launcher, connected to no database, cannot write pg_replication_origin
 * itself: it leaves the names in shared memory and starts a scanner in a
 * database that exists, which drops them.
 */
static void
forget_dropped_databases(void)
{
	TimestampTz now = GetCurrentTimestamp();
	List	   *dbs;
	bool		due = false;
	bool		orphans = false;
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
	for (i = 0; i < pgcdc_max_sources && !due; i++)
		due = start_due(&pgcdc_shared->sources[i], now);
	for (i = 0; i < pgcdc_max_targets && !due; i++)
	{
		PgcdcTarget *tgt = &pgcdc_targets[i];

		due = tgt->in_use && tgt->desired && tgt->pid == 0 && !tgt->starting &&
			tgt->next_start <= now;
	}
	LWLockRelease(pgcdc_shared->lock);
	if (!due)
		return;

	dbs = list_databases(false);
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource *src = &pgcdc_shared->sources[i];

		if (!src->in_use || src->pid != 0 || src->starting ||
			list_member_oid(dbs, src->dboid))
			continue;
		ereport(LOG,
				(errmsg("pgcdc_drasi source \"%s\" is forgotten: its database %u was dropped",
						src->source_id, src->dboid)));
		if (src->origin_name[0] != '\0')
		{
			if (pgcdc_shared->norphans < PGCDC_MAX_ORPHAN_ORIGINS)
			{
				strlcpy(pgcdc_shared->orphan_origins[pgcdc_shared->norphans++],
						src->origin_name, 2 * NAMEDATALEN);
				orphans = true;
			}
			else
				ereport(WARNING,
						(errmsg("replication origin \"%s\" of dropped pgcdc_drasi source \"%s\" is left",
								src->origin_name, src->source_id),
						 errhint("Drop it with pg_replication_origin_drop().")));
		}
		src->in_use = false;
	}
	for (i = 0; i < pgcdc_max_targets; i++)
	{
		PgcdcTarget *tgt = &pgcdc_targets[i];

		if (!tgt->in_use || tgt->pid != 0 || tgt->starting ||
			list_member_oid(dbs, tgt->dboid))
			continue;
		ereport(LOG,
				(errmsg("pgcdc_drasi target \"%s\" is forgotten: its database %u was dropped",
						tgt->target_id, tgt->dboid)));
		tgt->in_use = false;
	}
	LWLockRelease(pgcdc_shared->lock);

	if (orphans)
	{
		List	   *connectable = list_databases(true);

		if (connectable != NIL)
			pgcdc_shmem_request_rescan(linitial_oid(connectable));
	}
}

/*
 * In a scanner: drop the replication origins of sources whose database
 * was dropped (forget_dropped_databases), each in its own transaction.
 * An origin that cannot be dropped (in use) is logged and left.
 */
static void
drop_orphan_origins(void)
{
	char		names[PGCDC_MAX_ORPHAN_ORIGINS][2 * NAMEDATALEN];
	int			n;
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	n = pgcdc_shared->norphans;
	memcpy(names, pgcdc_shared->orphan_origins, sizeof(names));
	pgcdc_shared->norphans = 0;
	LWLockRelease(pgcdc_shared->lock);

	for (i = 0; i < n; i++)
	{
		MemoryContext caller = CurrentMemoryContext;

		PG_TRY();
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			replorigin_drop_by_name(names[i], true, true);
			CommitTransactionCommand();
			ereport(LOG,
					(errmsg("pgcdc_drasi dropped replication origin \"%s\" of a dropped database",
							names[i])));
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(caller);
	}
}

/*
 * Start workers for enabled sources that are not running and whose
 * backoff has passed; return how long to sleep until the next start.
 * Workers are registered outside the shared lock (registering allocates,
 * and an error must not leave the lock held); the entries are marked
 * "starting" first, so nobody else starts them meanwhile.
 */
static long
start_sources(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		sleep_ms = LAUNCHER_NAPTIME_MS;
	List	   *to_start = NIL;
	ListCell   *lc;
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource *src = &pgcdc_shared->sources[i];

		/* A registered worker that died before attaching. */
		if (src->starting && source_handles[i] != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(source_handles[i], &pid) == BGWH_STOPPED &&
				src->pid == 0)
			{
				src->starting = false;
				src->next_start = TimestampTzPlusMilliseconds(now, pgcdc_retry_min_interval);
			}
		}

		if (!src->in_use)
			continue;

		/* Entries of dropped or paused sources go away once stopped. */
		if (!src->desired)
			continue;

		if (src->pid != 0 || src->starting)
			continue;

		if (src->next_start > now)
		{
			long		ms = (long) ((src->next_start - now) / 1000) + 1;

			sleep_ms = Min(sleep_ms, ms);
			continue;
		}

		src->starting = true;
		PGCDC_FAULT("launcher_locked");
		to_start = lappend_int(to_start, i);
	}
	LWLockRelease(pgcdc_shared->lock);

	foreach(lc, to_start)
	{
		int			index = lfirst_int(lc);
		PgcdcSource *src = &pgcdc_shared->sources[index];
		char		source_id[NAMEDATALEN];

		/* Only we clear "starting" before the worker attaches: stable. */
		strlcpy(source_id, src->source_id, NAMEDATALEN);
		if (start_source_worker(index, source_id))
		{
			PGCDC_FAULT("launcher_registered");
			continue;
		}

		LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
		src->starting = false;
		src->next_start = TimestampTzPlusMilliseconds(now, pgcdc_retry_min_interval);
		memset(&src->last_error, 0, sizeof(src->last_error));
		strlcpy(src->last_error.message,
				"could not start a background worker: max_worker_processes is exhausted",
				PGCDC_ERROR_MAXLEN);
		strlcpy(src->last_error.hint, "Increase max_worker_processes.", PGCDC_ERROR_MAXLEN);
		src->last_error.time = now;
		LWLockRelease(pgcdc_shared->lock);
		sleep_ms = Min(sleep_ms, pgcdc_retry_min_interval);
	}

	return sleep_ms;
}

/*
 * Start delivery workers for enabled targets that are not running and
 * whose backoff has passed, as start_sources does for sources; return
 * how long to sleep until the next start.
 */
static long
start_targets(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		sleep_ms = LAUNCHER_NAPTIME_MS;
	List	   *to_start = NIL;
	ListCell   *lc;
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgcdc_max_targets; i++)
	{
		PgcdcTarget *tgt = &pgcdc_targets[i];

		/* A registered worker that died before attaching. */
		if (tgt->starting && target_handles[i] != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(target_handles[i], &pid) == BGWH_STOPPED &&
				tgt->pid == 0)
			{
				tgt->starting = false;
				tgt->next_start = TimestampTzPlusMilliseconds(now, pgcdc_retry_min_interval);
			}
		}
		if (!tgt->in_use || !tgt->desired || tgt->pid != 0 || tgt->starting)
			continue;
		if (tgt->next_start > now)
		{
			long		ms = (long) ((tgt->next_start - now) / 1000) + 1;

			sleep_ms = Min(sleep_ms, ms);
			continue;
		}
		tgt->starting = true;
		to_start = lappend_int(to_start, i);
	}
	LWLockRelease(pgcdc_shared->lock);

	foreach(lc, to_start)
	{
		int			index = lfirst_int(lc);
		PgcdcTarget *tgt = &pgcdc_targets[index];
		char		target_id[NAMEDATALEN];

		strlcpy(target_id, tgt->target_id, NAMEDATALEN);
		if (start_target_worker(index, target_id))
			continue;

		LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
		tgt->starting = false;
		tgt->next_start = TimestampTzPlusMilliseconds(now, pgcdc_retry_min_interval);
		memset(&tgt->last_error, 0, sizeof(tgt->last_error));
		strlcpy(tgt->last_error.message,
				"could not start a background worker: max_worker_processes is exhausted",
				PGCDC_ERROR_MAXLEN);
		strlcpy(tgt->last_error.hint, "Increase max_worker_processes.", PGCDC_ERROR_MAXLEN);
		tgt->last_error.time = now;
		LWLockRelease(pgcdc_shared->lock);
		sleep_ms = Min(sleep_ms, pgcdc_retry_min_interval);
	}

	return sleep_ms;
}

/*
 * At launcher start, no entry can be waiting for a worker that this
 * launcher registered.  A worker registered by a previous launcher that
 * exited (its "starting" set) and that died before attaching would be
 * waited for forever, as only the handle the old launcher had could tell:
 * clear the flag.  Should that worker still start, attaching lets only
 * one worker run a source.
 */
static void
clear_stale_starting(void)
{
	int			i;

	Assert(LWLockHeldByMeInMode(pgcdc_shared->lock, LW_EXCLUSIVE));
	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource *src = &pgcdc_shared->sources[i];

		if (src->starting && src->pid == 0)
			src->starting = false;
	}
	for (i = 0; i < pgcdc_max_targets; i++)
	{
		PgcdcTarget *tgt = &pgcdc_targets[i];

		if (tgt->starting && tgt->pid == 0)
			tgt->starting = false;
	}
}

/* Main of the launcher. */
void
pgcdc_launcher_main(Datum main_arg)
{
	MemoryContext loop_mcxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	source_handles = MemoryContextAllocZero(TopMemoryContext,
											sizeof(BackgroundWorkerHandle *) * pgcdc_max_sources);
	target_handles = MemoryContextAllocZero(TopMemoryContext,
											sizeof(BackgroundWorkerHandle *) * pgcdc_max_targets);

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	pgcdc_shared->launcher_pid = MyProcPid;
	pgcdc_shared->launcher_procno = pgcdc_my_procno();
	pgcdc_shared->rescan_all = true;
	clear_stale_starting();
	LWLockRelease(pgcdc_shared->lock);
	before_shmem_exit(launcher_on_exit, (Datum) 0);

	pgstat_report_activity(STATE_RUNNING, "launching sources");

	/* Everything one round allocates goes when the round is over. */
	loop_mcxt = AllocSetContextCreate(TopMemoryContext, "pgcdc_drasi launcher loop",
									  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		long		sleep_ms;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		old = MemoryContextSwitchTo(loop_mcxt);
		run_scans();
		forget_dropped_databases();
		sleep_ms = start_sources();
		sleep_ms = Min(sleep_ms, start_targets());
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop_mcxt);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Record the sources of this database in shared memory.  Entries of
 * sources that no longer exist are freed once their worker has stopped;
 * entries that cannot be allocated are reported in the log.
 */
static void
sync_sources(Oid dboid, List *ids, List *enabled)
{
	ListCell   *lc1,
			   *lc2;
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);

	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource *src = &pgcdc_shared->sources[i];
		bool		listed = false;

		if (!src->in_use || src->dboid != dboid)
			continue;
		foreach(lc1, ids)
		{
			if (strcmp((char *) lfirst(lc1), src->source_id) == 0)
				listed = true;
		}
		if (!listed)
		{
			src->desired = false;
			src->dropped = true;
			if (src->pid == 0 && !src->starting)
				src->in_use = false;
		}
	}

	forboth(lc1, ids, lc2, enabled)
	{
		const char *id = (const char *) lfirst(lc1);
		PgcdcSource *src = pgcdc_shmem_find_source(dboid, id);

		if (src == NULL)
		{
			for (i = 0; i < pgcdc_max_sources; i++)
			{
				if (!pgcdc_shared->sources[i].in_use)
				{
					src = &pgcdc_shared->sources[i];
					break;
				}
			}
			if (src == NULL)
			{
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("pgcdc_drasi source \"%s\" cannot run: all %d source entries are in use",
								id, pgcdc_max_sources),
						 errhint("Increase pgcdc_drasi.max_sources and restart the server.")));
				continue;
			}
			pgcdc_shmem_init_source(src, dboid, id);
		}
		src->desired = (bool) lfirst_int(lc2);
		src->dropped = false;
	}

	LWLockRelease(pgcdc_shared->lock);
	pgcdc_shmem_wake_launcher();
}

/*
 * Record the targets of this database in shared memory, as sync_sources
 * does for sources.
 */
static void
sync_targets(Oid dboid, List *ids, List *source_ids, List *enabled)
{
	ListCell   *lc1,
			   *lc2,
			   *lc3;
	int			i;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgcdc_max_targets; i++)
	{
		PgcdcTarget *tgt = &pgcdc_targets[i];
		bool		listed = false;

		if (!tgt->in_use || tgt->dboid != dboid)
			continue;
		foreach(lc1, ids)
		{
			if (strcmp((char *) lfirst(lc1), tgt->target_id) == 0)
				listed = true;
		}
		if (!listed)
		{
			tgt->desired = false;
			tgt->dropped = true;
			if (tgt->pid == 0 && !tgt->starting)
				tgt->in_use = false;
		}
	}

	forthree(lc1, ids, lc2, source_ids, lc3, enabled)
	{
		const char *id = (const char *) lfirst(lc1);
		PgcdcTarget *tgt = pgcdc_shmem_find_target(dboid, id);

		if (tgt == NULL)
		{
			for (i = 0; i < pgcdc_max_targets; i++)
			{
				if (!pgcdc_targets[i].in_use)
				{
					tgt = &pgcdc_targets[i];
					break;
				}
			}
			if (tgt == NULL)
			{
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("pgcdc_drasi target \"%s\" cannot run: all %d target entries are in use",
								id, pgcdc_max_targets),
						 errhint("Increase pgcdc_drasi.max_targets and restart the server.")));
				continue;
			}
			pgcdc_shmem_init_target(tgt, dboid, id);
		}
		strlcpy(tgt->source_id, (const char *) lfirst(lc2), NAMEDATALEN);
		tgt->desired = (bool) lfirst_int(lc3);
		tgt->dropped = false;
	}

	LWLockRelease(pgcdc_shared->lock);
	pgcdc_shmem_wake_launcher();
}

/* Main of a scanner: read this database's sources and exit. */
void
pgcdc_scanner_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	List	   *ids = NIL;
	List	   *enabled = NIL;
	List	   *target_ids = NIL;
	List	   *target_sources = NIL;
	List	   *target_enabled = NIL;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgcdc_pin_worker_settings();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "scanning pgcdc_drasi sources");

	if (OidIsValid(get_extension_oid(PGCDC_EXTENSION_NAME, true)))
	{
		pgcdc_catalog_list_sources(&ids, &enabled);
		pgcdc_catalog_list_targets(&target_ids, &target_sources, &target_enabled);
	}

	sync_sources(dboid, ids, enabled);
	sync_targets(dboid, target_ids, target_sources, target_enabled);
	PopActiveSnapshot();
	CommitTransactionCommand();
	drop_orphan_origins();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
