/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		The only C code that reads or writes the extension's configuration
 *		tables: sources, source_progress, snapshot_requests, table_keys,
 *		table_options, consumers and targets.
 *
 * Every function runs its statements through SPI as the bootstrap
 * superuser with search_path pinned to pg_catalog, whoever calls it: the
 * SQL functions (executable by pgcdc_drasi_admin and pgcdc_drasi_reader,
 * who do not own these tables), the launcher's scanners, the source
 * workers, and bootstrap() in a reader's session.  Rows come back as the
 * typed structs of catalog.h, read by the named column numbers there,
 * and are allocated in the caller's memory context.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "pgcdc_drasi.h"

static SPIPlanPtr save_last_seq_plan = NULL;

/*
 * Start using our tables: open SPI, make sure there is a snapshot, and
 * act as the bootstrap superuser with a pinned search_path.
 */
void
pgcdc_catalog_begin(PgcdcCatalogAccess *access)
{
	access->caller_mcxt = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	access->pushed_snapshot = !ActiveSnapshotSet();
	if (access->pushed_snapshot)
		PushActiveSnapshot(GetTransactionSnapshot());
	GetUserIdAndSecContext(&access->userid, &access->sec_context);
	access->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   access->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

/* Act as the caller again and close SPI (an error does all this itself). */
void
pgcdc_catalog_end(PgcdcCatalogAccess *access)
{
	SetUserIdAndSecContext(access->userid, access->sec_context);
	AtEOXact_GUC(true, access->guc_nestlevel);
	if (access->pushed_snapshot)
		PopActiveSnapshot();
	SPI_finish();
	Assert(CurrentMemoryContext == access->caller_mcxt);
}

/* Run a statement; returns the number of rows. */
static uint64
run(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
	bool read_only, int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, 0);

	if (ret != expected)
		elog(ERROR, "SPI_execute_with_args failed (%d): %s", ret, sql);
	return SPI_processed;
}

/*
 * Run one statement that returns nothing we keep, with the access rules
 * of pgcdc_catalog_begin; returns the number of rows it processed.
 */
static uint64
catalog_exec(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
			 bool read_only, int expected)
{
	PgcdcCatalogAccess access;
	uint64		processed;

	pgcdc_catalog_begin(&access);
	processed = run(sql, nargs, argtypes, values, nulls, read_only, expected);
	pgcdc_catalog_end(&access);
	return processed;
}

/* Error unless a result has the columns of the table as we know it. */
static void
check_natts(const char *table, int natts)
{
	if (SPI_tuptable->tupdesc->natts != natts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table pgcdc_drasi.%s does not have the expected columns", table),
				 errdetail("It has %d columns; this version of the library expects %d.",
						   SPI_tuptable->tupdesc->natts, natts),
				 errhint("Update the extension with ALTER EXTENSION pgcdc_drasi UPDATE.")));
}

/* Column attnum of the first result row as text, or NULL. */
static char *
get_text(int attnum)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, attnum);
}

/* Column attnum of row i as a Datum; *isnull tells NULL. */
static Datum
get_datum(uint64 i, int attnum, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, attnum, isnull);
}

/*
 * An oid[] datum as a list of oids, in the current context.  Version 0.1
 * stored regclass[] arrays in these oid[] columns: the element type is
 * taken from the array itself (both are plain oids).
 */
static List *
oid_array_list(Datum d)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	List	   *result = NIL;
	Datum	   *elems;
	int			n;
	int			i;

	Assert(ARR_ELEMTYPE(arr) == OIDOID || ARR_ELEMTYPE(arr) == REGCLASSOID);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), sizeof(Oid), true, TYPALIGN_INT,
					  &elems, NULL, &n);
	for (i = 0; i < n; i++)
		result = list_append_unique_oid(result, DatumGetObjectId(elems[i]));
	return result;
}

/* A text[] datum as a list of C strings, in the current context. */
static List *
text_array_list(Datum d)
{
	List	   *result = NIL;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			result = lappend(result, TextDatumGetCString(elems[i]));
	return result;
}

/*
 * An int2[] datum as a list of ints as long as names (the column names it
 * goes with), in the current context: 0 where an element is NULL or the
 * array is shorter (a column not found when it was recorded).
 */
static List *
int2_array_list(Datum d, bool isnull, List *names)
{
	List	   *result = NIL;
	Datum	   *elems = NULL;
	bool	   *nulls = NULL;
	int			n = 0;
	int			i;

	if (!isnull)
		deconstruct_array(DatumGetArrayTypeP(d), INT2OID, sizeof(int16), true, TYPALIGN_SHORT,
						  &elems, &nulls, &n);
	for (i = 0; i < list_length(names); i++)
		result = lappend_int(result, (i < n && !nulls[i]) ? DatumGetInt16(elems[i]) : 0);
	return result;
}

/* A list of oids as an oid[] datum. */
static Datum
oid_list_array(List *oids)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(1, list_length(oids)));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, oids)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/* The sink named in the configuration. */
PgcdcSink
pgcdc_catalog_sink_from_name(const char *name)
{
	if (strcmp(name, "queue") == 0)
		return PGCDC_SINK_QUEUE;
	if (strcmp(name, "notify") == 0)
		return PGCDC_SINK_NOTIFY;
	if (strcmp(name, "both") == 0)
		return PGCDC_SINK_BOTH;
	if (strcmp(name, "redis") == 0)
		return PGCDC_SINK_REDIS;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid sink \"%s\"", name),
			 errhint("Valid sinks are \"queue\", \"notify\", \"both\" and \"redis\".")));
	return PGCDC_SINK_QUEUE;	/* keep compiler quiet */
}

/* The name of a sink, as stored in sources.sink. */
const char *
pgcdc_catalog_sink_name(PgcdcSink sink)
{
	switch (sink)
	{
		case PGCDC_SINK_QUEUE:
			return "queue";
		case PGCDC_SINK_NOTIFY:
			return "notify";
		case PGCDC_SINK_BOTH:
			return "both";
		case PGCDC_SINK_REDIS:
			return "redis";
	}
	elog(ERROR, "invalid sink %d", (int) sink);
	return NULL;				/* keep compiler quiet */
}

/*
 * The columns of a sources row, in the order of catalog.h: named, so a
 * 0.1 table (with publication_oid) reads the same; it has no failover
 * column, and its sources have no failover slots.
 */
#define SOURCES_COLUMNS \
	"SELECT source_id, publication, slot_name, origin_name, conninfo, enabled, sink, " \
	"channel, notify_payload, bootstrap, numeric_as_string, owner, created_at"
#define SOURCES_SELECT SOURCES_COLUMNS ", failover FROM pgcdc_drasi.sources"
#define SOURCES_SELECT_0_1 SOURCES_COLUMNS ", false AS failover FROM pgcdc_drasi.sources"

