/*-------------------------------------------------------------------------
 *
 * sql_snapshots.c
 *		SQL functions of snapshots: bootstrap() for Drasi bootstrap
 *		elements, and the requests the worker carries out (resnapshot,
 *		resync_source).
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_snapshots.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "catalog.h"
#include "compat.h"
#include "mapping.h"
#include "relation.h"
#include "shmem.h"
#include "snapshot.h"
#include "sql_common.h"
#include "walstream.h"

PG_FUNCTION_INFO_V1(pgcdc_drasi_bootstrap);
PG_FUNCTION_INFO_V1(pgcdc_drasi_resnapshot);
PG_FUNCTION_INFO_V1(pgcdc_drasi_resync_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_resync_source_v2);

/* State of a bootstrap() call between rows. */
typedef struct BootstrapState
{
	PgcdcSnapshotScan *scan;
	MemoryContext batch_mcxt;	/* the elements of the current batch */
	Datum	   *rows;
	int			nrows;
	int			maxrows;
	int			pos;
	bool		done;
	List	   *labels;			/* labels asked for, NIL: all */
} BootstrapState;

/* Keep one element of the batch. */
static void
add_element(BootstrapState *state, Datum element)
{
	if (state->nrows >= state->maxrows)
	{
		state->maxrows *= 2;
		state->rows = repalloc(state->rows, sizeof(Datum) * state->maxrows);
	}
	state->rows[state->nrows++] = element;
}

/*
 * Row callback of bootstrap(): keep the row's node element, if its label
 * is asked for, and the elements of the relations it starts whose labels
 * are, as jsonb.
 */
static void
collect_element(PgcdcRelCache *cache, Oid relid, LogicalRepTupleData *tup, void *arg)
{
	BootstrapState *state = (BootstrapState *) arg;
	MemoryContext old = MemoryContextSwitchTo(state->batch_mcxt);
	bool		wanted = (state->labels == NIL);
	ListCell   *lc;

	foreach(lc, state->labels)
	{
		if (strcmp((char *) lfirst(lc), pgcdc_relcache_label(cache, relid)) == 0)
			wanted = true;
	}
	if (wanted)
	{
		Jsonb	   *element = pgcdc_map_element(cache, relid, tup);

		if (element != NULL)
			add_element(state, JsonbPGetDatum(element));
	}
	foreach(lc, pgcdc_map_relation_elements(cache, relid, tup, state->labels))
		add_element(state, JsonbPGetDatum((Jsonb *) lfirst(lc)));
	MemoryContextSwitchTo(old);
}

/*
 * bootstrap(source_id, labels): the current rows of the source's tables
 * as Drasi bootstrap elements, in the caller's snapshot, a batch of rows
 * at a time.  Labels the source does not have are ignored, as Drasi
 * sends every label to every source.
 */
Datum
pgcdc_drasi_bootstrap(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	BootstrapState *state;

	if (SRF_IS_FIRSTCALL())
	{
		char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
		List	   *labels = NIL;
		MemoryContext old;
		PgcdcSourceConfig *source;
		PgcdcRelCache *cache;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);

		if (!PG_ARGISNULL(1))
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n;
			int			i;

			deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
			for (i = 0; i < n; i++)
				if (!nulls[i])
					labels = lappend(labels, TextDatumGetCString(elems[i]));
			if (labels == NIL)
				labels = list_make1(pstrdup(""));	/* no label at all:
													 * nothing matches */
		}

		pgcdc_shmem_require_preloaded();
		source = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);

		state = palloc0(sizeof(BootstrapState));
		state->batch_mcxt = AllocSetContextCreate(funcctx->multi_call_memory_ctx,
												  "pgcdc_drasi bootstrap batch",
												  ALLOCSET_DEFAULT_SIZES);
		cache = pgcdc_relcache_create(source_id, InvalidOid, funcctx->multi_call_memory_ctx);
		pgcdc_relcache_set_numeric_as_string(cache, source->numeric_as_string);
		if (GetPublicationByName(source->publication, true) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("publication \"%s\" of source \"%s\" does not exist",
							source->publication, source_id)));
		state->scan = pgcdc_snapshot_begin(cache, source->publication, labels, NIL);
		state->maxrows = 1000;
		state->rows = palloc(sizeof(Datum) * state->maxrows);
		state->labels = labels;
		funcctx->user_fctx = state;
		MemoryContextSwitchTo(old);
	}

	funcctx = SRF_PERCALL_SETUP();
	state = (BootstrapState *) funcctx->user_fctx;

	if (state->pos >= state->nrows && !state->done)
	{
		MemoryContext old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		int			nestlevel;

		MemoryContextReset(state->batch_mcxt);
		state->nrows = 0;
		state->pos = 0;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		nestlevel = pgcdc_snapshot_settings();
		if (pgcdc_snapshot_fetch(state->scan, collect_element, state) == 0)
		{
			state->done = true;
			pgcdc_snapshot_end(state->scan);
		}
		AtEOXact_GUC(true, nestlevel);
		SPI_finish();
		MemoryContextSwitchTo(old);
	}

	if (state->pos < state->nrows)
		SRF_RETURN_NEXT(funcctx, state->rows[state->pos++]);
	SRF_RETURN_DONE(funcctx);
}

