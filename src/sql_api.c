/*-------------------------------------------------------------------------
 *
 * sql_api.c
 *		SQL functions: sources and their per-table settings, consumers
 *		of the queue, snapshots, waiting for the stream, status.
 *
 * Configuration functions are executable by pgcdc_drasi_admin; reading
 * functions (read, ack, consumers, get_events, bootstrap, status,
 * wait_for_catchup) also by pgcdc_drasi_reader.  Neither role owns the
 * configuration tables: checks run as the caller, then the reads and
 * writes of our tables run as the bootstrap superuser with a pinned
 * search_path.  Every input is checked before anything is created, and
 * each refusal says what to do instead.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_api.c
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

PG_FUNCTION_INFO_V1(pgcdc_drasi_sources_changed);
PG_FUNCTION_INFO_V1(pgcdc_drasi_create_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_drop_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_pause_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_resume_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_table_key);
PG_FUNCTION_INFO_V1(pgcdc_drasi_drop_table_key);
PG_FUNCTION_INFO_V1(pgcdc_drasi_wait_for_catchup);
PG_FUNCTION_INFO_V1(pgcdc_drasi_source_status);
PG_FUNCTION_INFO_V1(pgcdc_drasi_alter_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_create_consumer);
PG_FUNCTION_INFO_V1(pgcdc_drasi_drop_consumer);
PG_FUNCTION_INFO_V1(pgcdc_drasi_read);
PG_FUNCTION_INFO_V1(pgcdc_drasi_ack);
PG_FUNCTION_INFO_V1(pgcdc_drasi_get_events);
PG_FUNCTION_INFO_V1(pgcdc_drasi_bootstrap);
PG_FUNCTION_INFO_V1(pgcdc_drasi_resnapshot);
PG_FUNCTION_INFO_V1(pgcdc_drasi_resync_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_table_label);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_excluded_columns);

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

/* The caller's identity, saved while we act as the superuser. */
typedef struct SavedUser
{
	Oid			userid;
	int			sec_context;
	int			guc_nestlevel;
} SavedUser;

/*
 * Act as the bootstrap superuser to write our configuration tables.  The
 * caller's search_path goes too: with it, the caller's own functions or
 * operators could run with our privileges.
 */
static void
become_superuser(SavedUser *saved)
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
restore_user(SavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
	AtEOXact_GUC(true, saved->guc_nestlevel);
}

/* Open SPI and act as the superuser, to read or write our tables. */
static void
begin_config_access(SavedUser *saved)
{
	pgcdc_require_preloaded();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	become_superuser(saved);
}

/* Act as the caller again and close SPI. */
static void
end_config_access(SavedUser *saved)
{
	restore_user(saved);
	SPI_finish();
}

/* The error for a source id that names no source. */
static void report_unknown_source(const char *source_id) pg_attribute_noreturn();

static void
report_unknown_source(const char *source_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("source \"%s\" does not exist", source_id)));
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
					pgcdc_request_rescan(MyDatabaseId);
				if (config_changed_at_commit)
					pgcdc_bump_config_generation(MyDatabaseId);
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			foreach(lc, created_slots)
				drop_created_slot(((CreatedSlot *) lfirst(lc))->name);
			/* A worker stopped by a rolled-back drop_source comes back. */
			if (rescan_at_abort && pgcdc_shared != NULL)
				pgcdc_request_rescan(MyDatabaseId);
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
	register_callbacks();
	wake_at_commit = true;
	return PointerGetDatum(NULL);
}

/* Error unless an argument is given: NULL never means "do nothing". */
static void
require_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

/* Text of a non-null argument, or an error naming the argument. */
static char *
required_text_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	require_arg(fcinfo, argno, name);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* A letter or digit of ASCII, whatever the locale. */
static bool
is_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Source ids become parts of names and ids: keep them simple. */
static void
check_source_id(const char *source_id)
{
	const char *p;
	bool		ok = source_id[0] != '\0' && strlen(source_id) <= PGCDC_SOURCE_ID_MAXLEN &&
		is_ascii_alnum(source_id[0]);

	for (p = source_id; ok && *p; p++)
		if (!is_ascii_alnum(*p) && *p != '_' && *p != '-' && *p != '.')
			ok = false;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid source id \"%s\"", source_id),
				 errdetail("A source id has 1 to %d characters: letters, digits, \"_\", \"-\" and \".\", starting with a letter or digit.",
						   PGCDC_SOURCE_ID_MAXLEN)));
}

/* The default slot name of a source: pgcdc_ and the id, made a valid name. */
static char *
default_slot_name(const char *source_id)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pgcdc_");
	for (p = source_id; *p; p++)
	{
		char		c = pg_tolower((unsigned char) *p);

		appendStringInfoChar(&buf, (is_ascii_alnum(c) || c == '_') ? c : '_');
	}
	return buf.data;
}

/*
 * Check the sink settings of a source: the sink and payload kinds, a
 * channel NOTIFY accepts, and no wake-ups without a queue to read.
 */
static void
check_sink_options(const char *sink, const char *channel, const char *notify_payload)
{
	if (strcmp(sink, "queue") != 0 && strcmp(sink, "notify") != 0 && strcmp(sink, "both") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid sink \"%s\"", sink),
				 errhint("Valid sinks are \"queue\", \"notify\" and \"both\".")));
	if (strcmp(notify_payload, "full") != 0 && strcmp(notify_payload, "wakeup") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid notify_payload \"%s\"", notify_payload),
				 errhint("Valid values are \"full\" and \"wakeup\".")));
	if (channel[0] == '\0' || strlen(channel) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid channel name \"%s\"", channel),
				 errdetail("A channel name has 1 to %d bytes.", NAMEDATALEN - 1)));
	if (strcmp(sink, "notify") == 0 && strcmp(notify_payload, "wakeup") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("notify_payload \"wakeup\" needs the queue sink"),
				 errdetail("Wake-up notifications carry no events; readers fetch them from the queue."),
				 errhint("Use sink => 'both'.")));
}