/*
 * Does a table of ours have this column?  Lets the library work on the
 * tables of version 0.1 until ALTER EXTENSION UPDATE.
 */
static bool
table_has_column(const char *table, const char *column)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid(PGCDC_SCHEMA_NAME, false));

	return OidIsValid(relid) && get_attnum(relid, column) != InvalidAttrNumber;
}

/*
 * The row of a source, or NULL when there is none (an error unless
 * missing_ok), locked as asked until the end of the transaction.
 */
PgcdcSourceConfig *
pgcdc_catalog_get_source(const char *source_id, PgcdcRowLock lock, bool missing_ok)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	PgcdcSourceConfig *config = NULL;
	const char *select;
	const char *sql;

	select = table_has_column("sources", "failover") ? SOURCES_SELECT : SOURCES_SELECT_0_1;
	switch (lock)
	{
		case PGCDC_LOCK_KEY_SHARE:
			sql = psprintf("%s WHERE source_id = $1 FOR KEY SHARE", select);
			break;
		case PGCDC_LOCK_UPDATE:
			sql = psprintf("%s WHERE source_id = $1 FOR UPDATE", select);
			break;
		default:
			sql = psprintf("%s WHERE source_id = $1", select);
			break;
	}

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	if (run(sql, 1, argtypes, values, NULL, lock == PGCDC_LOCK_NONE, SPI_OK_SELECT) > 0)
	{
		MemoryContext old;
		bool		isnull;

		check_natts("sources", Natts_sources);
		old = MemoryContextSwitchTo(access.caller_mcxt);
		config = palloc0(sizeof(PgcdcSourceConfig));
		config->source_id = get_text(Anum_sources_source_id);
		config->publication = get_text(Anum_sources_publication);
		config->slot_name = get_text(Anum_sources_slot_name);
		config->origin_name = get_text(Anum_sources_origin_name);
		config->conninfo = get_text(Anum_sources_conninfo);
		config->enabled = DatumGetBool(get_datum(0, Anum_sources_enabled, &isnull));
		config->sink = pgcdc_catalog_sink_from_name(get_text(Anum_sources_sink));
		config->channel = get_text(Anum_sources_channel);
		config->wakeup = strcmp(get_text(Anum_sources_notify_payload), "wakeup") == 0;
		config->bootstrap = DatumGetBool(get_datum(0, Anum_sources_bootstrap, &isnull));
		config->numeric_as_string = DatumGetBool(get_datum(0, Anum_sources_numeric_as_string, &isnull));
		config->owner = DatumGetObjectId(get_datum(0, Anum_sources_owner, &isnull));
		config->created_at = DatumGetTimestampTz(get_datum(0, Anum_sources_created_at, &isnull));
		config->failover = DatumGetBool(get_datum(0, Anum_sources_failover, &isnull));
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);

	if (config == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" does not exist", source_id)));
	return config;
}

/*
 * The source that already uses this id or slot (the one with the id
 * first), or NULL when both are free.
 */
char *
pgcdc_catalog_source_conflict(const char *source_id, const char *slot_name)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char	   *other = NULL;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = CStringGetTextDatum(slot_name);
	if (run("SELECT source_id FROM pgcdc_drasi.sources WHERE source_id = $1 OR slot_name = $2 "
			"ORDER BY source_id = $1 DESC LIMIT 1",
			2, argtypes, values, NULL, true, SPI_OK_SELECT) > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(access.caller_mcxt);

		other = get_text(1);
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
	return other;
}

/* Record a new source and its progress row (starting at seq 0). */
void
pgcdc_catalog_insert_source(const PgcdcSourceConfig *config)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[13] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID,
	TEXTOID, TEXTOID, TEXTOID, BOOLOID, BOOLOID, REGROLEOID, BOOLOID};
	Datum		values[13];
	char		nulls[13];
	bool		with_publication_oid;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(config->source_id);
	values[1] = CStringGetTextDatum(config->publication);
	values[2] = CStringGetTextDatum(config->slot_name);
	values[3] = CStringGetTextDatum(config->origin_name);
	if (config->conninfo != NULL)
		values[4] = CStringGetTextDatum(config->conninfo);
	else
		nulls[4] = 'n';
	values[5] = BoolGetDatum(config->enabled);
	values[6] = CStringGetTextDatum(pgcdc_catalog_sink_name(config->sink));
	values[7] = CStringGetTextDatum(config->channel);
	values[8] = CStringGetTextDatum(config->wakeup ? "wakeup" : "full");
	values[9] = BoolGetDatum(config->bootstrap);
	values[10] = BoolGetDatum(config->numeric_as_string);
	values[11] = ObjectIdGetDatum(config->owner);
	values[12] = BoolGetDatum(config->failover);

	/* version 0.1 also records the publication's oid, and has no failover */
	with_publication_oid = table_has_column("sources", "publication_oid");
	Assert(!with_publication_oid || !config->failover);
	pgcdc_catalog_begin(&access);
	if (with_publication_oid)
		run("INSERT INTO pgcdc_drasi.sources "
			"(source_id, publication, slot_name, origin_name, conninfo, enabled, "
			"sink, channel, notify_payload, bootstrap, numeric_as_string, owner, publication_oid) "
			"SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, p.oid "
			"FROM pg_catalog.pg_publication p WHERE p.pubname = $2",
			12, argtypes, values, nulls, false, SPI_OK_INSERT);
	else
		run("INSERT INTO pgcdc_drasi.sources "
			"(source_id, publication, slot_name, origin_name, conninfo, enabled, "
			"sink, channel, notify_payload, bootstrap, numeric_as_string, owner, failover) "
			"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
			13, argtypes, values, nulls, false, SPI_OK_INSERT);
	run("INSERT INTO pgcdc_drasi.source_progress (source_id) VALUES ($1)",
		1, argtypes, values, NULL, false, SPI_OK_INSERT);
	pgcdc_catalog_end(&access);
}

/*
 * Delete a source (its progress, requests, keys, options and consumers
 * go with it); returns its slot and origin names.  False when there is
 * no such source.
 */
bool
pgcdc_catalog_delete_source(const char *source_id, char **slot_name, char **origin_name)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	found = run("DELETE FROM pgcdc_drasi.sources WHERE source_id = $1 "
				"RETURNING slot_name, origin_name",
				1, argtypes, values, NULL, false, SPI_OK_DELETE_RETURNING) > 0;
	if (found)
	{
		MemoryContext old = MemoryContextSwitchTo(access.caller_mcxt);

		*slot_name = get_text(1);
		*origin_name = get_text(2);
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
	return found;
}

