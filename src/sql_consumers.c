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

#include <signal.h>

#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/catalog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_publication.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/message.h"
#include "replication/origin.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pgcdc_drasi.h"
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

/*
 * Look up a consumer as the caller may use it; returns its source and
 * acknowledged seq.  Runs inside pgcdc_sql_begin.
 */
static void
lookup_consumer(const char *consumer, Oid caller, bool for_update, char **source_id,
				int64 *acked_seq, int64 *last_seq)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	values[0] = CStringGetTextDatum(consumer);
	if (pgcdc_sql_run(for_update ?
				"SELECT c.source_id, c.acked_seq, c.owner, p.last_seq FROM pgcdc_drasi.consumers c "
				"JOIN pgcdc_drasi.source_progress p USING (source_id) WHERE consumer = $1 "
				"FOR UPDATE OF c" :
				"SELECT c.source_id, c.acked_seq, c.owner, p.last_seq FROM pgcdc_drasi.consumers c "
				"JOIN pgcdc_drasi.source_progress p USING (source_id) WHERE consumer = $1",
				1, argtypes, values, !for_update, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer \"%s\" does not exist", consumer)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	check_consumer_access(consumer, DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull)), caller);
	*source_id = SPI_getvalue(tup, desc, 1);
	*acked_seq = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	*last_seq = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
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
	PgcdcSavedUser	saved;
	Oid			argtypes[5] = {TEXTOID, TEXTOID, INT8OID, OIDOID, BOOLOID};
	Datum		values[5];
	bool		isnull;
	int64		last_seq;
	int64		acked;

	if (consumer[0] == '\0' || strlen(consumer) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid consumer name \"%s\"", consumer),
				 errdetail("A consumer name has 1 to %d bytes.", NAMEDATALEN - 1)));
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

	pgcdc_sql_begin(&saved);
	values[0] = CStringGetTextDatum(source_id);
	if (pgcdc_sql_run("SELECT s.sink, p.last_seq, "
				"(SELECT min(seq) - 1 FROM pgcdc_drasi.events e WHERE e.source_id = s.source_id) "
				"FROM pgcdc_drasi.sources s JOIN pgcdc_drasi.source_progress p USING (source_id) "
				"WHERE source_id = $1 FOR KEY SHARE OF s",
				1, argtypes, values, false, SPI_OK_SELECT) == 0)
		pgcdc_sql_unknown_source(source_id);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "notify") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" does not write its events to the queue", source_id),
				 errhint("Add the queue sink first: pgcdc_drasi.alter_source('%s', sink => 'both').",
						 source_id)));
	last_seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	acked = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	/*
	 * With bootstrap the consumer starts at the oldest queued event and
	 * read() skips what its snapshot shows: even the last published events
	 * may belong to transactions the snapshot does not show yet.
	 */
	if (isnull || (strcmp(start_at, "latest") == 0 && !bootstrap))
		acked = last_seq;

	values[0] = CStringGetTextDatum(consumer);
	if (pgcdc_sql_run("SELECT 1 FROM pgcdc_drasi.consumers WHERE consumer = $1",
				1, argtypes, values, false, SPI_OK_SELECT) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("consumer \"%s\" already exists", consumer)));
	values[1] = CStringGetTextDatum(source_id);
	values[2] = Int64GetDatum(acked);
	values[3] = ObjectIdGetDatum(caller);
	values[4] = BoolGetDatum(bootstrap);
	pgcdc_sql_run("INSERT INTO pgcdc_drasi.consumers (consumer, source_id, acked_seq, owner, snapshot) "
			"VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN pg_catalog.pg_current_snapshot() END)",
			5, argtypes, values, false, SPI_OK_INSERT);
	pgcdc_sql_end(&saved);
	PG_RETURN_VOID();
}

/* drop_consumer(consumer): forget a consumer and its position. */
Datum
pgcdc_drasi_drop_consumer(PG_FUNCTION_ARGS)
{
	char	   *consumer = pgcdc_sql_text_arg(fcinfo, 0, "consumer");
	PgcdcSavedUser	saved;
	char	   *source_id;
	int64		acked;
	int64		last_seq;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	pgcdc_sql_begin(&saved);
	lookup_consumer(consumer, saved.userid, true, &source_id, &acked, &last_seq);
	values[0] = CStringGetTextDatum(consumer);
	pgcdc_sql_run("DELETE FROM pgcdc_drasi.consumers WHERE consumer = $1",
			1, argtypes, values, false, SPI_OK_DELETE);
	pgcdc_sql_end(&saved);
	PG_RETURN_VOID();
}