/* Logical decoding needs wal_level = logical. */
static void
check_wal_level(void)
{
	if (wal_level < WAL_LEVEL_LOGICAL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("wal_level must be \"logical\" to capture changes"),
				 errhint("Set wal_level = logical in postgresql.conf and restart the server.")));
}

/* Run a statement through SPI; returns the number of rows. */
static uint64
run_sql(const char *sql, int nargs, Oid *argtypes, Datum *values, bool read_only,
		int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, read_only, 0);

	if (ret != expected)
		elog(ERROR, "SPI_execute_with_args failed (%d): %s", ret, sql);
	return SPI_processed;
}

/*
 * The caller must be able to read every table of the publication: a
 * source must never publish rows its creator could not SELECT.
 */
static void
check_publication_readable(const char *publication, Oid userid)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(publication);
	values[1] = ObjectIdGetDatum(userid);
	if (run_sql("SELECT pg_catalog.format('%I.%I', schemaname, tablename) "
				"FROM pg_catalog.pg_publication_tables "
				"WHERE pubname = $1 AND NOT pg_catalog.has_table_privilege($2, "
				"pg_catalog.format('%I.%I', schemaname, tablename), 'SELECT') "
				"ORDER BY 1 LIMIT 1",
				2, argtypes, values, true, SPI_OK_SELECT) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to capture table %s",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("The table is in publication \"%s\", and role \"%s\" cannot SELECT from it.",
						   publication, GetUserNameFromId(userid, false)),
				 errhint("Grant SELECT on the table, or use a publication of readable tables only.")));
}

/*
 * Check that an existing slot can serve a new source: a logical pgoutput
 * slot of this database that nobody is using.  Returns false when there
 * is no such slot.
 */
static bool
check_existing_slot(const char *slot_name)
{
	ReplicationSlot *slot;
	bool		exists = false;
	Oid			database = InvalidOid;
	NameData	plugin;
	pid_t		active_pid = 0;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		exists = true;
		database = slot->data.database;
		plugin = slot->data.plugin;
		active_pid = slot->active_pid;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	if (!exists)
		return false;
	if (database != MyDatabaseId)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("replication slot \"%s\" is used by another consumer", slot_name),
				 errdetail(OidIsValid(database) ?
						   "The slot belongs to another database." :
						   "The slot is a physical replication slot."),
				 errhint("Choose another slot_name.")));
	if (strcmp(NameStr(plugin), "pgoutput") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("replication slot \"%s\" is used by another consumer", slot_name),
				 errdetail("The slot uses output plugin \"%s\", not pgoutput.", NameStr(plugin)),
				 errhint("Choose another slot_name.")));
	if (active_pid != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("replication slot \"%s\" is used by another consumer", slot_name),
				 errdetail("The slot is active for process %d.", (int) active_pid),
				 errhint("Choose another slot_name, or stop the process that uses the slot.")));
	return true;
}

/*
 * Create the slot now, inside create_source, so that every change
 * committed after create_source returns is captured.  Slot creation
 * waits for transactions already running; lock_timeout bounds that
 * wait, so the caller is never stuck behind a forgotten session.
 */
static void
create_slot(const char *slot_name)
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
		run_sql("SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')",
				1, argtypes, values, false, SPI_OK_SELECT);
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
 * create_source(source_id, publication, slot_name, conninfo, enabled, sink,
 * channel, notify_payload, bootstrap, numeric_as_string):
 * check everything, create (or adopt) the slot and the origin, record
 * the source.  The launcher starts its worker at commit.
 */