/* Pause or resume a source; false when there is no such source. */
bool
pgcdc_catalog_set_enabled(const char *source_id, bool enabled)
{
	Oid			argtypes[2] = {TEXTOID, BOOLOID};
	Datum		values[2];
	bool		found;

	values[0] = CStringGetTextDatum(source_id);
	values[1] = BoolGetDatum(enabled);
	found = catalog_exec("UPDATE pgcdc_drasi.sources SET enabled = $2 WHERE source_id = $1",
						 2, argtypes, values, NULL, false, SPI_OK_UPDATE) > 0;
	return found;
}

/* Change where a source's events go. */
void
pgcdc_catalog_set_sink(const char *source_id, PgcdcSink sink, const char *channel, bool wakeup)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = CStringGetTextDatum(pgcdc_catalog_sink_name(sink));
	values[2] = CStringGetTextDatum(channel);
	values[3] = CStringGetTextDatum(wakeup ? "wakeup" : "full");
	catalog_exec("UPDATE pgcdc_drasi.sources SET sink = $2, channel = $3, notify_payload = $4 "
				 "WHERE source_id = $1",
				 4, argtypes, values, NULL, false, SPI_OK_UPDATE);
}

/*
 * The Redis URL and options (jsonb as text) of a source with the redis
 * sink, from pgcdc_drasi.source_redis; false when it has none.  The url
 * may hold a password: never log it.
 */
bool
pgcdc_catalog_get_source_redis(const char *source_id, char **url, char **options)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found = false;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	if (run("SELECT url, options FROM pgcdc_drasi.source_redis WHERE source_id = $1",
			1, argtypes, values, NULL, true, SPI_OK_SELECT) > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(access.caller_mcxt);

		*url = get_text(1);
		*options = get_text(2);
		MemoryContextSwitchTo(old);
		found = true;
	}
	pgcdc_catalog_end(&access);
	return found;
}

/* Record (or replace) the Redis URL and options of a source. */
void
pgcdc_catalog_set_source_redis(const char *source_id, const char *url, const char *options)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = CStringGetTextDatum(url);
	values[2] = CStringGetTextDatum(options);
	catalog_exec("INSERT INTO pgcdc_drasi.source_redis (source_id, url, options) "
				 "VALUES ($1, $2, $3::jsonb) ON CONFLICT (source_id) "
				 "DO UPDATE SET url = EXCLUDED.url, options = EXCLUDED.options",
				 3, argtypes, values, NULL, false, SPI_OK_INSERT);
}