/*
 * resnapshot(source_id, tables): ask the worker for a new snapshot of the
 * source's tables (or some of them) in the middle of its stream.  The
 * worker takes it at its next quiet moment.
 */
Datum
pgcdc_drasi_resnapshot(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	PgcdcSavedUser saved;
	PgcdcSourceConfig *source;
	ArrayType  *tables = NULL;

	pgcdc_shmem_require_preloaded();
	source = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);
	if (source->sink == PGCDC_SINK_REDIS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source \"%s\" with the redis sink cannot take snapshots", source_id),
				 errdetail("Snapshot events need the queue: a source with the redis sink writes only changes, with stream ids made of their commit position."),
				 errhint("Read the current state with pgcdc_drasi.bootstrap(), or use a source with the queue sink and a Redis target.")));
	if (!PG_ARGISNULL(1))
	{
		Datum	   *elems;
		bool	   *elnulls;
		int			n;
		int			i;

		/* regclass[] in, oid[] stored: the elements are the same */
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT,
						  &elems, &elnulls, &n);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tables must name at least one table"),
					 errhint("Pass NULL to take a snapshot of every table of the source.")));
		pgcdc_sql_begin(&saved);
		for (i = 0; i < n; i++)
		{
			Oid			chktypes[2] = {TEXTOID, OIDOID};
			Datum		chk[2];

			if (elnulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("tables must not contain NULL")));
			chk[0] = CStringGetTextDatum(source->publication);
			chk[1] = elems[i];
			if (pgcdc_sql_run("SELECT 1 FROM pg_catalog.pg_publication_tables pt "
							  "JOIN pg_catalog.pg_class c ON c.relname = pt.tablename "
							  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = pt.schemaname "
							  "WHERE pt.pubname = $1 AND c.oid = $2",
							  2, chktypes, chk, true, SPI_OK_SELECT) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("table %s is not published by source \"%s\"",
								get_rel_name(DatumGetObjectId(elems[i])) ?
								get_rel_name(DatumGetObjectId(elems[i])) : "?", source_id),
						 errdetail("Publication \"%s\" does not include it.", source->publication)));
		}
		pgcdc_sql_end(&saved);
		tables = construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
	}
	pgcdc_catalog_add_snapshot_request(source_id, tables, false);

	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/*
 * resync_source(source_id, snapshot): recover a source whose stream
 * cannot go on (its publication was dropped and created again, its slot
 * was lost or invalidated).
 *
 * With a snapshot, the worker restarts at the current end of WAL,
 * skipping what it cannot decode, and takes a snapshot of all its tables
 * at its first quiet moment: consumers get the current state, then the
 * stream.  The skipped changes are not sent one by one; the snapshot
 * carries their effect.  Everything the worker does for it commits
 * atomically with its progress, so a crash in between simply repeats the
 * resync.
 *
 * Without a snapshot, a source that caught up and then lost its slot (to
 * pg_upgrade, which carries no slot from a cluster older than 17, or to a
 * drop or an invalidation) goes on from a new slot: the walsender starts it at the slot's
 * start, whatever the origin says, and seq goes on.  What was written to
 * its tables between its last catch-up and the new slot is not
 * delivered, which is why only a missing or invalidated slot is replaced
 * this way: a source that still has its slot needs nothing of the kind.
 */