Datum
pgcdc_drasi_create_source(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	char	   *publication = required_text_arg(fcinfo, 1, "publication");
	char	   *slot_name;
	char	   *conninfo = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	bool		enabled;
	char	   *sink;
	char	   *channel;
	char	   *notify_payload;
	bool		bootstrap;
	char	   *origin_name;
	Oid			caller = GetUserId();
	Publication *pub;
	SavedUser	saved;
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[6];
	char		nulls[6] = "      ";

	require_arg(fcinfo, 4, "enabled");
	enabled = PG_GETARG_BOOL(4);
	sink = required_text_arg(fcinfo, 5, "sink");
	channel = PG_ARGISNULL(6) ? default_slot_name(source_id) :
		text_to_cstring(PG_GETARG_TEXT_PP(6));
	notify_payload = required_text_arg(fcinfo, 7, "notify_payload");
	require_arg(fcinfo, 8, "bootstrap");
	bootstrap = PG_GETARG_BOOL(8);
	require_arg(fcinfo, 9, "numeric_as_string");

	pgcdc_require_preloaded();
	check_wal_level();
	check_source_id(source_id);
	check_sink_options(sink, channel, notify_payload);

	/* The worker connects with the server's own credentials. */
	if (conninfo != NULL && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers can set the conninfo of a source"),
				 errdetail("The worker connects with the server's own credentials, which conninfo could send elsewhere.")));

	slot_name = PG_ARGISNULL(2) ? default_slot_name(source_id) :
		text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!ReplicationSlotValidateName(slot_name, DEBUG1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid replication slot name \"%s\"", slot_name),
				 errdetail("Slot names have at most %d characters: lower case letters, digits and \"_\".",
						   NAMEDATALEN - 1)));

	pub = GetPublicationByName(publication, true);
	if (pub == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("publication \"%s\" does not exist", publication),
				 errhint("Create it first, for example CREATE PUBLICATION %s FOR TABLE ...;",
						 quote_identifier(publication))));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	check_publication_readable(publication, caller);
	if (pub->alltables)
		ereport(NOTICE,
				(errmsg("publication \"%s\" publishes all tables", publication),
				 errdetail("The walsender also decodes the writes of pgcdc_drasi's own queue, which the worker discards."),
				 errhint("A publication with a table list or FOR TABLES IN SCHEMA avoids that work.")));

	become_superuser(&saved);

	values[0] = CStringGetTextDatum(source_id);
	values[1] = CStringGetTextDatum(slot_name);
	if (run_sql("SELECT source_id FROM pgcdc_drasi.sources WHERE source_id = $1 OR slot_name = $2 "
				"ORDER BY source_id = $1 DESC LIMIT 1",
				2, argtypes, values, true, SPI_OK_SELECT) > 0)
	{
		char	   *other = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (strcmp(other, source_id) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("source \"%s\" already exists", source_id),
					 errhint("Drop it first with pgcdc_drasi.drop_source('%s'), or choose another id.", source_id)));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("replication slot \"%s\" is used by another consumer", slot_name),
				 errdetail("Source \"%s\" streams from it.", other),
				 errhint("Choose another slot_name.")));
	}

	if (check_existing_slot(slot_name))
	{
		/* A snapshot exported at a slot's start exists only for a new slot. */
		if (bootstrap)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot \"%s\" already exists", slot_name),
					 errdetail("The initial snapshot must be taken where a new slot starts."),
					 errhint("Pass bootstrap => false to stream from the existing slot, or choose another slot_name.")));
		/* Taking over a slot needs the right to use slots. */
		if (!superuser_arg(caller) && !has_rolreplication(caller))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to use existing replication slot \"%s\"", slot_name),
					 errdetail("Only superusers and roles with the REPLICATION attribute may adopt a slot that pgcdc_drasi did not create."),
					 errhint("Choose a slot_name that does not exist yet.")));
	}
	else if (!bootstrap)
		create_slot(slot_name);
	/* else the worker creates the slot and exports its snapshot */

	/* Origins are cluster-wide: one that exists belongs to another source. */
	origin_name = psprintf("pgcdc_drasi_%s", slot_name);
	if (replorigin_by_name(origin_name, true) != InvalidRepOriginId)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("replication slot \"%s\" is used by another consumer", slot_name),
				 errdetail("Replication origin \"%s\" exists already, so a source of another database uses this slot name.",
						   origin_name),
				 errhint("Choose another slot_name.")));
	(void) replorigin_create(origin_name);

	values[0] = CStringGetTextDatum(source_id);
	values[1] = CStringGetTextDatum(publication);
	values[2] = CStringGetTextDatum(slot_name);
	values[3] = CStringGetTextDatum(origin_name);
	if (conninfo != NULL)
		values[4] = CStringGetTextDatum(conninfo);
	else
		nulls[4] = 'n';
	values[5] = BoolGetDatum(enabled);
	argtypes[5] = BOOLOID;
	if (SPI_execute_with_args("INSERT INTO pgcdc_drasi.sources "
							  "(source_id, publication, slot_name, origin_name, conninfo, enabled, owner, "
							  "sink, channel, notify_payload, bootstrap, numeric_as_string) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
							  12,
							  (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, OIDOID,
							  TEXTOID, TEXTOID, TEXTOID, BOOLOID, BOOLOID},
							  (Datum[]) {values[0], values[1], values[2], values[3], values[4], values[5],
								  ObjectIdGetDatum(caller), CStringGetTextDatum(sink),
								  CStringGetTextDatum(channel), CStringGetTextDatum(notify_payload),
							  BoolGetDatum(bootstrap), PG_GETARG_DATUM(9)},
							  (const char[]) {' ', ' ', ' ', ' ', nulls[4], ' ', ' ', ' ', ' ', ' ', ' ', ' '},
							  false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record source \"%s\"", source_id);
	run_sql("INSERT INTO pgcdc_drasi.source_progress (source_id) VALUES ($1)",
			1, argtypes, values, false, SPI_OK_INSERT);

	end_config_access(&saved);
	PG_RETURN_VOID();
}

/* Stop a source's worker and wait until it has let go of its origin. */
static void
stop_worker(const char *source_id)
{
	PgcdcSource *src;
	pid_t		pid = 0;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STOP_WORKER_TIMEOUT_MS);

	register_callbacks();
	rescan_at_abort = true;
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	src = pgcdc_source_find(MyDatabaseId, source_id);
	if (src != NULL)
	{
		src->desired = false;
		pid = src->pid;
	}
	LWLockRelease(pgcdc_shared->lock);
	if (pid == 0)
		return;

	(void) kill(pid, SIGTERM);
	for (;;)
	{
		pid_t		now_pid;

		LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
		now_pid = src->pid;
		LWLockRelease(pgcdc_shared->lock);
		if (now_pid != pid)
			return;
		if (GetCurrentTimestamp() > deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("worker of source \"%s\" (process %d) did not stop", source_id, (int) pid)));
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * drop_source(source_id): remove the source, its events, its origin and
 * its slot.  The slot and origin are gone even if the transaction later
 * rolls back: PostgreSQL drops them immediately.
 */
Datum
pgcdc_drasi_drop_source(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	char	   *slot_name;
	char	   *origin_name;
	SavedUser	saved;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	begin_config_access(&saved);

	values[0] = CStringGetTextDatum(source_id);
	if (run_sql("DELETE FROM pgcdc_drasi.sources WHERE source_id = $1 RETURNING slot_name, origin_name",
				1, argtypes, values, false, SPI_OK_DELETE_RETURNING) == 0)
		report_unknown_source(source_id);
	slot_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	origin_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	run_sql("DELETE FROM pgcdc_drasi.events WHERE source_id = $1",
			1, argtypes, values, false, SPI_OK_DELETE);

	stop_worker(source_id);
	replorigin_drop_by_name(origin_name, true, false);
	if (SearchNamedReplicationSlot(slot_name, true) != NULL)
		ReplicationSlotDrop(slot_name, false);

	end_config_access(&saved);
	PG_RETURN_VOID();
}

