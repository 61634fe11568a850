/*-------------------------------------------------------------------------
 *
 * sql_consumers.c
 *		SQL functions of the queue: durable consumers that read and
 *		acknowledge, and fetching events by seq.
 *
 * A consumer belongs to the role that created it (and to
 * pgcdc_drasi_admin).  A consumer created with bootstrap skips the events
 * its snapshot already shows; see read().
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_consumers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/memutils.h"

#include "catalog.h"
#include "shmem.h"
#include "queue_read.h"
#include "sink_queue.h"
#include "sql_common.h"

PG_FUNCTION_INFO_V1(pgcdc_drasi_create_consumer);
PG_FUNCTION_INFO_V1(pgcdc_drasi_drop_consumer);
PG_FUNCTION_INFO_V1(pgcdc_drasi_read);
PG_FUNCTION_INFO_V1(pgcdc_drasi_ack);
PG_FUNCTION_INFO_V1(pgcdc_drasi_get_events);

/* Error unless the caller owns the consumer or administers sources. */
static void
check_consumer_access(const char *consumer, Oid owner, Oid caller)
{
	Oid			admin = get_role_oid("pgcdc_drasi_admin", true);

	if (has_privs_of_role(caller, owner) ||
		(OidIsValid(admin) && has_privs_of_role(caller, admin)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for consumer \"%s\"", consumer),
			 errdetail("Only the role that created it, and pgcdc_drasi_admin, may use it.")));
}

/* Is this the consumer of a target (its position)? */
static bool
is_target_consumer(const char *consumer)
{
	return strncmp(consumer, PGCDC_TARGET_CONSUMER_PREFIX,
				   strlen(PGCDC_TARGET_CONSUMER_PREFIX)) == 0;
}

/* Error if a consumer is a target's: only its delivery worker moves it. */
static void
check_not_target(const char *consumer)
{
	if (is_target_consumer(consumer))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("consumer \"%s\" is the position of target \"%s\"", consumer,
						consumer + strlen(PGCDC_TARGET_CONSUMER_PREFIX)),
				 errdetail("Only the target's delivery worker acknowledges its events."),
				 errhint("Use pgcdc_drasi.drop_target() to remove the target.")));
}

/*
 * Look up a consumer as the caller may use it (locked FOR UPDATE when it
 * is to change), and the last seq its source has published.
 */
static void
lookup_consumer(const char *consumer, Oid caller, bool for_update, PgcdcConsumer *out,
				int64 *last_seq)
{
	PgcdcSourceProgress progress;

	pgcdc_shmem_require_preloaded();
	if (!pgcdc_catalog_get_consumer(consumer, for_update ? PGCDC_LOCK_UPDATE : PGCDC_LOCK_NONE,
									out))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer \"%s\" does not exist", consumer)));
	check_consumer_access(consumer, out->owner, caller);
	*last_seq = pgcdc_catalog_get_progress(out->source_id, &progress) ? progress.last_seq : 0;
}

/*
 * create_consumer(consumer, source_id, start_at): a durable reader of a
 * source's queue, starting at the oldest event still queued ('earliest')
 * or after the last one published ('latest').
 */