static void
resync_source(const char *source_id, bool snapshot)
{
	PgcdcSavedUser saved;
	PgcdcSourceConfig *source;
	char	   *slot_name;
	ReplicationSlot *slot;
	bool		slot_exists;
	bool		slot_invalid = false;
	bool		ours;

	Assert(source_id != NULL);
	pgcdc_sql_begin(&saved);
	source = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);
	if (source->sink == PGCDC_SINK_REDIS && snapshot)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source \"%s\" with the redis sink cannot take snapshots", source_id),
				 errdetail("Snapshot events need the queue: a source with the redis sink writes only changes, with stream ids made of their commit position."),
				 errhint("Call pgcdc_drasi.resync_source('%s', snapshot => false).", source_id)));
	slot_name = source->slot_name;
	ours = pgcdc_stream_slot_is_ours(slot_name, pgcdc_catalog_get_slot_lsn(source_id),
									 &slot_exists);

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	slot_exists = (slot != NULL);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		/* any cause: 18's idle timeout keeps restart_lsn */
		slot_invalid = XLogRecPtrIsInvalid(slot->data.restart_lsn) ||
			pgcdc_slot_invalidation_reason(slot) != NULL;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	/* Someone else's slot of that name is neither used nor dropped. */
	if (slot_exists && !ours)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("replication slot \"%s\" is used by another consumer", slot_name),
				 errdetail("Source \"%s\" did not create the slot of that name.", source_id),
				 errhint("Drop the source and create it again with another slot_name.")));

	/* Without a snapshot, only a slot that is gone may be replaced. */
	if (!snapshot && slot_exists && !slot_invalid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" still has its replication slot \"%s\"", source_id, slot_name),
				 errdetail("Without a snapshot, resync_source only gives a new slot to a source whose slot is missing or invalidated."),
				 errhint("If the source cannot stream, call pgcdc_drasi.resync_source('%s'): it skips the WAL the source cannot decode and takes a new snapshot of its tables.",
						 source_id)));

	/* A lost or invalidated slot is made again first, before we write. */
	if (slot_invalid)
	{
		pgcdc_sql_stop_worker(source_id);
		pgcdc_sql_wait_slot_released(slot_name);
		ReplicationSlotDrop(slot_name, false);
		slot_exists = false;
	}
	/* A slot made again keeps the source's failover setting. */
	if (!slot_exists)
	{
		pgcdc_sql_create_slot(slot_name, source->failover);
		pgcdc_catalog_save_slot_lsn(source_id, pgcdc_stream_slot_lsn(slot_name));
	}

	/* Keep the restarted worker waiting until the transaction ends. */
	(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_UPDATE, false);
	if (snapshot)
		pgcdc_catalog_add_snapshot_request(source_id, NULL, true);
	pgcdc_sql_stop_worker(source_id);
	pgcdc_sql_end(&saved);

	/* The cause of its failures is gone: no backoff for the restart. */
	pgcdc_shmem_retry_now(MyDatabaseId, source_id);
	pgcdc_sql_wake_launcher_at_commit();
}

/* resync_source(source_id) of version 0.1: always with a snapshot. */
Datum
pgcdc_drasi_resync_source(PG_FUNCTION_ARGS)
{
	resync_source(pgcdc_sql_text_arg(fcinfo, 0, "source_id"), true);
	PG_RETURN_VOID();
}

/* resync_source(source_id, snapshot) of version 0.2. */
Datum
pgcdc_drasi_resync_source_v2(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");

	pgcdc_sql_require_arg(fcinfo, 1, "snapshot");
	resync_source(source_id, PG_GETARG_BOOL(1));
	PG_RETURN_VOID();
}