/* Set the enabled flag of a source; the launcher acts at commit. */
static void
set_enabled(const char *source_id, bool enabled)
{
	SavedUser	saved;
	Oid			argtypes[2] = {TEXTOID, BOOLOID};
	Datum		values[2];

	begin_config_access(&saved);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = BoolGetDatum(enabled);
	if (run_sql("UPDATE pgcdc_drasi.sources SET enabled = $2 WHERE source_id = $1",
				2, argtypes, values, false, SPI_OK_UPDATE) == 0)
		report_unknown_source(source_id);
	end_config_access(&saved);
}

/* pause_source(source_id): stop streaming; the slot keeps the changes. */
Datum
pgcdc_drasi_pause_source(PG_FUNCTION_ARGS)
{
	set_enabled(required_text_arg(fcinfo, 0, "source_id"), false);
	PG_RETURN_VOID();
}

/* resume_source(source_id): stream again from where the source stopped. */
Datum
pgcdc_drasi_resume_source(PG_FUNCTION_ARGS)
{
	set_enabled(required_text_arg(fcinfo, 0, "source_id"), true);
	PG_RETURN_VOID();
}

/* Error unless the source exists.  Runs inside SPI as the superuser. */
static void
check_source_exists(const char *source_id)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(source_id);
	if (run_sql("SELECT 1 FROM pgcdc_drasi.sources WHERE source_id = $1",
				1, argtypes, values, true, SPI_OK_SELECT) == 0)
		report_unknown_source(source_id);
}

/* Schema-qualified, quoted name of a table, for hints the user can run. */
static char *
qualified_name(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

/*
 * Check key columns against the table: they must exist, be NOT NULL,
 * and be written to the WAL on DELETE (be part of the replica
 * identity), or deleted rows could not be matched to their nodes.
 */
static void
check_key_columns(Relation rel, Datum *names, int nnames)
{
	char		replident = rel->rd_rel->relreplident;
	Bitmapset  *identity = NULL;
	Bitmapset  *seen = NULL;
	int			i;

	if (replident != REPLICA_IDENTITY_FULL)
		identity = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);

	for (i = 0; i < nnames; i++)
	{
		char	   *name = TextDatumGetCString(names[i]);
		AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);
		Form_pg_attribute att;

		if (attnum == InvalidAttrNumber || attnum < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table \"%s\" does not exist",
							name, RelationGetRelationName(rel))));
		if (bms_is_member(attnum, seen))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("key column \"%s\" is listed more than once", name)));
		seen = bms_add_member(seen, attnum);

		att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		if (att->attgenerated)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key column \"%s\" of table \"%s\" is a generated column",
							name, RelationGetRelationName(rel)),
					 errdetail("Generated columns are not published.")));
		if (!att->attnotnull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key column \"%s\" of table \"%s\" is nullable",
							name, RelationGetRelationName(rel)),
					 errdetail("A row with a NULL key would have no element id."),
					 errhint("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;",
							 qualified_name(rel), quote_identifier(name))));
		if (identity != NULL &&
			!bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, identity))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key column \"%s\" of table \"%s\" is not part of its replica identity",
							name, RelationGetRelationName(rel)),
					 errdetail("A DELETE writes only the replica identity columns to the WAL, so the deleted node could not be identified."),
					 errhint("ALTER TABLE %s REPLICA IDENTITY FULL, or use a replica identity index that contains the key columns.",
							 qualified_name(rel))));
	}
}

/* set_table_key(source_id, table, key_columns): choose a table's key. */
Datum
pgcdc_drasi_set_table_key(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	Oid			relid;
	ArrayType  *arr;
	Datum	   *names;
	bool	   *nulls;
	int			nnames;
	int			i;
	Relation	rel;
	SavedUser	saved;
	Oid			argtypes[3] = {TEXTOID, OIDOID, TEXTARRAYOID};
	Datum		values[3];

	require_arg(fcinfo, 1, "table");
	require_arg(fcinfo, 2, "key_columns");
	relid = PG_GETARG_OID(1);
	arr = PG_GETARG_ARRAYTYPE_P(2);
	pgcdc_require_preloaded();

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("key_columns must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &nnames);
	if (nnames == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key_columns must name at least one column"),
				 errhint("Use pgcdc_drasi.drop_table_key() to go back to the primary key.")));
	for (i = 0; i < nnames; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("key_columns must not contain NULL")));

	rel = try_relation_open(relid, AccessShareLock);
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
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel))));
	check_key_columns(rel, names, nnames);
	relation_close(rel, AccessShareLock);

	begin_config_access(&saved);
	check_source_exists(source_id);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = PointerGetDatum(arr);
	run_sql("INSERT INTO pgcdc_drasi.table_keys (source_id, table_id, key_columns) "
			"VALUES ($1, $2, $3) ON CONFLICT (source_id, table_id) "
			"DO UPDATE SET key_columns = EXCLUDED.key_columns",
			3, argtypes, values, false, SPI_OK_INSERT);
	end_config_access(&saved);

	register_callbacks();
	config_changed_at_commit = true;
	PG_RETURN_VOID();
}

/* drop_table_key(source_id, table): back to the primary key. */
Datum
pgcdc_drasi_drop_table_key(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	Oid			relid;
	SavedUser	saved;
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];

	require_arg(fcinfo, 1, "table");
	relid = PG_GETARG_OID(1);
	begin_config_access(&saved);
	check_source_exists(source_id);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	if (run_sql("DELETE FROM pgcdc_drasi.table_keys WHERE source_id = $1 AND table_id = $2",
				2, argtypes, values, false, SPI_OK_DELETE) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" has no key set for table %s",
						source_id, get_rel_name(relid) ? get_rel_name(relid) : psprintf("with OID %u", relid))));
	end_config_access(&saved);

	register_callbacks();
	config_changed_at_commit = true;
	PG_RETURN_VOID();
}