/* Write a source's numeric values as JSON strings, or not. */
void
pgcdc_catalog_set_numeric_as_string(const char *source_id, bool on)
{
	Oid			argtypes[2] = {TEXTOID, BOOLOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = BoolGetDatum(on);
	catalog_exec("UPDATE pgcdc_drasi.sources SET numeric_as_string = $2 WHERE source_id = $1",
				 2, argtypes, values, NULL, false, SPI_OK_UPDATE);
}

/*
 * Synchronize a source's slot to standbys, or stop doing so (the worker
 * alters the slot when it starts).  Only the tables of 0.2 have the
 * column; the 0.1 definition of alter_source never asks.
 */
void
pgcdc_catalog_set_failover(const char *source_id, bool failover)
{
	Oid			argtypes[2] = {TEXTOID, BOOLOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = BoolGetDatum(failover);
	catalog_exec("UPDATE pgcdc_drasi.sources SET failover = $2 WHERE source_id = $1",
				 2, argtypes, values, NULL, false, SPI_OK_UPDATE);
}

/*
 * The sources of this database (ids, and enabled flags as ints), for a
 * scanner.  Scanners of one database take turns, and record what they
 * read before letting the next one in: an older list can never overwrite
 * a newer one.  The lock, held until the caller commits, also waits for
 * writers of the table.
 */
void
pgcdc_catalog_list_sources(List **source_ids, List **enabled)
{
	PgcdcCatalogAccess access;
	Oid			sources;
	uint64		n;
	uint64		i;

	*source_ids = NIL;
	*enabled = NIL;
	sources = get_relname_relid("sources", get_namespace_oid(PGCDC_SCHEMA_NAME, false));
	if (!OidIsValid(sources))
		return;
	LockRelationOid(sources, ShareRowExclusiveLock);

	pgcdc_catalog_begin(&access);
	n = run("SELECT source_id, enabled FROM pgcdc_drasi.sources ORDER BY source_id",
			0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		bool		en = DatumGetBool(get_datum(i, 2, &isnull));
		MemoryContext old = MemoryContextSwitchTo(access.caller_mcxt);

		*source_ids = lappend(*source_ids, pstrdup(id));
		*enabled = lappend_int(*enabled, en ? 1 : 0);
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
}

/* Is there any source?  DROP EXTENSION and DROP SCHEMA wait for none. */
bool
pgcdc_catalog_any_source(void)
{
	bool		any;

	any = catalog_exec("SELECT 1 FROM pgcdc_drasi.sources LIMIT 1",
					   0, NULL, NULL, NULL, true, SPI_OK_SELECT) > 0;
	return any;
}

/* A source that streams this publication (the first by id), or NULL. */
char *
pgcdc_catalog_source_of_publication(const char *publication)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	char	   *source_id = NULL;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(publication);
	if (run("SELECT source_id FROM pgcdc_drasi.sources WHERE publication = $1 "
			"ORDER BY source_id LIMIT 1",
			1, argtypes, values, NULL, true, SPI_OK_SELECT) > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(access.caller_mcxt);

		source_id = get_text(1);
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
	return source_id;
}

/* The progress row of a source; false when it has none. */
bool
pgcdc_catalog_get_progress(const char *source_id, PgcdcSourceProgress *progress)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found;

	memset(progress, 0, sizeof(PgcdcSourceProgress));
	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	found = run("SELECT source_id, last_seq, snapshot_lsn, resnapshot, resnapshot_tables, "
				"resnapshot_until FROM pgcdc_drasi.source_progress WHERE source_id = $1",
				1, argtypes, values, NULL, true, SPI_OK_SELECT) > 0;
	if (found)
	{
		MemoryContext old;
		bool		isnull;
		Datum		d;

		check_natts("source_progress", Anum_source_progress_resnapshot_until);
		old = MemoryContextSwitchTo(access.caller_mcxt);
		progress->last_seq = DatumGetInt64(get_datum(0, Anum_source_progress_last_seq, &isnull));
		d = get_datum(0, Anum_source_progress_snapshot_lsn, &isnull);
		progress->snapshot_lsn = isnull ? InvalidXLogRecPtr : DatumGetLSN(d);
		progress->resnapshot = get_text(Anum_source_progress_resnapshot);
		d = get_datum(0, Anum_source_progress_resnapshot_tables, &isnull);
		progress->resnapshot_relids = isnull ? NIL : oid_array_list(d);
		d = get_datum(0, Anum_source_progress_resnapshot_until, &isnull);
		progress->resnapshot_until = isnull ? InvalidXLogRecPtr : DatumGetLSN(d);
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
	return found;
}

/*
 * Record the last seq a source used, in the transaction that wrote the
 * events: seq numbers stay contiguous whatever happens to the worker.
 * Called once per local commit, so the statement is prepared once.
 */
void
pgcdc_catalog_save_last_seq(const char *source_id, int64 last_seq)
{
	PgcdcCatalogAccess access;
	Datum		values[2];

	pgcdc_catalog_begin(&access);
	if (save_last_seq_plan == NULL)
	{
		Oid			argtypes[2] = {TEXTOID, INT8OID};
		SPIPlanPtr	plan = SPI_prepare("UPDATE pgcdc_drasi.source_progress SET last_seq = $2 "
									   "WHERE source_id = $1",
									   2, argtypes);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the progress update");
		save_last_seq_plan = plan;
	}
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(last_seq);
	if (SPI_execute_plan(save_last_seq_plan, values, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" has no progress row", source_id)));
	pgcdc_catalog_end(&access);
}

/* Record where the initial snapshot of a source was taken. */
void
pgcdc_catalog_save_snapshot_lsn(const char *source_id, XLogRecPtr lsn)
{
	Oid			argtypes[2] = {TEXTOID, LSNOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = LSNGetDatum(lsn);
	catalog_exec("UPDATE pgcdc_drasi.source_progress SET snapshot_lsn = $2 WHERE source_id = $1",
				 2, argtypes, values, NULL, false, SPI_OK_UPDATE);
}

/*
 * Where the slot this source made or adopted stood when it did (its
 * identity), or InvalidXLogRecPtr when the source has made none: then a
 * slot of its name is someone else's.  The tables of version 0.1 do not
 * record it: until ALTER EXTENSION UPDATE records the slots that exist,
 * the lowest LSN is returned, so any logical pgoutput slot of this
 * database of that name counts as the source's (what 0.1 did, less
 * physical slots and those of other databases or plugins).
 */
XLogRecPtr
pgcdc_catalog_get_slot_lsn(const char *source_id)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	XLogRecPtr	lsn = InvalidXLogRecPtr;

	if (!table_has_column("source_progress", "slot_lsn"))
		return (XLogRecPtr) 1;
	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	if (run("SELECT slot_lsn FROM pgcdc_drasi.source_progress WHERE source_id = $1",
			1, argtypes, values, NULL, true, SPI_OK_SELECT) > 0)
	{
		bool		isnull;
		Datum		d = get_datum(0, 1, &isnull);

		if (!isnull)
			lsn = DatumGetLSN(d);
	}
	pgcdc_catalog_end(&access);
	return lsn;
}

/*
 * Record the slot a source has made or adopted (InvalidXLogRecPtr: it has
 * none any more).  Nothing to do on the tables of version 0.1: the update
 * to 0.2 records the slots that exist then.
 */
void
pgcdc_catalog_save_slot_lsn(const char *source_id, XLogRecPtr lsn)
{
	Oid			argtypes[2] = {TEXTOID, LSNOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	if (!table_has_column("source_progress", "slot_lsn"))
		return;
	values[0] = CStringGetTextDatum(source_id);
	values[1] = LSNGetDatum(lsn);
	if (XLogRecPtrIsInvalid(lsn))
		nulls[1] = 'n';
	catalog_exec("UPDATE pgcdc_drasi.source_progress SET slot_lsn = $2 WHERE source_id = $1",
				 2, argtypes, values, nulls, false, SPI_OK_UPDATE);
}

/*
 * Record the re-snapshot whose overlap with the stream is being skipped
 * (its pg_snapshot text, its tables, NIL for all, and the WAL position
 * past which nothing it shows can come), or forget it (snapshot NULL).
 */
void
pgcdc_catalog_save_resnapshot(const char *source_id, const char *snapshot, List *relids,
							  XLogRecPtr until)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, OIDARRAYOID, LSNOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(source_id);
	if (snapshot == NULL)
		nulls[1] = nulls[2] = nulls[3] = 'n';
	else
	{
		values[1] = CStringGetTextDatum(snapshot);
		if (relids == NIL)
			nulls[2] = 'n';
		else
			values[2] = oid_list_array(relids);
		values[3] = LSNGetDatum(until);
	}
	catalog_exec("UPDATE pgcdc_drasi.source_progress SET resnapshot = $2::pg_catalog.pg_snapshot, "
				 "resnapshot_tables = $3, resnapshot_until = $4 WHERE source_id = $1",
				 4, argtypes, values, nulls, false, SPI_OK_UPDATE);
}

/*
 * Ask the worker of a source for a re-snapshot of some tables (NULL:
 * all), after skipping to the current end of WAL with resync.
 */
void
pgcdc_catalog_add_snapshot_request(const char *source_id, ArrayType *tables, bool resync)
{
	Oid			argtypes[3] = {TEXTOID, OIDARRAYOID, BOOLOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = CStringGetTextDatum(source_id);
	if (tables != NULL)
		values[1] = PointerGetDatum(tables);
	else
		nulls[1] = 'n';
	values[2] = BoolGetDatum(resync);
	catalog_exec("INSERT INTO pgcdc_drasi.snapshot_requests (source_id, tables, resync) VALUES ($1, $2, $3)",
				 3, argtypes, values, nulls, false, SPI_OK_INSERT);
}

/* Is a resync of the source pending? */
bool
pgcdc_catalog_resync_requested(const char *source_id)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found;

	values[0] = CStringGetTextDatum(source_id);
	found = catalog_exec("SELECT 1 FROM pgcdc_drasi.snapshot_requests WHERE source_id = $1 AND resync "
						 "LIMIT 1",
						 1, argtypes, values, NULL, true, SPI_OK_SELECT) > 0;
	return found;
}

/*
 * Take the pending snapshot requests of a source (they are deleted with
 * the caller's transaction).  Returns false when there is none; else
 * *relids is the union of the tables asked for, NIL meaning all.
 */
bool
pgcdc_catalog_claim_snapshot_requests(const char *source_id, List **relids)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	uint64		n;
	uint64		i;
	bool		all = false;
	List	   *result = NIL;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	n = run("DELETE FROM pgcdc_drasi.snapshot_requests WHERE source_id = $1 RETURNING tables",
			1, argtypes, values, NULL, false, SPI_OK_DELETE_RETURNING);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = get_datum(i, 1, &isnull);
		MemoryContext old;
		ListCell   *lc;

		if (isnull)
		{
			all = true;
			continue;
		}
		old = MemoryContextSwitchTo(access.caller_mcxt);
		foreach(lc, oid_array_list(d))
			result = list_append_unique_oid(result, lfirst_oid(lc));
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
	*relids = all ? NIL : result;
	return n > 0;
}

/*
 * Whether the installed tables record attnums with key and excluded
 * columns (version 0.2; the module also runs under 0.1's tables until
 * ALTER EXTENSION UPDATE, and then matches by name as 0.1 did).
 */
static bool
attnums_recorded(void)
{
	Oid			table_keys = get_relname_relid("table_keys",
											   get_namespace_oid(PGCDC_SCHEMA_NAME, false));

	return OidIsValid(table_keys) &&
		get_attnum(table_keys, "key_attnums") != InvalidAttrNumber;
}

/*
 * What the source's configuration says of a table: key columns set with
 * set_table_key, a label set with set_table_label, columns left out with
 * set_excluded_columns (each NIL/NULL when not set).  Columns come with
 * the attnums recorded with them, so that they follow renames.
 */
void
pgcdc_catalog_get_table_config(const char *source_id, Oid relid, PgcdcTableConfig *config)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	MemoryContext old;
	bool		isnull;
	Datum		d;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	if (run(attnums_recorded() ?
			"SELECT k.key_columns, o.label, o.exclude_columns, k.key_attnums, o.exclude_attnums "
			"FROM (SELECT) x "
			"LEFT JOIN pgcdc_drasi.table_keys k ON k.source_id = $1 AND k.table_id = $2 "
			"LEFT JOIN pgcdc_drasi.table_options o ON o.source_id = $1 AND o.table_id = $2" :
			"SELECT k.key_columns, o.label, o.exclude_columns, NULL::int2[], NULL::int2[] "
			"FROM (SELECT) x "
			"LEFT JOIN pgcdc_drasi.table_keys k ON k.source_id = $1 AND k.table_id = $2 "
			"LEFT JOIN pgcdc_drasi.table_options o ON o.source_id = $1 AND o.table_id = $2",
			2, argtypes, values, NULL, true, SPI_OK_SELECT) != 1)
		elog(ERROR, "could not read the table configuration of source \"%s\"", source_id);
	old = MemoryContextSwitchTo(access.caller_mcxt);
	d = get_datum(0, 1, &isnull);
	config->key_names = isnull ? NIL : text_array_list(d);
	config->label = get_text(2);
	d = get_datum(0, 3, &isnull);
	config->exclude_names = isnull ? NIL : text_array_list(d);
	d = get_datum(0, 4, &isnull);
	config->key_attnums = int2_array_list(d, isnull, config->key_names);
	d = get_datum(0, 5, &isnull);
	config->exclude_attnums = int2_array_list(d, isnull, config->exclude_names);
	MemoryContextSwitchTo(old);
	pgcdc_catalog_end(&access);
}