Datum
pgcdc_drasi_create_consumer(PG_FUNCTION_ARGS)
{
	char	   *consumer = pgcdc_sql_text_arg(fcinfo, 0, "consumer");
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 1, "source_id");
	char	   *start_at = pgcdc_sql_text_arg(fcinfo, 2, "start_at");
	bool		bootstrap;
	Oid			caller = GetUserId();
	PgcdcSourceConfig *source;
	PgcdcSourceProgress progress;
	int64		acked;
	bool		queued;

	if (consumer[0] == '\0' || strlen(consumer) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid consumer name \"%s\"", consumer),
				 errdetail("A consumer name has 1 to %d bytes.", NAMEDATALEN - 1)));
	if (is_target_consumer(consumer))
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("consumer name \"%s\" is reserved", consumer),
				 errdetail("Names starting with \"%s\" hold the positions of targets.",
						   PGCDC_TARGET_CONSUMER_PREFIX)));
	pgcdc_sql_require_arg(fcinfo, 3, "bootstrap");
	bootstrap = PG_GETARG_BOOL(3);
	/* The snapshot of the caller's transaction is what bootstrap() reads. */
	if (bootstrap && !IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("create_consumer with bootstrap must run in a REPEATABLE READ transaction"),
				 errdetail("The consumer skips the events its snapshot already shows, so the snapshot must be the one bootstrap() reads."),
				 errhint("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT pgcdc_drasi.create_consumer(...); SELECT * FROM pgcdc_drasi.bootstrap(...); COMMIT;")));
	if (strcmp(start_at, "earliest") != 0 && strcmp(start_at, "latest") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid start_at \"%s\"", start_at),
				 errhint("Valid values are \"earliest\" and \"latest\".")));

	pgcdc_shmem_require_preloaded();
	source = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_KEY_SHARE, false);
	pgcdc_sql_require_queue(source, NULL);
	if (!pgcdc_catalog_get_progress(source_id, &progress))
		progress.last_seq = 0;
	queued = pgcdc_queue_first_seq(source_id, &acked);
	acked--;

	/*
	 * With bootstrap the consumer starts at the oldest queued event and
	 * read() skips what its snapshot shows: even the last published events
	 * may belong to transactions the snapshot does not show yet.
	 */
	if (!queued || (strcmp(start_at, "latest") == 0 && !bootstrap))
		acked = progress.last_seq;

	if (pgcdc_catalog_consumer_exists(consumer))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("consumer \"%s\" already exists", consumer)));
	pgcdc_catalog_insert_consumer(consumer, source_id, acked, caller, bootstrap);
	PG_RETURN_VOID();
}

/* drop_consumer(consumer): forget a consumer and its position. */
Datum
pgcdc_drasi_drop_consumer(PG_FUNCTION_ARGS)
{
	char	   *consumer = pgcdc_sql_text_arg(fcinfo, 0, "consumer");
	PgcdcConsumer c;
	int64		last_seq;

	lookup_consumer(consumer, GetUserId(), true, &c, &last_seq);
	check_not_target(consumer);
	pgcdc_catalog_delete_consumer(consumer);
	PG_RETURN_VOID();
}

/*
 * State of a read() or get_events() call between rows: the queue is read
 * through a cursor, QUEUE_FETCH_ROWS events at a time, so the memory of a
 * call does not grow with the range asked for.
 */
#define QUEUE_FETCH_ROWS	1000

typedef struct QueueReadState
{
	PgcdcQueueCursor *cursor;
	MemoryContext batch_mcxt;	/* the rows of the current batch */
	HeapTuple  *rows;
	int			nrows;
	int			pos;
	bool		done;
	ExprContext *econtext;
} QueueReadState;

/* Close the cursor of a call its caller stopped early (LIMIT, cancel). */
static void
queue_read_shutdown(Datum arg)
{
	QueueReadState *state = (QueueReadState *) DatumGetPointer(arg);

	pgcdc_queue_close(state->cursor);
}

/*
 * Set up the value-per-call state of read() or get_events() on an open
 * cursor, in the multi-call memory context.
 */
static void
queue_read_begin(FunctionCallInfo fcinfo, FuncCallContext *funcctx, PgcdcQueueCursor *cursor)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
	QueueReadState *state = palloc0(sizeof(QueueReadState));
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	funcctx->tuple_desc = BlessTupleDesc(CreateTupleDescCopy(desc));
	state->cursor = cursor;
	state->batch_mcxt = AllocSetContextCreate(funcctx->multi_call_memory_ctx,
											  "pgcdc_drasi queue batch",
											  ALLOCSET_DEFAULT_SIZES);
	state->rows = palloc(sizeof(HeapTuple) * QUEUE_FETCH_ROWS);
	state->econtext = rsinfo->econtext;
	RegisterExprContextCallback(state->econtext, queue_read_shutdown, PointerGetDatum(state));
	funcctx->user_fctx = state;
	MemoryContextSwitchTo(old);
}