/* Milliseconds of an interval, months counted as 30 days. */
static int64
interval_ms(Interval *iv)
{
	return iv->time / 1000 + ((int64) iv->day + (int64) iv->month * 30) * 86400000;
}

/*
 * wait_for_catchup(source_id, timeout): write a marker to the WAL, after
 * every commit that happened before the call, and wait until the worker
 * has published up to it.
 */
Datum
pgcdc_drasi_wait_for_catchup(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	int64		timeout_ms;
	SavedUser	saved;
	XLogRecPtr	target;
	TimestampTz deadline;

	require_arg(fcinfo, 1, "timeout");
	timeout_ms = interval_ms(PG_GETARG_INTERVAL_P(1));
	pgcdc_require_preloaded();
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));

	begin_config_access(&saved);
	check_source_exists(source_id);
	end_config_access(&saved);

	target = LogLogicalMessage("pgcdc_drasi", "", 0, false);
	XLogFlush(target);
	/* Beyond a century is forever; it also keeps the arithmetic in range. */
	timeout_ms = Min(timeout_ms, INT64CONST(100) * 366 * 86400000);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	for (;;)
	{
		PgcdcSource *src;
		XLogRecPtr	published = InvalidXLogRecPtr;
		ConditionVariable *cv = NULL;
		TimestampTz now;
		char		state[64] = "not started";
		char		last_error[PGCDC_ERROR_MAXLEN] = "";

		LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
		src = pgcdc_source_find(MyDatabaseId, source_id);
		if (src != NULL)
		{
			published = src->published_lsn;
			cv = &src->progress_cv;
			strlcpy(state, src->pid != 0 ? pgcdc_state_name(src->state) :
					!src->desired ? "paused" : pgcdc_state_name(src->state), sizeof(state));
			strlcpy(last_error, src->last_error, sizeof(last_error));
		}
		LWLockRelease(pgcdc_shared->lock);

		if (published >= target)
			break;

		now = GetCurrentTimestamp();
		if (now >= deadline)
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("source \"%s\" did not catch up within the timeout", source_id),
					 errdetail("State: %s; published up to %X/%X, waiting for %X/%X.%s%s",
							   state, LSN_FORMAT_ARGS(published), LSN_FORMAT_ARGS(target),
							   last_error[0] ? " Last error: " : "", last_error),
					 errhint("See pgcdc_drasi.status and the server log.")));
		}

		if (cv != NULL)
			(void) ConditionVariableTimedSleep(cv, Min(100, (deadline - now) / 1000 + 1),
											   PG_WAIT_EXTENSION);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(100, (deadline - now) / 1000 + 1), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	PG_RETURN_VOID();
}

/* source_status(): the shared state of this database's sources. */
Datum
pgcdc_drasi_source_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	pgcdc_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource src;
		Datum		values[18];
		bool		nulls[18];
		const char *state;

		LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
		memcpy(&src, &pgcdc_shared->sources[i], sizeof(PgcdcSource));
		LWLockRelease(pgcdc_shared->lock);

		if (!src.in_use || src.dboid != MyDatabaseId || src.dropped)
			continue;

		if (src.pid != 0)
			state = pgcdc_state_name(src.state);
		else if (!src.desired)
			state = "paused";
		else if (src.state == PGCDC_STATE_ERROR)
			state = "error";
		else
			state = "starting";

		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(src.source_id);
		values[1] = CStringGetTextDatum(state);
		values[2] = Int32GetDatum((int32) src.pid);
		nulls[2] = (src.pid == 0);
		values[3] = LSNGetDatum(src.received_lsn);
		nulls[3] = XLogRecPtrIsInvalid(src.received_lsn);
		values[4] = LSNGetDatum(src.published_lsn);
		nulls[4] = XLogRecPtrIsInvalid(src.published_lsn);
		values[5] = LSNGetDatum(src.flushed_lsn);
		nulls[5] = XLogRecPtrIsInvalid(src.flushed_lsn);
		values[6] = Int64GetDatum((int64) src.events);
		values[7] = Int64GetDatum((int64) src.xacts);
		values[8] = TimestampTzGetDatum(src.last_commit_time);
		nulls[8] = (src.last_commit_time == 0);
		values[9] = CStringGetTextDatum(src.last_error);
		nulls[9] = (src.last_error[0] == '\0');
		values[10] = TimestampTzGetDatum(src.last_error_time);
		nulls[10] = (src.last_error_time == 0);
		values[11] = Int64GetDatum((int64) src.reconnects);
		values[12] = TimestampTzGetDatum(src.started_at);
		nulls[12] = (src.started_at == 0);
		values[13] = Int64GetDatum((int64) src.notifications);
		values[14] = Int64GetDatum((int64) src.notifications_skipped);
		values[15] = CStringGetTextDatum(src.snapshot_table);
		nulls[15] = (src.snapshot_table[0] == '\0');
		values[16] = Int64GetDatum((int64) src.snapshot_rows_done);
		nulls[16] = nulls[15];
		values[17] = Int64GetDatum((int64) src.snapshot_rows_total);
		nulls[17] = nulls[15];
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * alter_source(source_id, sink, channel, notify_payload): change how
 * events leave the worker.  The worker switches at the start of its next
 * local transaction, so no event is lost or sent twice by the change.
 */