/*
 * SQL for the attnums of the columns named by the array $3 in table $2,
 * NULL for a name that matches no column.
 */
#define ATTNUMS_OF_NAMES(arr) \
	"ARRAY(SELECT a.attnum FROM pg_catalog.unnest(" arr ") WITH ORDINALITY u(n, o) " \
	"LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = $2 AND a.attname = u.n " \
	"AND NOT a.attisdropped ORDER BY u.o)"

/* Choose the key columns of a table for a source; their attnums are recorded too. */
void
pgcdc_catalog_set_table_key(const char *source_id, Oid relid, ArrayType *key_columns)
{
	Oid			argtypes[3] = {TEXTOID, OIDOID, TEXTARRAYOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = PointerGetDatum(key_columns);
	catalog_exec(attnums_recorded() ?
				 "INSERT INTO pgcdc_drasi.table_keys (source_id, table_id, key_columns, key_attnums) "
				 "VALUES ($1, $2, $3, " ATTNUMS_OF_NAMES("$3") ") ON CONFLICT (source_id, table_id) "
				 "DO UPDATE SET key_columns = EXCLUDED.key_columns, key_attnums = EXCLUDED.key_attnums" :
				 "INSERT INTO pgcdc_drasi.table_keys (source_id, table_id, key_columns) "
				 "VALUES ($1, $2, $3) ON CONFLICT (source_id, table_id) "
				 "DO UPDATE SET key_columns = EXCLUDED.key_columns",
				 3, argtypes, values, NULL, false, SPI_OK_INSERT);
}

/* Forget the key columns chosen for a table; false when none were. */
bool
pgcdc_catalog_drop_table_key(const char *source_id, Oid relid)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	bool		found;

	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	found = catalog_exec("DELETE FROM pgcdc_drasi.table_keys WHERE source_id = $1 AND table_id = $2",
						 2, argtypes, values, NULL, false, SPI_OK_DELETE) > 0;
	return found;
}

/*
 * Relations (relations.c, sql_relations.c): relation_options, relations
 * and table_modes, and the catalog facts they are resolved with.
 */

/* Whether the relation tables exist (not before ALTER EXTENSION UPDATE to 0.2). */
bool
pgcdc_catalog_relations_installed(void)
{
	Oid			nsp = get_namespace_oid(PGCDC_SCHEMA_NAME, true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("table_modes", nsp));
}

/* Whether a source publishes a table's rows as relations (set_table_mode). */
bool
pgcdc_catalog_is_join_table(const char *source_id, Oid relid)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	return catalog_exec("SELECT FROM pgcdc_drasi.table_modes m"
						" WHERE m.source_id = $1 AND m.table_id = $2 AND m.mode = 'relation'",
						2, argtypes, values, NULL, true, SPI_OK_SELECT) > 0;
}

/* An int2[] datum as an array of attnums (InvalidAttrNumber for NULL). */
static AttrNumber *
attnum_array(Datum d, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	AttrNumber *result;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(d), INT2OID, sizeof(int16), true, TYPALIGN_SHORT,
					  &elems, &nulls, n);
	result = palloc(sizeof(AttrNumber) * Max(1, *n));
	for (i = 0; i < *n; i++)
		result[i] = nulls[i] ? InvalidAttrNumber : DatumGetInt16(elems[i]);
	return result;
}

/* Append the rows of a relations query (inside SPI) to result, in the caller's context. */
static List *
relation_rows(List *result, MemoryContext caller)
{
	MemoryContext old = MemoryContextSwitchTo(caller);
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		PgcdcRelationConfig *r = palloc0(sizeof(PgcdcRelationConfig));
		bool		isnull;
		Datum		d;
		int			n;

		r->label = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		r->conname = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		r->references = DatumGetObjectId(get_datum(i, 3, &isnull));
		r->cols = attnum_array(get_datum(i, 4, &isnull), &r->ncols);
		d = get_datum(i, 5, &isnull);
		if (!isnull)
		{
			r->refcols = attnum_array(d, &n);
			Assert(n == r->ncols);
		}
		result = lappend(result, r);
	}
	MemoryContextSwitchTo(old);
	return result;
}

/*
 * The relations configured for a table of a source, as a list of
 * PgcdcRelationConfig: the declared ones (by label), then the foreign key
 * constraints to tables of the source's publication (by their first
 * column), when the source publishes foreign keys or join is true (all of
 * them, and no declared one: the table is a join table).
 */
