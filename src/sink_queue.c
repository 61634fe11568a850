/*-------------------------------------------------------------------------
 *
 * sink_queue.c
 *		The queue sink: batched inserts into pgcdc_drasi.events.
 *
 * Events are buffered and written with the heap's multi-insert, as COPY
 * does, then indexed.  The buffer holds at most pgcdc_drasi.batch_size
 * events, so memory stays flat however large a source transaction is:
 * the rows go to the table (inside the still open local transaction),
 * not to memory.  Triggers and rules on the queue table are not fired.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sink_queue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "compat.h"
#include "pgcdc_drasi.h"

#define QUEUE_NATTS 11

/* State of the queue for the current local transaction. */
typedef struct PgcdcQueue
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	TupleDesc	desc;			/* private copy: slots outlive no pin */
	TupleTableSlot **slots;
	int			nslots;			/* allocated */
	int			nused;			/* filled, waiting for flush */
	MemoryContext batch_mcxt;	/* values of the buffered rows */
} PgcdcQueue;

static PgcdcQueue queue;
static Oid	events_relid = InvalidOid;
static SPIPlanPtr progress_plan = NULL;

/* Look up our relations once per process. */
static void
lookup_queue_relations(void)
{
	Oid			nsp;

	if (OidIsValid(events_relid))
		return;
	nsp = get_namespace_oid(PGCDC_SCHEMA_NAME, false);
	events_relid = get_relname_relid("events", nsp);
	if (!OidIsValid(events_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("queue table pgcdc_drasi.events does not exist"),
				 errhint("Re-create the extension pgcdc_drasi in this database.")));
}

/*
 * Record the last seq a source used, in the transaction that wrote the
 * events: seq numbers stay contiguous whatever happens to the worker.
 */
void
pgcdc_progress_save(const char *source_id, int64 last_seq)
{
	Datum		values[2];

	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (progress_plan == NULL)
	{
		Oid			argtypes[2] = {TEXTOID, INT8OID};
		SPIPlanPtr	plan = SPI_prepare("UPDATE pgcdc_drasi.source_progress SET last_seq = $2 "
									   "WHERE source_id = $1",
									   2, argtypes);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the progress update");
		progress_plan = plan;
	}
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(last_seq);
	if (SPI_execute_plan(progress_plan, values, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" has no progress row", source_id)));
	SPI_finish();
	PopActiveSnapshot();
}

/* Open the queue for a new local transaction. */
void
pgcdc_queue_begin(void)
{
	RangeTblEntry *rte;
	MemoryContext old;

	if (queue.rel != NULL)
		return;
	lookup_queue_relations();

	queue.batch_mcxt = AllocSetContextCreate(CurTransactionContext, "pgcdc_drasi queue batch",
											 ALLOCSET_DEFAULT_SIZES);

	queue.rel = table_open(events_relid, RowExclusiveLock);
	if (RelationGetDescr(queue.rel)->natts != QUEUE_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table pgcdc_drasi.events does not have the expected columns")));

	old = MemoryContextSwitchTo(CurTransactionContext);
	queue.estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = events_relid;
	rte->relkind = queue.rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(queue.estate, list_make1(rte));
	queue.rri = makeNode(ResultRelInfo);
	InitResultRelInfo(queue.rri, queue.rel, 1, NULL, 0);
	ExecOpenIndices(queue.rri, false);
	queue.bistate = GetBulkInsertState();
	queue.desc = CreateTupleDescCopy(RelationGetDescr(queue.rel));
	queue.nslots = 0;
	queue.nused = 0;
	queue.slots = palloc0(sizeof(TupleTableSlot *) * pgcdc_batch_size);
	MemoryContextSwitchTo(old);
}

/* Buffer one event; the buffer is written once it is full. */
void
pgcdc_queue_append(PgcdcTxContext *tx, PgcdcEvent *event)
{
	TupleTableSlot *slot;
	MemoryContext old;
	char		opstr[2] = {event->op, '\0'};

	if (queue.nused >= pgcdc_batch_size)
		pgcdc_queue_flush();

	if (queue.nused >= queue.nslots)
	{
		old = MemoryContextSwitchTo(CurTransactionContext);
		queue.slots[queue.nslots++] = MakeSingleTupleTableSlot(queue.desc, &TTSOpsBufferHeapTuple);
		MemoryContextSwitchTo(old);
	}
	slot = queue.slots[queue.nused++];
	ExecClearTuple(slot);

	old = MemoryContextSwitchTo(queue.batch_mcxt);
	slot->tts_values[0] = Int64GetDatum(event->seq);
	slot->tts_values[1] = CStringGetTextDatum(tx->source_id);
	slot->tts_values[2] = LSNGetDatum(tx->commit_lsn);
	slot->tts_values[3] = FullTransactionIdGetDatum(FullTransactionIdFromU64(tx->full_xid));
	slot->tts_values[4] = Int32GetDatum(event->tx_index);
	slot->tts_values[5] = TimestampTzGetDatum(tx->commit_time);
	slot->tts_values[6] = CStringGetTextDatum(opstr);
	slot->tts_values[7] = CStringGetTextDatum(event->label);
	slot->tts_values[8] = event->element_id ? CStringGetTextDatum(event->element_id) : (Datum) 0;
	slot->tts_values[9] = PointerGetDatum(memcpy(palloc(VARSIZE(event->jsonb)), event->jsonb,
												 VARSIZE(event->jsonb)));
	slot->tts_values[10] = tx->snapshot ? tx->snapshot_datum : (Datum) 0;
	memset(slot->tts_isnull, 0, sizeof(bool) * QUEUE_NATTS);
	slot->tts_isnull[8] = (event->element_id == NULL);
	slot->tts_isnull[10] = !tx->snapshot;
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
}

/* Write the buffered events to the heap and their index entries. */
void
pgcdc_queue_flush(void)
{
	int			i;
	CommandId	cid;

	if (queue.rel == NULL || queue.nused == 0)
		return;

	PushActiveSnapshot(GetTransactionSnapshot());
	cid = GetCurrentCommandId(true);
	table_multi_insert(queue.rel, queue.slots, queue.nused, cid, 0, queue.bistate);
	for (i = 0; i < queue.nused; i++)
	{
		List	   *recheck;

		ResetPerTupleExprContext(queue.estate);
		recheck = pgcdc_insert_index_tuples(queue.rri, queue.slots[i], queue.estate);
		list_free(recheck);
		ExecClearTuple(queue.slots[i]);
	}
	PopActiveSnapshot();
	queue.nused = 0;
	MemoryContextReset(queue.batch_mcxt);
}

/* Flush and close the queue before the local transaction commits. */
void
pgcdc_queue_end(void)
{
	int			i;

	if (queue.rel == NULL)
		return;
	pgcdc_queue_flush();
	for (i = 0; i < queue.nslots; i++)
		ExecDropSingleTupleTableSlot(queue.slots[i]);
	FreeBulkInsertState(queue.bistate);
	ExecCloseIndices(queue.rri);
	FreeExecutorState(queue.estate);
	table_close(queue.rel, NoLock);
	memset(&queue, 0, sizeof(queue));
}