Datum
pgcdc_drasi_alter_source(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	SavedUser	saved;
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char	   *sink;
	char	   *channel;
	char	   *notify_payload;
	TupleDesc	desc;
	HeapTuple	tup;

	begin_config_access(&saved);
	values[0] = CStringGetTextDatum(source_id);
	if (run_sql("SELECT sink, channel, notify_payload, "
				"EXISTS (SELECT 1 FROM pgcdc_drasi.consumers c WHERE c.source_id = s.source_id) "
				"FROM pgcdc_drasi.sources s WHERE source_id = $1 FOR UPDATE",
				1, argtypes, values, false, SPI_OK_SELECT) == 0)
		report_unknown_source(source_id);
	desc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	sink = PG_ARGISNULL(1) ? SPI_getvalue(tup, desc, 1) : text_to_cstring(PG_GETARG_TEXT_PP(1));
	channel = PG_ARGISNULL(2) ? SPI_getvalue(tup, desc, 2) : text_to_cstring(PG_GETARG_TEXT_PP(2));
	notify_payload = PG_ARGISNULL(3) ? SPI_getvalue(tup, desc, 3) :
		text_to_cstring(PG_GETARG_TEXT_PP(3));
	check_sink_options(sink, channel, notify_payload);
	if (strcmp(sink, "notify") == 0 && strcmp(SPI_getvalue(tup, desc, 4), "t") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" has consumers, which read the queue", source_id),
				 errhint("Keep the queue sink (sink => 'both'), or drop the consumers first.")));

	values[1] = CStringGetTextDatum(sink);
	values[2] = CStringGetTextDatum(channel);
	values[3] = CStringGetTextDatum(notify_payload);
	run_sql("UPDATE pgcdc_drasi.sources SET sink = $2, channel = $3, notify_payload = $4 "
			"WHERE source_id = $1",
			4, argtypes, values, false, SPI_OK_UPDATE);
	if (!PG_ARGISNULL(4))
	{
		values[1] = PG_GETARG_DATUM(4);
		run_sql("UPDATE pgcdc_drasi.sources SET numeric_as_string = $2 WHERE source_id = $1",
				2, (Oid[]) {TEXTOID, BOOLOID}, values, false, SPI_OK_UPDATE);
	}
	end_config_access(&saved);

	register_callbacks();
	config_changed_at_commit = true;
	PG_RETURN_VOID();
}

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
 * acknowledged seq.  Runs inside begin_config_access.
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
	if (run_sql(for_update ?
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
	char	   *consumer = required_text_arg(fcinfo, 0, "consumer");
	char	   *source_id = required_text_arg(fcinfo, 1, "source_id");
	char	   *start_at = required_text_arg(fcinfo, 2, "start_at");
	bool		bootstrap;
	Oid			caller = GetUserId();
	SavedUser	saved;
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
	require_arg(fcinfo, 3, "bootstrap");
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

	begin_config_access(&saved);
	values[0] = CStringGetTextDatum(source_id);
	if (run_sql("SELECT s.sink, p.last_seq, "
				"(SELECT min(seq) - 1 FROM pgcdc_drasi.events e WHERE e.source_id = s.source_id) "
				"FROM pgcdc_drasi.sources s JOIN pgcdc_drasi.source_progress p USING (source_id) "
				"WHERE source_id = $1 FOR KEY SHARE OF s",
				1, argtypes, values, false, SPI_OK_SELECT) == 0)
		report_unknown_source(source_id);
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
	if (run_sql("SELECT 1 FROM pgcdc_drasi.consumers WHERE consumer = $1",
				1, argtypes, values, false, SPI_OK_SELECT) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("consumer \"%s\" already exists", consumer)));
	values[1] = CStringGetTextDatum(source_id);
	values[2] = Int64GetDatum(acked);
	values[3] = ObjectIdGetDatum(caller);
	values[4] = BoolGetDatum(bootstrap);
	run_sql("INSERT INTO pgcdc_drasi.consumers (consumer, source_id, acked_seq, owner, snapshot) "
			"VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN pg_catalog.pg_current_snapshot() END)",
			5, argtypes, values, false, SPI_OK_INSERT);
	end_config_access(&saved);
	PG_RETURN_VOID();
}

/* drop_consumer(consumer): forget a consumer and its position. */
Datum
pgcdc_drasi_drop_consumer(PG_FUNCTION_ARGS)
{
	char	   *consumer = required_text_arg(fcinfo, 0, "consumer");
	SavedUser	saved;
	char	   *source_id;
	int64		acked;
	int64		last_seq;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	begin_config_access(&saved);
	lookup_consumer(consumer, saved.userid, true, &source_id, &acked, &last_seq);
	values[0] = CStringGetTextDatum(consumer);
	run_sql("DELETE FROM pgcdc_drasi.consumers WHERE consumer = $1",
			1, argtypes, values, false, SPI_OK_DELETE);
	end_config_access(&saved);
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
	char	   *consumer = required_text_arg(fcinfo, 0, "consumer");
	int32		max_events;
	SavedUser	saved;
	char	   *source_id;
	int64		acked;
	int64		last_seq;
	Oid			argtypes[4] = {TEXTOID, INT8OID, INT4OID, TEXTOID};
	Datum		values[4];

	require_arg(fcinfo, 1, "max_events");
	max_events = PG_GETARG_INT32(1);
	if (max_events < 1 || max_events > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_events must be between 1 and 1000000")));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	begin_config_access(&saved);
	lookup_consumer(consumer, saved.userid, false, &source_id, &acked, &last_seq);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(acked);
	values[2] = Int32GetDatum(max_events);
	values[3] = CStringGetTextDatum(consumer);
	run_sql("SELECT e.* FROM pgcdc_drasi.events e, pgcdc_drasi.consumers c "
			"WHERE c.consumer = $4 AND e.source_id = $1 AND e.seq > $2 "
			"AND (c.snapshot IS NULL OR CASE WHEN e.snapshot IS NULL "
			"     THEN NOT pg_catalog.pg_visible_in_snapshot(e.xid, c.snapshot) "
			"     ELSE NOT pgcdc_drasi._snapshot_within(e.snapshot, c.snapshot) END) "
			"ORDER BY e.seq LIMIT $3",
			4, argtypes, values, true, SPI_OK_SELECT);
	return_spi_rows(fcinfo);
	end_config_access(&saved);
	return (Datum) 0;
}

/*
 * ack(consumer, seq): the consumer has processed everything up to seq.
 * Positions only move forward, and never past what was published.
 */
Datum
pgcdc_drasi_ack(PG_FUNCTION_ARGS)
{
	char	   *consumer = required_text_arg(fcinfo, 0, "consumer");
	int64		seq;
	SavedUser	saved;
	char	   *source_id;
	int64		acked;
	int64		last_seq;
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	require_arg(fcinfo, 1, "seq");
	seq = PG_GETARG_INT64(1);

	begin_config_access(&saved);
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
		run_sql("UPDATE pgcdc_drasi.consumers SET acked_seq = $2, acked_at = pg_catalog.now() "
				"WHERE consumer = $1",
				2, argtypes, values, false, SPI_OK_UPDATE);
	}
	end_config_access(&saved);
	PG_RETURN_VOID();
}