List *
pgcdc_catalog_get_relations(const char *source_id, Oid relid, bool join)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[3] = {TEXTOID, OIDOID, BOOLOID};
	Datum		values[3];
	List	   *result = NIL;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = BoolGetDatum(join);
	run("SELECT r.label, NULL, r.references_table::oid, r.column_attnums, NULL::int2[]"
		"  FROM pgcdc_drasi.relations r"
		" WHERE r.source_id = $1 AND r.table_id = $2 AND NOT $3"
		" ORDER BY r.label",
		3, argtypes, values, NULL, true, SPI_OK_SELECT);
	result = relation_rows(result, access.caller_mcxt);
	run("SELECT NULL, c.conname::text, c.confrelid, c.conkey, c.confkey"
		"  FROM pg_catalog.pg_constraint c"
		" WHERE c.conrelid = $2 AND c.contype = 'f'"
		"   AND ($3 OR EXISTS (SELECT FROM pgcdc_drasi.relation_options o"
		"                       WHERE o.source_id = $1 AND o.foreign_keys))"
		"   AND EXISTS (SELECT FROM pg_catalog.pg_publication_tables pt"
		"                 JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname"
		"                 JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = pt.tablename"
		"                WHERE r.oid = c.confrelid"
		"                  AND pt.pubname = (SELECT s.publication FROM pgcdc_drasi.sources s"
		"                                     WHERE s.source_id = $1))"
		" ORDER BY c.conkey[1], c.conname",
		3, argtypes, values, NULL, true, SPI_OK_SELECT);
	result = relation_rows(result, access.caller_mcxt);
	pgcdc_catalog_end(&access);
	return result;
}

/*
 * The key columns of a table's nodes for a source: its set_table_key
 * columns, else its primary key (as recorded; unsorted).  NULL when it has
 * neither, or a recorded column matched none.
 */
AttrNumber *
pgcdc_catalog_node_key(const char *source_id, Oid relid, int *n)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	AttrNumber *key = NULL;
	bool		isnull;
	Datum		d;
	int			i;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	run("SELECT COALESCE("
		" (SELECT k.key_attnums FROM pgcdc_drasi.table_keys k"
		"   WHERE k.source_id = $1 AND k.table_id = $2),"
		" (SELECT c.conkey FROM pg_catalog.pg_constraint c"
		"   WHERE c.conrelid = $2 AND c.contype = 'p'))",
		2, argtypes, values, NULL, true, SPI_OK_SELECT);
	d = get_datum(0, 1, &isnull);
	*n = 0;
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(access.caller_mcxt);

		key = attnum_array(d, n);
		for (i = 0; i < *n; i++)
			if (key[i] == InvalidAttrNumber)
				key = NULL;
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
	return key;
}

/* Whether label is the label of a node of a table in the source's publication. */
bool
pgcdc_catalog_is_node_label(const char *source_id, const char *publication, const char *label)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = CStringGetTextDatum(label);
	values[2] = CStringGetTextDatum(publication);
	return catalog_exec("SELECT FROM pg_catalog.pg_publication_tables pt"
						" JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname"
						" JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename"
						" LEFT JOIN pgcdc_drasi.table_options o ON o.source_id = $1 AND o.table_id = c.oid"
						" WHERE pt.pubname = $3 AND COALESCE(o.label, c.relname::text) = $2",
						3, argtypes, values, NULL, true, SPI_OK_SELECT) > 0;
}

/*
 * The foreign keys of a table that can make it a join table: to tables of
 * the publication, each naming every key column of the referenced nodes.
 */
int64
pgcdc_catalog_join_foreign_keys(const char *source_id, Oid relid, const char *publication)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[3] = {TEXTOID, OIDOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	int64		n;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = CStringGetTextDatum(publication);
	run("SELECT pg_catalog.count(*) FROM pg_catalog.pg_constraint c"
		" WHERE c.conrelid = $2 AND c.contype = 'f'"
		"   AND EXISTS (SELECT FROM pg_catalog.pg_publication_tables pt"
		"                 JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname"
		"                 JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = pt.tablename"
		"                WHERE r.oid = c.confrelid AND pt.pubname = $3)"
		"   AND (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(c.confkey) x) ="
		"       (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(COALESCE("
		"          (SELECT k.key_attnums FROM pgcdc_drasi.table_keys k"
		"            WHERE k.source_id = $1 AND k.table_id = c.confrelid),"
		"          (SELECT p.conkey FROM pg_catalog.pg_constraint p"
		"            WHERE p.conrelid = c.confrelid AND p.contype = 'p'))) x)",
		3, argtypes, values, NULL, true, SPI_OK_SELECT);
	n = DatumGetInt64(get_datum(0, 1, &isnull));
	pgcdc_catalog_end(&access);
	return n;
}

