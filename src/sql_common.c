/*-------------------------------------------------------------------------
 *
 * sql_common.c
 *		What the SQL functions share: acting as the superuser on our tables,
 *		argument checks, transaction callbacks, slot creation and stopping
 *		a worker.
 *
 * The SQL functions are executable by pgcdc_drasi_admin (configuration)
 * and pgcdc_drasi_reader (reading); neither owns the configuration
 * tables.  Checks run as the caller; our tables are then read and written
 * through catalog.c, as the bootstrap superuser with a pinned search_path,
 * so no caller's function or operator ever runs with those privileges.
 * Changes that the launcher or the workers must see are announced at
 * commit only.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_common.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/catalog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "replication/slot.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "catalog.h"
#include "compat.h"
#include "pgcdc_drasi.h"
#include "shmem.h"
#include "sql_common.h"

PG_FUNCTION_INFO_V1(pgcdc_drasi_sources_changed);

#define STOP_WORKER_TIMEOUT_MS 60000

/* A slot create_source made, to drop if its transaction rolls back. */
typedef struct CreatedSlot
{
	char		name[NAMEDATALEN];
	SubTransactionId subid;
} CreatedSlot;

static bool callbacks_registered = false;
static bool wake_at_commit = false;
static bool config_changed_at_commit = false;
static bool rescan_at_abort = false;
static List *created_slots = NIL;

/*
 * Act as the bootstrap superuser, for what the caller may not do itself
 * (creating a slot, reading every publication).  The caller's search_path
 * goes too: with it, the caller's own functions or operators could run
 * with our privileges.
 */
void
pgcdc_sql_become_superuser(PgcdcSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	saved->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

/* Act as the caller again (an error restores the caller by itself). */
static void
restore_user(PgcdcSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
	AtEOXact_GUC(true, saved->guc_nestlevel);
}

/* Open SPI and act as the superuser (see pgcdc_sql_become_superuser). */
void
pgcdc_sql_begin(PgcdcSavedUser *saved)
{
	pgcdc_shmem_require_preloaded();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgcdc_sql_become_superuser(saved);
}

/* Act as the caller again and close SPI. */
void
pgcdc_sql_end(PgcdcSavedUser *saved)
{
	restore_user(saved);
	SPI_finish();
}

/* Drop a slot we created, without raising: we may be aborting. */
static void
drop_created_slot(const char *name)
{
	MemoryContext ctx = CurrentMemoryContext;

	PG_TRY();
	{
		ReplicationSlotDrop(name, true);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(WARNING,
				(errmsg("could not drop replication slot \"%s\" after rollback: %s",
						name, edata->message),
				 errhint("Drop it with pg_drop_replication_slot('%s').", name)));
	}
	PG_END_TRY();
}

/*
 * At commit, wake the launcher (sources changed) and the workers (keys
 * changed); at rollback, drop the slots this transaction created.
 */
static void
xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (pgcdc_shared != NULL)
			{
				if (wake_at_commit)
					pgcdc_shmem_request_rescan(MyDatabaseId);
				if (config_changed_at_commit)
					pgcdc_shmem_bump_config_generation(MyDatabaseId);
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			foreach(lc, created_slots)
				drop_created_slot(((CreatedSlot *) lfirst(lc))->name);
			/* A worker stopped by a rolled-back drop_source comes back. */
			if (rescan_at_abort && pgcdc_shared != NULL)
				pgcdc_shmem_request_rescan(MyDatabaseId);
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* Our commit and abort actions cannot follow a prepared one. */
			if (wake_at_commit || config_changed_at_commit || rescan_at_abort ||
				created_slots != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that changed pgcdc_drasi sources or table keys")));
			return;
		default:
			return;
	}
	wake_at_commit = false;
	config_changed_at_commit = false;
	rescan_at_abort = false;
	list_free_deep(created_slots);
	created_slots = NIL;
}

/* Track created slots across savepoints. */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	foreach(lc, created_slots)
	{
		CreatedSlot *slot = (CreatedSlot *) lfirst(lc);

		if (slot->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			slot->subid = parentSubid;
		else if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			drop_created_slot(slot->name);
			created_slots = foreach_delete_current(created_slots, lc);
			pfree(slot);
		}
	}
}