/*
 * get_events(source_id, first_seq, last_seq): events of a source by seq,
 * for instance the one a NOTIFY reference names.
 */
Datum
pgcdc_drasi_get_events(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	int64		first_seq;
	int64		last_seq;
	SavedUser	saved;
	Oid			argtypes[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];

	require_arg(fcinfo, 1, "first_seq");
	first_seq = PG_GETARG_INT64(1);
	last_seq = PG_ARGISNULL(2) ? first_seq : PG_GETARG_INT64(2);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	begin_config_access(&saved);
	check_source_exists(source_id);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(first_seq);
	values[2] = Int64GetDatum(last_seq);
	run_sql("SELECT * FROM pgcdc_drasi.events WHERE source_id = $1 AND seq BETWEEN $2 AND $3 "
			"ORDER BY seq",
			3, argtypes, values, true, SPI_OK_SELECT);
	return_spi_rows(fcinfo);
	end_config_access(&saved);
	return (Datum) 0;
}

/* State of a bootstrap() call between rows. */
typedef struct BootstrapState
{
	PgcdcSnapshotScan *scan;
	MemoryContext batch_mcxt;	/* the elements of the current batch */
	Datum	   *rows;
	int			nrows;
	int			pos;
	bool		done;
} BootstrapState;

/* Row callback of bootstrap(): keep the element as jsonb. */
static void
collect_element(PgcdcRelCache *cache, Oid relid, LogicalRepTupleData *tup, void *arg)
{
	BootstrapState *state = (BootstrapState *) arg;
	MemoryContext old = MemoryContextSwitchTo(state->batch_mcxt);

	state->rows[state->nrows++] = JsonbPGetDatum(pgcdc_map_element(cache, relid, tup));
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
		char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
		List	   *labels = NIL;
		MemoryContext old;
		SavedUser	saved;
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1];
		char	   *publication;
		bool		numeric_as_string;
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
				labels = list_make1(pstrdup(""));	/* no label at all: nothing matches */
		}

		begin_config_access(&saved);
		values[0] = CStringGetTextDatum(source_id);
		if (run_sql("SELECT publication, numeric_as_string FROM pgcdc_drasi.sources WHERE source_id = $1",
					1, argtypes, values, true, SPI_OK_SELECT) == 0)
			report_unknown_source(source_id);
		publication = MemoryContextStrdup(funcctx->multi_call_memory_ctx,
										  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		numeric_as_string = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), "t") == 0;
		end_config_access(&saved);

		state = palloc0(sizeof(BootstrapState));
		state->batch_mcxt = AllocSetContextCreate(funcctx->multi_call_memory_ctx,
												  "pgcdc_drasi bootstrap batch",
												  ALLOCSET_DEFAULT_SIZES);
		cache = pgcdc_relcache_create(source_id, InvalidOid, funcctx->multi_call_memory_ctx);
		pgcdc_relcache_set_numeric_as_string(cache, numeric_as_string);
		if (GetPublicationByName(publication, true) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("publication \"%s\" of source \"%s\" does not exist", publication, source_id)));
		state->scan = pgcdc_snapshot_begin(cache, publication, labels, NIL);
		state->rows = palloc(sizeof(Datum) * 1000);
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
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	SavedUser	saved;
	Oid			argtypes[2] = {TEXTOID, OIDARRAYOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	char	   *publication;

	begin_config_access(&saved);
	values[0] = CStringGetTextDatum(source_id);
	if (run_sql("SELECT publication, sink FROM pgcdc_drasi.sources WHERE source_id = $1",
				1, argtypes, values, true, SPI_OK_SELECT) == 0)
		report_unknown_source(source_id);
	publication = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
		Datum	   *elems;
		bool	   *elnulls;
		int			n;
		int			i;

		deconstruct_array(arr, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &elnulls, &n);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tables must name at least one table"),
					 errhint("Pass NULL to take a snapshot of every table of the source.")));
		for (i = 0; i < n; i++)
		{
			Datum		chk[2];

			if (elnulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("tables must not contain NULL")));
			chk[0] = CStringGetTextDatum(publication);
			chk[1] = elems[i];
			if (run_sql("SELECT 1 FROM pg_catalog.pg_publication_tables pt "
						"JOIN pg_catalog.pg_class c ON c.relname = pt.tablename "
						"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = pt.schemaname "
						"WHERE pt.pubname = $1 AND c.oid = $2",
						2, (Oid[]) {TEXTOID, OIDOID}, chk, true, SPI_OK_SELECT) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("table %s is not published by source \"%s\"",
								get_rel_name(DatumGetObjectId(elems[i])) ?
								get_rel_name(DatumGetObjectId(elems[i])) : "?", source_id),
						 errdetail("Publication \"%s\" does not include it.", publication)));
		}
		values[1] = PointerGetDatum(arr);
	}
	if (SPI_execute_with_args("INSERT INTO pgcdc_drasi.snapshot_requests (source_id, tables) "
							  "VALUES ($1, $2)",
							  2, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the snapshot request");
	end_config_access(&saved);

	register_callbacks();
	config_changed_at_commit = true;
	PG_RETURN_VOID();
}

/* Wait until no process (the stopped worker's walsender) holds a slot. */
static void
wait_slot_released(const char *slot_name)
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

/*
 * resync_source(source_id): recover a source whose stream cannot go on
 * (its publication was dropped and created again, its slot was lost or
 * invalidated).  The worker restarts at the current end of WAL, skipping
 * what it cannot decode, and takes a snapshot of all its tables at its
 * first quiet moment: consumers get the current state, then the stream.
 * The skipped changes are not sent one by one; the snapshot carries their
 * effect.  Everything the worker does for it commits atomically with its
 * progress, so a crash in between simply repeats the resync.
 */
Datum
pgcdc_drasi_resync_source(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	SavedUser	saved;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	char	   *slot_name;
	ReplicationSlot *slot;
	bool		slot_exists;
	bool		slot_invalid = false;

	begin_config_access(&saved);
	values[0] = CStringGetTextDatum(source_id);
	if (run_sql("SELECT slot_name FROM pgcdc_drasi.sources WHERE source_id = $1",
				1, argtypes, values, true, SPI_OK_SELECT) == 0)
		report_unknown_source(source_id);
	slot_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	slot_exists = (slot != NULL);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		slot_invalid = XLogRecPtrIsInvalid(slot->data.restart_lsn);
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	/* A lost or invalidated slot is made again first, before we write. */
	if (slot_invalid)
	{
		stop_worker(source_id);
		wait_slot_released(slot_name);
		ReplicationSlotDrop(slot_name, false);
		slot_exists = false;
	}
	if (!slot_exists)
		create_slot(slot_name);

	/* Keep the restarted worker waiting until the request is committed. */
	run_sql("SELECT 1 FROM pgcdc_drasi.sources WHERE source_id = $1 FOR UPDATE",
			1, argtypes, values, false, SPI_OK_SELECT);
	run_sql("INSERT INTO pgcdc_drasi.snapshot_requests (source_id, tables, resync) "
			"VALUES ($1, NULL, true)",
			1, argtypes, values, false, SPI_OK_INSERT);
	stop_worker(source_id);
	end_config_access(&saved);

	register_callbacks();
	wake_at_commit = true;
	PG_RETURN_VOID();
}

/*
 * Check a table named in a per-table setting: it exists, is a table, and
 * the caller can read it.  Returns it open; the caller closes it.
 */
static Relation
open_config_table(Oid relid)
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
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel))));
	return rel;
}