/* Whether a source publishes the foreign keys among its tables. */
void
pgcdc_catalog_set_relations(const char *source_id, bool foreign_keys)
{
	Oid			argtypes[2] = {TEXTOID, BOOLOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = BoolGetDatum(foreign_keys);
	catalog_exec("INSERT INTO pgcdc_drasi.relation_options (source_id, foreign_keys) "
				 "VALUES ($1, $2) ON CONFLICT (source_id) "
				 "DO UPDATE SET foreign_keys = EXCLUDED.foreign_keys",
				 2, argtypes, values, NULL, false, SPI_OK_INSERT);
}

/* Declare a relation; its columns' attnums are recorded too. */
void
pgcdc_catalog_set_relation(const char *source_id, Oid relid, const char *label,
						   ArrayType *columns, Oid references)
{
	Oid			argtypes[5] = {TEXTOID, OIDOID, TEXTOID, TEXTARRAYOID, OIDOID};
	Datum		values[5];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = CStringGetTextDatum(label);
	values[3] = PointerGetDatum(columns);
	values[4] = ObjectIdGetDatum(references);
	catalog_exec("INSERT INTO pgcdc_drasi.relations "
				 "  (source_id, table_id, label, columns, references_table, column_attnums) "
				 "VALUES ($1, $2, $3, $4, $5, " ATTNUMS_OF_NAMES("$4") ") "
				 "ON CONFLICT (source_id, table_id, label) DO UPDATE "
				 "SET columns = EXCLUDED.columns, references_table = EXCLUDED.references_table, "
				 "    column_attnums = EXCLUDED.column_attnums",
				 5, argtypes, values, NULL, false, SPI_OK_INSERT);
}

/* Forget a declared relation; false when there was none. */
bool
pgcdc_catalog_drop_relation(const char *source_id, Oid relid, const char *label)
{
	Oid			argtypes[3] = {TEXTOID, OIDOID, TEXTOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = CStringGetTextDatum(label);
	return catalog_exec("DELETE FROM pgcdc_drasi.relations "
						"WHERE source_id = $1 AND table_id = $2 AND label = $3",
						3, argtypes, values, NULL, false, SPI_OK_DELETE) > 0;
}

/* Publish a table's rows as relations (true) or nodes. */
void
pgcdc_catalog_set_table_mode(const char *source_id, Oid relid, bool relation)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	if (relation)
		catalog_exec("INSERT INTO pgcdc_drasi.table_modes (source_id, table_id, mode) "
					 "VALUES ($1, $2, 'relation') ON CONFLICT (source_id, table_id) "
					 "DO UPDATE SET mode = EXCLUDED.mode",
					 2, argtypes, values, NULL, false, SPI_OK_INSERT);
	else
		catalog_exec("DELETE FROM pgcdc_drasi.table_modes WHERE source_id = $1 AND table_id = $2",
					 2, argtypes, values, NULL, false, SPI_OK_DELETE);
}

/*
 * Store one per-table option (column and expr are constants of ours,
 * never input); a NULL value removes it, and a row without options goes.
 * expr, if not NULL, is a second column set from $3 alongside: the
 * attnums of excluded columns.
 */
static void
set_table_option(const char *source_id, Oid relid, const char *column, Datum value,
				 Oid valuetype, bool isnull, const char *column2, const char *expr)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[3] = {TEXTOID, OIDOID, valuetype};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', isnull ? 'n' : ' '};

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = value;
	if (column2 != NULL && attnums_recorded())
		run(psprintf("INSERT INTO pgcdc_drasi.table_options (source_id, table_id, %s, %s) "
					 "VALUES ($1, $2, $3, CASE WHEN $3 IS NOT NULL THEN %s END) "
					 "ON CONFLICT (source_id, table_id) "
					 "DO UPDATE SET %s = EXCLUDED.%s, %s = EXCLUDED.%s",
					 column, column2, expr, column, column, column2, column2),
			3, argtypes, values, nulls, false, SPI_OK_INSERT);
	else
		run(psprintf("INSERT INTO pgcdc_drasi.table_options (source_id, table_id, %s) "
					 "VALUES ($1, $2, $3) ON CONFLICT (source_id, table_id) "
					 "DO UPDATE SET %s = EXCLUDED.%s", column, column, column),
			3, argtypes, values, nulls, false, SPI_OK_INSERT);
	run("DELETE FROM pgcdc_drasi.table_options WHERE source_id = $1 AND table_id = $2 "
		"AND label IS NULL AND exclude_columns IS NULL",
		2, argtypes, values, NULL, false, SPI_OK_DELETE);
	pgcdc_catalog_end(&access);
}

/* Set (or with NULL, remove) the label of a table's nodes. */
void
pgcdc_catalog_set_table_label(const char *source_id, Oid relid, const char *label)
{
	set_table_option(source_id, relid, "label",
					 label ? CStringGetTextDatum(label) : (Datum) 0, TEXTOID, label == NULL,
					 NULL, NULL);
}

/*
 * Set (or with NULL, remove) the columns left out of a table's
 * properties, with their attnums.
 */
void
pgcdc_catalog_set_excluded_columns(const char *source_id, Oid relid, ArrayType *columns)
{
	set_table_option(source_id, relid, "exclude_columns",
					 PointerGetDatum(columns), TEXTARRAYOID, columns == NULL,
					 "exclude_attnums", ATTNUMS_OF_NAMES("$3"));
}

/* A consumer, locked as asked; false when there is none. */
bool
pgcdc_catalog_get_consumer(const char *consumer, PgcdcRowLock lock, PgcdcConsumer *out)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found;

	Assert(lock != PGCDC_LOCK_KEY_SHARE);
	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(consumer);
	found = run(lock == PGCDC_LOCK_UPDATE ?
				"SELECT * FROM pgcdc_drasi.consumers WHERE consumer = $1 FOR UPDATE" :
				"SELECT * FROM pgcdc_drasi.consumers WHERE consumer = $1",
				1, argtypes, values, NULL, lock == PGCDC_LOCK_NONE, SPI_OK_SELECT) > 0;
	if (found)
	{
		MemoryContext old;
		bool		isnull;

		check_natts("consumers", Natts_consumers);
		old = MemoryContextSwitchTo(access.caller_mcxt);
		out->consumer = get_text(Anum_consumers_consumer);
		out->source_id = get_text(Anum_consumers_source_id);
		out->acked_seq = DatumGetInt64(get_datum(0, Anum_consumers_acked_seq, &isnull));
		out->snapshot = get_text(Anum_consumers_snapshot);
		out->owner = DatumGetObjectId(get_datum(0, Anum_consumers_owner, &isnull));
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
	return found;
}

/* Does a consumer of that name exist? */
bool
pgcdc_catalog_consumer_exists(const char *consumer)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found;

	values[0] = CStringGetTextDatum(consumer);
	found = catalog_exec("SELECT 1 FROM pgcdc_drasi.consumers WHERE consumer = $1",
						 1, argtypes, values, NULL, false, SPI_OK_SELECT) > 0;
	return found;
}

/* Does any consumer read this source? */
bool
pgcdc_catalog_source_has_consumers(const char *source_id)
{
	int64		ignored;

	return pgcdc_catalog_min_acked_seq(source_id, &ignored);
}

/*
 * Record a consumer starting after acked_seq; with_snapshot records the
 * snapshot of the caller's transaction, whose events read() skips.
 */
void
pgcdc_catalog_insert_consumer(const char *consumer, const char *source_id, int64 acked_seq,
							  Oid owner, bool with_snapshot)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, INT8OID, REGROLEOID, BOOLOID};
	Datum		values[5];

	values[0] = CStringGetTextDatum(consumer);
	values[1] = CStringGetTextDatum(source_id);
	values[2] = Int64GetDatum(acked_seq);
	values[3] = ObjectIdGetDatum(owner);
	values[4] = BoolGetDatum(with_snapshot);
	catalog_exec("INSERT INTO pgcdc_drasi.consumers (consumer, source_id, acked_seq, owner, snapshot) "
				 "VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN pg_catalog.pg_current_snapshot() END)",
				 5, argtypes, values, NULL, false, SPI_OK_INSERT);
}

/* Forget a consumer. */
void
pgcdc_catalog_delete_consumer(const char *consumer)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(consumer);
	catalog_exec("DELETE FROM pgcdc_drasi.consumers WHERE consumer = $1",
				 1, argtypes, values, NULL, false, SPI_OK_DELETE);
}

/* Move a consumer's acknowledged position to seq. */
void
pgcdc_catalog_ack_consumer(const char *consumer, int64 seq)
{
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(consumer);
	values[1] = Int64GetDatum(seq);
	catalog_exec("UPDATE pgcdc_drasi.consumers SET acked_seq = $2, acked_at = pg_catalog.now() "
				 "WHERE consumer = $1",
				 2, argtypes, values, NULL, false, SPI_OK_UPDATE);
}