/* The next row of read() or get_events(), fetching a batch when needed. */
static Datum
queue_read_next(FunctionCallInfo fcinfo)
{
	FuncCallContext *funcctx = SRF_PERCALL_SETUP();
	QueueReadState *state = (QueueReadState *) funcctx->user_fctx;

	if (state->pos >= state->nrows && !state->done)
	{
		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(state->batch_mcxt);
		state->pos = 0;
		state->nrows = pgcdc_queue_fetch(state->cursor, funcctx->tuple_desc, state->batch_mcxt,
										 state->rows, QUEUE_FETCH_ROWS);
		if (state->nrows < QUEUE_FETCH_ROWS)
		{
			state->done = true;
			UnregisterExprContextCallback(state->econtext, queue_read_shutdown,
										  PointerGetDatum(state));
			pgcdc_queue_close(state->cursor);
		}
	}
	if (state->pos < state->nrows)
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(state->rows[state->pos++]));
	/* Only a short batch ends the rows, and it closed the cursor. */
	Assert(state->done);
	SRF_RETURN_DONE(funcctx);
}

/*
 * read(consumer, max_events): the next events after the consumer's
 * acknowledged position, in seq order.  Reading moves nothing; ack does.
 * max_events is at most 1000000; the rows are streamed, so its size does
 * not change the memory a call needs.
 */
Datum
pgcdc_drasi_read(PG_FUNCTION_ARGS)
{
	if (SRF_IS_FIRSTCALL())
	{
		char	   *consumer = pgcdc_sql_text_arg(fcinfo, 0, "consumer");
		int32		max_events;
		PgcdcConsumer c;
		int64		last_seq;
		FuncCallContext *funcctx;
		PgcdcQueueCursor *cursor;
		MemoryContext old;

		pgcdc_sql_require_arg(fcinfo, 1, "max_events");
		max_events = PG_GETARG_INT32(1);
		if (max_events < 1 || max_events > 1000000)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_events must be between 1 and 1000000")));

		lookup_consumer(consumer, GetUserId(), false, &c, &last_seq);
		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		cursor = pgcdc_queue_open_after(c.source_id, c.acked_seq, max_events, c.snapshot);
		MemoryContextSwitchTo(old);
		queue_read_begin(fcinfo, funcctx, cursor);
	}
	return queue_read_next(fcinfo);
}

/*
 * ack(consumer, seq): the consumer has processed everything up to seq.
 * Positions only move forward, and never past what was published.
 */
Datum
pgcdc_drasi_ack(PG_FUNCTION_ARGS)
{
	char	   *consumer = pgcdc_sql_text_arg(fcinfo, 0, "consumer");
	int64		seq;
	PgcdcConsumer c;
	int64		last_seq;

	pgcdc_sql_require_arg(fcinfo, 1, "seq");
	seq = PG_GETARG_INT64(1);

	lookup_consumer(consumer, GetUserId(), true, &c, &last_seq);
	check_not_target(consumer);
	if (seq < c.acked_seq)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot move consumer \"%s\" back to seq " INT64_FORMAT, consumer, seq),
				 errdetail("It has acknowledged up to seq " INT64_FORMAT ".", c.acked_seq)));
	if (seq > last_seq)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot acknowledge seq " INT64_FORMAT " of source \"%s\"", seq, c.source_id),
				 errdetail("The source has published up to seq " INT64_FORMAT ".", last_seq)));
	if (seq > c.acked_seq)
		pgcdc_catalog_ack_consumer(consumer, seq);
	PG_RETURN_VOID();
}

/*
 * get_events(source_id, first_seq, last_seq): events of a source by seq,
 * for instance the one a NOTIFY reference names.
 */
Datum
pgcdc_drasi_get_events(PG_FUNCTION_ARGS)
{
	if (SRF_IS_FIRSTCALL())
	{
		char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
		int64		first_seq;
		int64		last_seq;
		FuncCallContext *funcctx;
		PgcdcQueueCursor *cursor;
		MemoryContext old;

		pgcdc_sql_require_arg(fcinfo, 1, "first_seq");
		first_seq = PG_GETARG_INT64(1);
		last_seq = PG_ARGISNULL(2) ? first_seq : PG_GETARG_INT64(2);

		pgcdc_shmem_require_preloaded();
		(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);
		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		cursor = pgcdc_queue_open_range(source_id, first_seq, last_seq);
		MemoryContextSwitchTo(old);
		queue_read_begin(fcinfo, funcctx, cursor);
	}
	return queue_read_next(fcinfo);
}