/*
 * Store one per-table option of a source (label or exclude_columns); a
 * NULL value removes it.  Workers take it at their next local transaction.
 */
static void
set_table_option(const char *source_id, Oid relid, const char *column, Datum value,
				 Oid valuetype, bool isnull)
{
	SavedUser	saved;
	Oid			argtypes[3] = {TEXTOID, OIDOID, valuetype};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', isnull ? 'n' : ' '};

	begin_config_access(&saved);
	check_source_exists(source_id);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = value;
	if (SPI_execute_with_args(psprintf("INSERT INTO pgcdc_drasi.table_options (source_id, table_id, %s) "
									   "VALUES ($1, $2, $3) ON CONFLICT (source_id, table_id) "
									   "DO UPDATE SET %s = EXCLUDED.%s", column, column, column),
							  3, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the table option");
	run_sql("DELETE FROM pgcdc_drasi.table_options WHERE source_id = $1 AND table_id = $2 "
			"AND label IS NULL AND exclude_columns IS NULL",
			2, argtypes, values, false, SPI_OK_DELETE);
	end_config_access(&saved);
	register_callbacks();
	config_changed_at_commit = true;
}

/*
 * set_table_label(source_id, table, label): the label of a table's nodes
 * instead of its name (NULL: back to the name).  Ids keep the table name,
 * so they stay stable when a label changes.
 */
Datum
pgcdc_drasi_set_table_label(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	Relation	rel;

	require_arg(fcinfo, 1, "table");
	rel = open_config_table(PG_GETARG_OID(1));
	if (!PG_ARGISNULL(2) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label must not be empty"),
				 errhint("Pass NULL to label the nodes with the table name again.")));
	relation_close(rel, AccessShareLock);
	set_table_option(source_id, PG_GETARG_OID(1), "label",
					 PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2), TEXTOID, PG_ARGISNULL(2));
	PG_RETURN_VOID();
}

/*
 * set_excluded_columns(source_id, table, columns): columns left out of
 * the table's properties (NULL or empty: none).  Key columns still make
 * the ids.
 */
Datum
pgcdc_drasi_set_excluded_columns(PG_FUNCTION_ARGS)
{
	char	   *source_id = required_text_arg(fcinfo, 0, "source_id");
	Relation	rel;
	bool		none = PG_ARGISNULL(2);

	require_arg(fcinfo, 1, "table");
	rel = open_config_table(PG_GETARG_OID(1));
	if (!none)
	{
		Datum	   *names;
		bool	   *nulls;
		int			n;
		int			i;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT,
						  &names, &nulls, &n);
		for (i = 0; i < n; i++)
		{
			char	   *name;

			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("columns must not contain NULL")));
			name = TextDatumGetCString(names[i]);
			if (get_attnum(RelationGetRelid(rel), name) <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of table \"%s\" does not exist",
								name, RelationGetRelationName(rel))));
		}
		none = (n == 0);
	}
	relation_close(rel, AccessShareLock);
	set_table_option(source_id, PG_GETARG_OID(1), "exclude_columns",
					 none ? (Datum) 0 : PG_GETARG_DATUM(2), TEXTARRAYOID, none);
	PG_RETURN_VOID();
}