/* Register the transaction callbacks once per backend. */
static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
	callbacks_registered = true;
}

/* Trigger on pgcdc_drasi.sources: wake the launcher at commit. */
Datum
pgcdc_drasi_sources_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pgcdc_drasi._sources_changed() must be called as a trigger")));
	pgcdc_sql_wake_launcher_at_commit();
	return PointerGetDatum(NULL);
}

/* Error unless an argument is given: NULL never means "do nothing". */
void
pgcdc_sql_require_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

/* Text of a non-null argument, or an error naming the argument. */
char *
pgcdc_sql_text_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	pgcdc_sql_require_arg(fcinfo, argno, name);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* Run a statement through SPI; returns the number of rows. */
uint64
pgcdc_sql_run(const char *sql, int nargs, Oid *argtypes, Datum *values, bool read_only,
			  int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, read_only, 0);

	if (ret != expected)
		elog(ERROR, "SPI_execute_with_args failed (%d): %s", ret, sql);
	return SPI_processed;
}

/*
 * Create the slot now, inside create_source, so that every change
 * committed after create_source returns is captured; with failover, it
 * is synchronized to standbys.  Slot creation waits for transactions
 * already running; lock_timeout bounds that wait, so the caller is never
 * stuck behind a forgotten session.
 */
void
pgcdc_sql_create_slot(const char *slot_name, bool failover)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	char		timeout[32];
	int			nestlevel;
	MemoryContext ctx = CurrentMemoryContext;
	CreatedSlot *created;

	if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("cannot create replication slot \"%s\" in a transaction that has already written data",
						slot_name),
				 errdetail("Creating a slot waits for every transaction that has written data to finish, this one included."),
				 errhint("Call create_source in a transaction of its own, or create the slot beforehand with pg_create_logical_replication_slot('%s', 'pgoutput').",
						 slot_name)));

	nestlevel = NewGUCNestLevel();
	snprintf(timeout, sizeof(timeout), "%d", pgcdc_create_slot_timeout);
	(void) set_config_option("lock_timeout", timeout, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	values[0] = CStringGetTextDatum(slot_name);
	PG_TRY();
	{
		pgcdc_sql_run(pgcdc_create_slot_query(failover), 1, argtypes, values, false,
					  SPI_OK_SELECT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not create replication slot \"%s\" within %d ms",
						slot_name, pgcdc_create_slot_timeout),
				 errdetail("A new slot waits until every transaction that was running when it started has finished."),
				 errhint("End or cancel the long-running transactions shown in pg_stat_activity, or raise pgcdc_drasi.create_slot_timeout.")));
	}
	PG_END_TRY();
	AtEOXact_GUC(true, nestlevel);

	register_callbacks();
	created = MemoryContextAllocZero(TopMemoryContext, sizeof(CreatedSlot));
	strlcpy(created->name, slot_name, NAMEDATALEN);
	created->subid = GetCurrentSubTransactionId();
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		created_slots = lappend(created_slots, created);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Send SIGTERM to the worker with process id pid, whose entry's pid field
 * is *pidp, and wait until the field no longer names it (the worker
 * detached): what it held (an origin, a position) is free then.
 */
static void
terminate_and_wait(pid_t *pidp, pid_t pid, const char *kind, const char *id)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STOP_WORKER_TIMEOUT_MS);

	Assert(pid != 0);
	(void) kill(pid, SIGTERM);
	for (;;)
	{
		pid_t		now_pid;

		LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
		now_pid = *pidp;
		LWLockRelease(pgcdc_shared->lock);
		if (now_pid != pid)
			return;
		if (GetCurrentTimestamp() > deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("worker of %s \"%s\" (process %d) did not stop", kind, id, (int) pid)));
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Open a table named by an argument of a per-table setting, checking that
 * it exists, is a table and, with need_select, that the caller can read
 * it.  Returns it open with AccessShareLock; the caller closes it.
 */