/* Return the rows of the last SPI query as the function's result set. */
static void
return_spi_rows(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
}

/*
 * read(consumer, max_events): the next events after the consumer's
 * acknowledged position, in seq order.  Reading moves nothing; ack does.
 */
Datum
pgcdc_drasi_read(PG_FUNCTION_ARGS)
{
	char	   *consumer = pgcdc_sql_text_arg(fcinfo, 0, "consumer");
	int32		max_events;
	PgcdcSavedUser	saved;
	char	   *source_id;
	int64		acked;
	int64		last_seq;
	Oid			argtypes[4] = {TEXTOID, INT8OID, INT4OID, TEXTOID};
	Datum		values[4];

	pgcdc_sql_require_arg(fcinfo, 1, "max_events");
	max_events = PG_GETARG_INT32(1);
	if (max_events < 1 || max_events > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_events must be between 1 and 1000000")));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	pgcdc_sql_begin(&saved);
	lookup_consumer(consumer, saved.userid, false, &source_id, &acked, &last_seq);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(acked);
	values[2] = Int32GetDatum(max_events);
	values[3] = CStringGetTextDatum(consumer);
	pgcdc_sql_run("SELECT e.* FROM pgcdc_drasi.events e, pgcdc_drasi.consumers c "
			"WHERE c.consumer = $4 AND e.source_id = $1 AND e.seq > $2 "
			"AND (c.snapshot IS NULL OR CASE WHEN e.snapshot IS NULL "
			"     THEN NOT pg_catalog.pg_visible_in_snapshot(e.xid, c.snapshot) "
			"     ELSE NOT pgcdc_drasi._snapshot_within(e.snapshot, c.snapshot) END) "
			"ORDER BY e.seq LIMIT $3",
			4, argtypes, values, true, SPI_OK_SELECT);
	return_spi_rows(fcinfo);
	pgcdc_sql_end(&saved);
	return (Datum) 0;
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
	PgcdcSavedUser	saved;
	char	   *source_id;
	int64		acked;
	int64		last_seq;
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	pgcdc_sql_require_arg(fcinfo, 1, "seq");
	seq = PG_GETARG_INT64(1);

	pgcdc_sql_begin(&saved);
	lookup_consumer(consumer, saved.userid, true, &source_id, &acked, &last_seq);
	if (seq < acked)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot move consumer \"%s\" back to seq " INT64_FORMAT, consumer, seq),
				 errdetail("It has acknowledged up to seq " INT64_FORMAT ".", acked)));
	if (seq > last_seq)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot acknowledge seq " INT64_FORMAT " of source \"%s\"", seq, source_id),
				 errdetail("The source has published up to seq " INT64_FORMAT ".", last_seq)));
	if (seq > acked)
	{
		values[0] = CStringGetTextDatum(consumer);
		values[1] = Int64GetDatum(seq);
		pgcdc_sql_run("UPDATE pgcdc_drasi.consumers SET acked_seq = $2, acked_at = pg_catalog.now() "
				"WHERE consumer = $1",
				2, argtypes, values, false, SPI_OK_UPDATE);
	}
	pgcdc_sql_end(&saved);
	PG_RETURN_VOID();
}

/*
 * get_events(source_id, first_seq, last_seq): events of a source by seq,
 * for instance the one a NOTIFY reference names.
 */
Datum
pgcdc_drasi_get_events(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	int64		first_seq;
	int64		last_seq;
	PgcdcSavedUser	saved;
	Oid			argtypes[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];

	pgcdc_sql_require_arg(fcinfo, 1, "first_seq");
	first_seq = PG_GETARG_INT64(1);
	last_seq = PG_ARGISNULL(2) ? first_seq : PG_GETARG_INT64(2);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	pgcdc_sql_begin(&saved);
	pgcdc_sql_check_source(source_id);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(first_seq);
	values[2] = Int64GetDatum(last_seq);
	pgcdc_sql_run("SELECT * FROM pgcdc_drasi.events WHERE source_id = $1 AND seq BETWEEN $2 AND $3 "
			"ORDER BY seq",
			3, argtypes, values, true, SPI_OK_SELECT);
	return_spi_rows(fcinfo);
	pgcdc_sql_end(&saved);
	return (Datum) 0;
}