/*
 * The lowest position acknowledged by the consumers of a source; false
 * when the source has no consumer.
 */
bool
pgcdc_catalog_min_acked_seq(const char *source_id, int64 *min_acked)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	run("SELECT min(acked_seq) FROM pgcdc_drasi.consumers WHERE source_id = $1",
		1, argtypes, values, NULL, true, SPI_OK_SELECT);
	d = get_datum(0, 1, &isnull);
	*min_acked = isnull ? 0 : DatumGetInt64(d);
	pgcdc_catalog_end(&access);
	return !isnull;
}

/* The name of the consumer that holds a target's delivered position. */
char *
pgcdc_catalog_target_consumer(const char *target_id)
{
	return psprintf("%s%s", PGCDC_TARGET_CONSUMER_PREFIX, target_id);
}

/*
 * The row of a target, or NULL when there is none (an error unless
 * missing_ok), locked as asked.  Its url may hold a password.
 */
PgcdcTargetConfig *
pgcdc_catalog_get_target(const char *target_id, PgcdcRowLock lock, bool missing_ok)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	PgcdcTargetConfig *config = NULL;
	const char *sql;

	switch (lock)
	{
		case PGCDC_LOCK_KEY_SHARE:
			sql = "SELECT * FROM pgcdc_drasi.targets WHERE target_id = $1 FOR KEY SHARE";
			break;
		case PGCDC_LOCK_UPDATE:
			sql = "SELECT * FROM pgcdc_drasi.targets WHERE target_id = $1 FOR UPDATE";
			break;
		default:
			sql = "SELECT * FROM pgcdc_drasi.targets WHERE target_id = $1";
			break;
	}

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(target_id);
	if (run(sql, 1, argtypes, values, NULL, lock == PGCDC_LOCK_NONE, SPI_OK_SELECT) > 0)
	{
		MemoryContext old;
		bool		isnull;

		check_natts("targets", Natts_targets);
		old = MemoryContextSwitchTo(access.caller_mcxt);
		config = palloc0(sizeof(PgcdcTargetConfig));
		config->target_id = get_text(Anum_targets_target_id);
		config->source_id = get_text(Anum_targets_source_id);
		config->kind = get_text(Anum_targets_kind);
		config->url = get_text(Anum_targets_url);
		config->options = get_text(Anum_targets_options);
		config->enabled = DatumGetBool(get_datum(0, Anum_targets_enabled, &isnull));
		config->owner = DatumGetObjectId(get_datum(0, Anum_targets_owner, &isnull));
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);

	if (config == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("target \"%s\" does not exist", target_id)));
	return config;
}

/* Record a new target (its consumer row is inserted by the caller). */
void
pgcdc_catalog_insert_target(const PgcdcTargetConfig *config)
{
	Oid			argtypes[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, REGROLEOID};
	Datum		values[7];

	values[0] = CStringGetTextDatum(config->target_id);
	values[1] = CStringGetTextDatum(config->source_id);
	values[2] = CStringGetTextDatum(config->kind);
	values[3] = CStringGetTextDatum(config->url);
	values[4] = CStringGetTextDatum(config->options);
	values[5] = BoolGetDatum(config->enabled);
	values[6] = ObjectIdGetDatum(config->owner);
	catalog_exec("INSERT INTO pgcdc_drasi.targets "
				 "(target_id, source_id, kind, url, options, enabled, owner) "
				 "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)",
				 7, argtypes, values, NULL, false, SPI_OK_INSERT);
}

/* Change a target's url and/or options (NULL: unchanged). */
void
pgcdc_catalog_update_target(const char *target_id, const char *url, const char *options)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', url ? ' ' : 'n', options ? ' ' : 'n'};

	values[0] = CStringGetTextDatum(target_id);
	values[1] = url ? CStringGetTextDatum(url) : (Datum) 0;
	values[2] = options ? CStringGetTextDatum(options) : (Datum) 0;
	catalog_exec("UPDATE pgcdc_drasi.targets SET url = coalesce($2, url), "
				 "options = coalesce($3::jsonb, options) WHERE target_id = $1",
				 3, argtypes, values, nulls, false, SPI_OK_UPDATE);
}

/* Pause or resume a target; false when there is no such target. */
bool
pgcdc_catalog_set_target_enabled(const char *target_id, bool enabled)
{
	Oid			argtypes[2] = {TEXTOID, BOOLOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(target_id);
	values[1] = BoolGetDatum(enabled);
	return catalog_exec("UPDATE pgcdc_drasi.targets SET enabled = $2 WHERE target_id = $1",
						2, argtypes, values, NULL, false, SPI_OK_UPDATE) > 0;
}

/*
 * Remove a target and the consumer row of its position; false when there
 * is no such target.
 */
bool
pgcdc_catalog_delete_target(const char *target_id)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		found;

	values[0] = CStringGetTextDatum(target_id);
	values[1] = CStringGetTextDatum(pgcdc_catalog_target_consumer(target_id));
	found = catalog_exec("DELETE FROM pgcdc_drasi.targets WHERE target_id = $1",
						 1, argtypes, values, NULL, false, SPI_OK_DELETE) > 0;
	if (found)
		catalog_exec("DELETE FROM pgcdc_drasi.consumers WHERE consumer = $2",
					 2, argtypes, values, NULL, false, SPI_OK_DELETE);
	return found;
}

/*
 * The targets of this database (ids, source ids, enabled flags as ints),
 * for a scanner; nothing while the 0.1 tables (without targets) are
 * installed.  Locked like the sources (pgcdc_catalog_list_sources).
 */
void
pgcdc_catalog_list_targets(List **target_ids, List **source_ids, List **enabled)
{
	PgcdcCatalogAccess access;
	Oid			targets;
	uint64		n;
	uint64		i;

	*target_ids = NIL;
	*source_ids = NIL;
	*enabled = NIL;
	targets = get_relname_relid("targets", get_namespace_oid(PGCDC_SCHEMA_NAME, false));
	if (!OidIsValid(targets))
		return;
	LockRelationOid(targets, ShareRowExclusiveLock);

	pgcdc_catalog_begin(&access);
	n = run("SELECT target_id, source_id, enabled FROM pgcdc_drasi.targets ORDER BY target_id",
			0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *source = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		bool		en = DatumGetBool(get_datum(i, 3, &isnull));
		MemoryContext old = MemoryContextSwitchTo(access.caller_mcxt);

		*target_ids = lappend(*target_ids, pstrdup(id));
		*source_ids = lappend(*source_ids, pstrdup(source));
		*enabled = lappend_int(*enabled, en ? 1 : 0);
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);
}