Relation
pgcdc_sql_open_table(Oid relid, bool need_select)
{
	Relation	rel = try_relation_open(relid, AccessShareLock);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table with OID %u does not exist", relid)));
	if ((rel->rd_rel->relkind != RELKIND_RELATION &&
		 rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE) ||
		IsCatalogRelation(rel))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel))));
	if (need_select && pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel))));
	return rel;
}

/*
 * Refuse a reader of the queue (a consumer, a target) for a source that
 * writes no queue rows; detail, if any, says what the reader needs.
 */
void
pgcdc_sql_require_queue(const PgcdcSourceConfig *source, const char *detail)
{
	if (source->sink == PGCDC_SINK_REDIS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" writes its events straight to Redis", source->source_id),
				 errdetail("Consumers and targets read the queue, which a source with the redis sink does not write."),
				 errhint("Create another source with the queue sink on the same publication.")));
	if (source->sink == PGCDC_SINK_NOTIFY)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" does not write its events to the queue", source->source_id),
				 detail ? errdetail("%s", detail) : 0,
				 errhint("Add the queue sink first: pgcdc_drasi.alter_source('%s', sink => 'both').",
						 source->source_id)));
}

/* Stop a source's worker and wait until it has let go of its origin. */
void
pgcdc_sql_stop_worker(const char *source_id)
{
	PgcdcSource *src;
	pid_t		pid = 0;

	register_callbacks();
	rescan_at_abort = true;
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	src = pgcdc_shmem_find_source(MyDatabaseId, source_id);
	if (src != NULL)
	{
		src->desired = false;
		pid = src->pid;
	}
	LWLockRelease(pgcdc_shared->lock);
	if (pid == 0)
		return;

	terminate_and_wait(&src->pid, pid, "source", source_id);
}

/*
 * Stop a target's delivery worker and wait until it has exited, so it
 * cannot move a position after the target is dropped.  A drop that
 * rolls back has the launcher start it again.
 */
void
pgcdc_sql_stop_target_worker(const char *target_id)
{
	PgcdcTarget *tgt;
	pid_t		pid = 0;

	register_callbacks();
	rescan_at_abort = true;
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	tgt = pgcdc_shmem_find_target(MyDatabaseId, target_id);
	if (tgt != NULL)
	{
		tgt->desired = false;
		pid = tgt->pid;
	}
	LWLockRelease(pgcdc_shared->lock);
	if (pid == 0)
		return;

	terminate_and_wait(&tgt->pid, pid, "target", target_id);
}

/* Wait until no process (the stopped worker's walsender) holds a slot. */
void
pgcdc_sql_wait_slot_released(const char *slot_name)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STOP_WORKER_TIMEOUT_MS);

	for (;;)
	{
		ReplicationSlot *slot;
		pid_t		active_pid = 0;

		LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
		slot = SearchNamedReplicationSlot(slot_name, false);
		if (slot != NULL)
		{
			SpinLockAcquire(&slot->mutex);
			active_pid = slot->active_pid;
			SpinLockRelease(&slot->mutex);
		}
		LWLockRelease(ReplicationSlotControlLock);
		if (active_pid == 0)
			return;
		if (GetCurrentTimestamp() > deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot \"%s\" is still active for process %d", slot_name,
							(int) active_pid)));
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Wake the launcher at commit: the sources of this database changed. */
void
pgcdc_sql_wake_launcher_at_commit(void)
{
	register_callbacks();
	wake_at_commit = true;
}

/* Tell this database's workers at commit to reread their configuration. */
void
pgcdc_sql_reconfigure_at_commit(void)
{
	register_callbacks();
	config_changed_at_commit = true;
}
