/*-------------------------------------------------------------------------
 *
 * sql_sources.c
 *		SQL functions of sources: create, alter, pause, resume, drop; the
 *		per-table keys, labels and excluded columns; waiting; status.
 *
 * Every input is checked before anything is created, and each refusal
 * says what to do instead.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_sources.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/catalog.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "pgstat.h"
#include "replication/message.h"
#include "replication/origin.h"
#include "replication/slot.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"

#include "catalog.h"
#include "compat.h"
#include "pgcdc_drasi.h"
#include "relation.h"
#include "shmem.h"
#include "sink_queue.h"
#include "sink_redis.h"
#include "sql_common.h"
#include "walstream.h"

PG_FUNCTION_INFO_V1(pgcdc_drasi_create_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_create_source_0_2);
PG_FUNCTION_INFO_V1(pgcdc_drasi_alter_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_source_redis);
PG_FUNCTION_INFO_V1(pgcdc_drasi_alter_source_0_2);
PG_FUNCTION_INFO_V1(pgcdc_drasi_drop_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_pause_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_resume_source);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_table_key);
PG_FUNCTION_INFO_V1(pgcdc_drasi_drop_table_key);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_table_label);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_excluded_columns);
PG_FUNCTION_INFO_V1(pgcdc_drasi_wait_for_catchup);
PG_FUNCTION_INFO_V1(pgcdc_drasi_source_status);
PG_FUNCTION_INFO_V1(pgcdc_drasi_guard_ddl);

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
	if (strcmp(sink, "queue") != 0 && strcmp(sink, "notify") != 0 && strcmp(sink, "both") != 0 &&
		strcmp(sink, "redis") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid sink \"%s\"", sink),
				 errhint("Valid sinks are \"queue\", \"notify\", \"both\" and \"redis\".")));
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

/*
 * The caller must be able to read every row of every table of the
 * publication: a source must never publish rows its creator could not
 * SELECT.  The tables are listed as the caller, with search_path pinned,
 * so no operator of the caller's can change the list.
 */
static void
check_publication_readable(const char *publication, Oid userid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	List	   *relids = NIL;
	ListCell   *lc;
	uint64		n;
	uint64		i;
	int			nestlevel;

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	values[0] = CStringGetTextDatum(publication);
	n = pgcdc_sql_run("SELECT c.oid FROM pg_catalog.pg_publication_tables pt "
					  "JOIN pg_catalog.pg_namespace ns ON ns.nspname OPERATOR(pg_catalog.=) pt.schemaname "
					  "JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) ns.oid "
					  "AND c.relname OPERATOR(pg_catalog.=) pt.tablename "
					  "WHERE pt.pubname OPERATOR(pg_catalog.=) $1 "
					  "ORDER BY pg_catalog.format('%I.%I', pt.schemaname, pt.tablename)",
					  1, argtypes, values, true, SPI_OK_SELECT);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		relids = lappend_oid(relids,
							 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc, 1, &isnull)));
	}
	AtEOXact_GUC(true, nestlevel);

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		Relation	rel;

		CHECK_FOR_INTERRUPTS();
		rel = try_relation_open(relid, AccessShareLock);
		if (rel == NULL)
			continue;			/* dropped meanwhile: not in the publication */
		if (pg_class_aclcheck(relid, userid, ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to capture table %s",
							quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													   RelationGetRelationName(rel))),
					 errdetail("The table is in publication \"%s\", and role \"%s\" cannot SELECT from it.",
							   publication, GetUserNameFromId(userid, false)),
					 errhint("Grant SELECT on the table, or use a publication of readable tables only.")));
		pgcdc_check_row_security(rel, userid, NULL);
		relation_close(rel, AccessShareLock);
	}
}

/*
 * Say which key the element ids of a table use when it is not the primary
 * key: with a replica identity index that does not contain the primary
 * key, the WAL carries the primary key neither on DELETE nor on an UPDATE
 * that changes it, so the replica identity columns are the key.
 */
static void
notice_replica_identity_keys(const char *publication)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	uint64		i;
	uint64		n;

	values[0] = CStringGetTextDatum(publication);
	n = pgcdc_sql_run("SELECT pg_catalog.format('%I.%I', pt.schemaname, pt.tablename), "
					  "(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) "
					  " FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid "
					  " AND a.attnum OPERATOR(pg_catalog.=) ANY (ri.indkey::pg_catalog.int2[])), "
					  "(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) "
					  " FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid "
					  " AND a.attnum OPERATOR(pg_catalog.=) ANY (pk.indkey::pg_catalog.int2[])) "
					  "FROM pg_catalog.pg_publication_tables pt "
					  "JOIN pg_catalog.pg_namespace ns ON ns.nspname OPERATOR(pg_catalog.=) pt.schemaname "
					  "JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) ns.oid "
					  " AND c.relname OPERATOR(pg_catalog.=) pt.tablename "
					  "JOIN pg_catalog.pg_index pk ON pk.indrelid OPERATOR(pg_catalog.=) c.oid AND pk.indisprimary "
					  "JOIN pg_catalog.pg_index ri ON ri.indrelid OPERATOR(pg_catalog.=) c.oid AND ri.indisreplident "
					  "WHERE pt.pubname OPERATOR(pg_catalog.=) $1 AND c.relreplident OPERATOR(pg_catalog.=) 'i' "
					  "AND NOT (pk.indkey::pg_catalog.int2[] OPERATOR(pg_catalog.<@) ri.indkey::pg_catalog.int2[]) "
					  "ORDER BY 1",
					  1, argtypes, values, true, SPI_OK_SELECT);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		ereport(NOTICE,
				(errmsg("element ids of table %s use its replica identity columns (%s), not its primary key (%s)",
						SPI_getvalue(tup, desc, 1), SPI_getvalue(tup, desc, 2),
						SPI_getvalue(tup, desc, 3)),
				 errdetail("The replica identity index does not contain the primary key, so the WAL does not carry the primary key of deleted rows, nor the old one of an update that changes it."),
				 errhint("To use the primary key, ALTER TABLE %s REPLICA IDENTITY DEFAULT (or FULL).",
						 SPI_getvalue(tup, desc, 1))));
	}
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
 * A failover slot moves its confirmed position only as far as the standbys
 * named in synchronized_standby_slots have flushed the WAL: without one,
 * a standby can be promoted with the slot ahead of the queue it has.
 */
static void
warn_without_standby_slots(bool failover)
{
	if (failover && !pgcdc_standby_slots_configured())
		ereport(WARNING,
				(errmsg("synchronized_standby_slots is empty"),
				 errdetail("Without it, a standby promoted after a failover can have the source's slot ahead of the events it received, and changes in between are lost."),
				 errhint("Set synchronized_standby_slots to the physical replication slots of the standbys that sync this slot.")));
}

/*
 * create_source(source_id, publication, slot_name, conninfo, enabled, sink,
 * channel, notify_payload, bootstrap, numeric_as_string[, failover]):
 * check everything, create (or adopt) the slot and the origin, record
 * the source.  The launcher starts its worker at commit.  failover_arg
 * is the argument number of failover, or -1 when the installed SQL
 * definition (0.1) has none.
 */
static Datum
create_source(FunctionCallInfo fcinfo, int failover_arg)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	char	   *publication = pgcdc_sql_text_arg(fcinfo, 1, "publication");
	char	   *slot_name;
	char	   *conninfo = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	bool		enabled;
	char	   *sink;
	char	   *channel;
	char	   *notify_payload;
	bool		bootstrap;
	char	   *origin_name;
	bool		failover = false;
	Oid			caller = GetUserId();
	Publication *pub;
	PgcdcSavedUser saved;
	PgcdcSourceConfig config;
	char	   *other;

	pgcdc_sql_require_arg(fcinfo, 4, "enabled");
	enabled = PG_GETARG_BOOL(4);
	sink = pgcdc_sql_text_arg(fcinfo, 5, "sink");
	channel = PG_ARGISNULL(6) ? default_slot_name(source_id) :
		text_to_cstring(PG_GETARG_TEXT_PP(6));
	notify_payload = pgcdc_sql_text_arg(fcinfo, 7, "notify_payload");
	pgcdc_sql_require_arg(fcinfo, 8, "bootstrap");
	bootstrap = PG_GETARG_BOOL(8);
	pgcdc_sql_require_arg(fcinfo, 9, "numeric_as_string");
	if (failover_arg >= 0)
	{
		Assert(failover_arg < PG_NARGS());
		pgcdc_sql_require_arg(fcinfo, failover_arg, "failover");
		failover = PG_GETARG_BOOL(failover_arg);
	}

	pgcdc_shmem_require_preloaded();
	check_wal_level();
	check_source_id(source_id);
	check_sink_options(sink, channel, notify_payload);
	pgcdc_stream_check_failover(failover);
	if (strcmp(sink, "redis") == 0 && (enabled || bootstrap))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" with the redis sink must be created with enabled => false and bootstrap => false",
						source_id),
				 errdetail("The redis sink needs its Redis URL (set_source_redis) before it starts, and writes no snapshot."),
				 errhint("Create it paused and without snapshot, call pgcdc_drasi.set_source_redis('%s', url => ...), then pgcdc_drasi.resume_source('%s').",
						 source_id, source_id)));

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
	notice_replica_identity_keys(publication);
	if (pub->alltables)
		ereport(NOTICE,
				(errmsg("publication \"%s\" publishes all tables", publication),
				 errdetail("The walsender also decodes the writes of pgcdc_drasi's own queue, which the worker discards."),
				 errhint("A publication with a table list or FOR TABLES IN SCHEMA avoids that work.")));

	pgcdc_sql_become_superuser(&saved);

	other = pgcdc_catalog_source_conflict(source_id, slot_name);
	if (other != NULL)
	{
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
		pgcdc_sql_create_slot(slot_name, failover);
	/* else the worker creates the slot and exports its snapshot */
	/* an adopted slot is given the source's failover by the worker */

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

	memset(&config, 0, sizeof(config));
	config.source_id = source_id;
	config.publication = publication;
	config.slot_name = slot_name;
	config.origin_name = origin_name;
	config.conninfo = conninfo;
	config.enabled = enabled;
	config.sink = pgcdc_catalog_sink_from_name(sink);
	config.channel = channel;
	config.wakeup = strcmp(notify_payload, "wakeup") == 0;
	config.bootstrap = bootstrap;
	config.numeric_as_string = PG_GETARG_BOOL(9);
	config.owner = caller;
	config.failover = failover;
	pgcdc_catalog_insert_source(&config);
	/* the slot made or adopted here is the source's own */
	if (!bootstrap)
		pgcdc_catalog_save_slot_lsn(source_id, pgcdc_stream_slot_lsn(slot_name));

	pgcdc_sql_end(&saved);
	warn_without_standby_slots(failover);
	PG_RETURN_VOID();
}

/* create_source() as version 0.1 declares it: no failover argument. */
Datum
pgcdc_drasi_create_source(PG_FUNCTION_ARGS)
{
	return create_source(fcinfo, -1);
}

/* create_source() of version 0.2: failover is its eleventh argument. */
Datum
pgcdc_drasi_create_source_0_2(PG_FUNCTION_ARGS)
{
	return create_source(fcinfo, 10);
}

/*
 * drop_source(source_id): remove the source, its events, its origin and
 * its slot.  The slot and origin are gone even if the transaction later
 * rolls back: PostgreSQL drops them immediately.  Only the slot the
 * source made or adopted is dropped (its recorded identity): a slot of
 * that name that someone else made since, perhaps a standby's, stays.
 */
Datum
pgcdc_drasi_drop_source(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	char	   *slot_name;
	char	   *origin_name;
	XLogRecPtr	slot_lsn;
	bool		slot_exists;

	pgcdc_shmem_require_preloaded();

	/*
	 * The worker goes first: in a re-snapshot it holds the claimed request
	 * row and then updates source_progress, rows the delete below locks too,
	 * in the other order.  Stopped, it holds nothing; a rollback of this
	 * transaction has the launcher start it again.
	 */
	pgcdc_sql_stop_worker(source_id);
	slot_lsn = pgcdc_catalog_get_slot_lsn(source_id);
	if (!pgcdc_catalog_delete_source(source_id, &slot_name, &origin_name))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" does not exist", source_id)));
	pgcdc_queue_purge(source_id);

	replorigin_drop_by_name(origin_name, true, false);
	if (pgcdc_stream_slot_is_ours(slot_name, slot_lsn, &slot_exists))
		ReplicationSlotDrop(slot_name, false);
	else if (slot_exists)
		ereport(NOTICE,
				(errmsg("replication slot \"%s\" was not dropped", slot_name),
				 errdetail("Source \"%s\" did not create the slot of that name.", source_id),
				 errhint("A role with the REPLICATION attribute may drop it with pg_drop_replication_slot('%s') if nothing uses it.",
						 slot_name)));
	PG_RETURN_VOID();
}

/* Set the enabled flag of a source; the launcher acts at commit. */
static void
set_enabled(const char *source_id, bool enabled)
{
	pgcdc_shmem_require_preloaded();
	if (enabled)
	{
		PgcdcSourceConfig *config = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, true);
		char	   *url;
		char	   *options;

		if (config != NULL && config->sink == PGCDC_SINK_REDIS &&
			!pgcdc_catalog_get_source_redis(source_id, &url, &options))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("source \"%s\" has the redis sink but no Redis URL", source_id),
					 errhint("Set it first with pgcdc_drasi.set_source_redis('%s', url => ...).",
							 source_id)));
	}
	if (!pgcdc_catalog_set_enabled(source_id, enabled))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" does not exist", source_id)));
}

/*
 * set_source_redis(source_id, url, options): where a source with the redis
 * sink writes its events.  The URL may hold a password: only superusers
 * read it back, and no message repeats it.  A running worker restarts
 * with the new settings; entries it wrote to another stream stay there.
 */
Datum
pgcdc_drasi_set_source_redis(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	char	   *url = pgcdc_sql_text_arg(fcinfo, 1, "url");
	char	   *options;
	PgcdcSinkRedisOptions parsed;
	PgcdcSourceConfig *config;

	pgcdc_sql_require_arg(fcinfo, 2, "options");
	options = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(2)));
	pgcdc_shmem_require_preloaded();
	config = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_UPDATE, false);
	if (config->sink != PGCDC_SINK_REDIS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" does not have the redis sink", source_id),
				 errdetail("Its sink is \"%s\".", pgcdc_catalog_sink_name(config->sink)),
				 errhint("Create a source with sink => 'redis', enabled => false, bootstrap => false.")));
	pgcdc_sink_redis_check_url(source_id, url);
	pgcdc_sink_redis_parse_options(source_id, options, &parsed);
	pgcdc_catalog_set_source_redis(source_id, url, options);
	pgcdc_sql_stop_worker(source_id);
	pgcdc_sql_wake_launcher_at_commit();
	PG_RETURN_VOID();
}

/* pause_source(source_id): stop streaming; the slot keeps the changes. */
Datum
pgcdc_drasi_pause_source(PG_FUNCTION_ARGS)
{
	set_enabled(pgcdc_sql_text_arg(fcinfo, 0, "source_id"), false);
	PG_RETURN_VOID();
}

/* resume_source(source_id): stream again from where the source stopped. */
Datum
pgcdc_drasi_resume_source(PG_FUNCTION_ARGS)
{
	set_enabled(pgcdc_sql_text_arg(fcinfo, 0, "source_id"), true);
	PG_RETURN_VOID();
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
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	Oid			relid;
	ArrayType  *arr;
	Datum	   *names;
	bool	   *nulls;
	int			nnames;
	int			i;
	Relation	rel;

	pgcdc_sql_require_arg(fcinfo, 1, "table");
	pgcdc_sql_require_arg(fcinfo, 2, "key_columns");
	relid = PG_GETARG_OID(1);
	arr = PG_GETARG_ARRAYTYPE_P(2);
	pgcdc_shmem_require_preloaded();

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

	rel = pgcdc_sql_open_table(relid, true);
	check_key_columns(rel, names, nnames);
	relation_close(rel, AccessShareLock);

	(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);
	pgcdc_catalog_set_table_key(source_id, relid, arr);

	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/* drop_table_key(source_id, table): back to the primary key. */
Datum
pgcdc_drasi_drop_table_key(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	Oid			relid;

	pgcdc_sql_require_arg(fcinfo, 1, "table");
	relid = PG_GETARG_OID(1);
	pgcdc_shmem_require_preloaded();
	(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);
	if (!pgcdc_catalog_drop_table_key(source_id, relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" has no key set for table %s",
						source_id, get_rel_name(relid) ? get_rel_name(relid) : psprintf("with OID %u", relid))));

	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/*
 * set_table_label(source_id, table, label): the label of a table's nodes
 * instead of its name (NULL: back to the name).  Ids keep the table name,
 * so they stay stable when a label changes.
 */
Datum
pgcdc_drasi_set_table_label(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	Relation	rel;

	pgcdc_sql_require_arg(fcinfo, 1, "table");
	rel = pgcdc_sql_open_table(PG_GETARG_OID(1), true);
	if (!PG_ARGISNULL(2) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label must not be empty"),
				 errhint("Pass NULL to label the nodes with the table name again.")));
	/* A label must fit a NOTIFY reference payload (sink_notify.c). */
	if (!PG_ARGISNULL(2) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) > PGCDC_LABEL_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label is too long"),
				 errdetail("A label has at most %d bytes; this one has %d.",
						   PGCDC_LABEL_MAXLEN,
						   (int) VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)))));
	relation_close(rel, AccessShareLock);
	pgcdc_shmem_require_preloaded();
	(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);
	pgcdc_catalog_set_table_label(source_id, PG_GETARG_OID(1),
								  PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)));
	pgcdc_sql_reconfigure_at_commit();
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
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	Relation	rel;
	bool		none = PG_ARGISNULL(2);

	pgcdc_sql_require_arg(fcinfo, 1, "table");
	rel = pgcdc_sql_open_table(PG_GETARG_OID(1), true);
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
	pgcdc_shmem_require_preloaded();
	(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);
	pgcdc_catalog_set_excluded_columns(source_id, PG_GETARG_OID(1),
									   none ? NULL : PG_GETARG_ARRAYTYPE_P(2));
	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/*
 * alter_source(source_id, sink, channel, notify_payload, numeric_as_string
 * [, failover]): change how events leave the worker.  The worker switches
 * at the start of its next local transaction, so no event is lost or sent
 * twice by the change.  A change of failover restarts the worker after
 * the commit: the slot can be altered only while nobody streams from it,
 * and the worker alters it before it streams again (a rollback leaves
 * slot and worker as they were).  failover_arg is the argument number of
 * failover, or -1 when the installed SQL definition (0.1) has none.
 */
static Datum
alter_source(FunctionCallInfo fcinfo, int failover_arg)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	PgcdcSourceConfig *config;
	char	   *sink;
	char	   *channel;
	char	   *notify_payload;
	bool		change_failover = false;
	bool		failover = false;

	Assert(failover_arg < 0 || failover_arg < PG_NARGS());
	pgcdc_shmem_require_preloaded();
	if (failover_arg >= 0 && !PG_ARGISNULL(failover_arg))
	{
		failover = PG_GETARG_BOOL(failover_arg);
		pgcdc_stream_check_failover(failover);
		change_failover = true;
	}
	config = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_UPDATE, false);
	sink = PG_ARGISNULL(1) ? pstrdup(pgcdc_catalog_sink_name(config->sink)) :
		text_to_cstring(PG_GETARG_TEXT_PP(1));
	channel = PG_ARGISNULL(2) ? config->channel : text_to_cstring(PG_GETARG_TEXT_PP(2));
	notify_payload = PG_ARGISNULL(3) ? pstrdup(config->wakeup ? "wakeup" : "full") :
		text_to_cstring(PG_GETARG_TEXT_PP(3));
	check_sink_options(sink, channel, notify_payload);
	if ((strcmp(sink, "redis") == 0) != (config->sink == PGCDC_SINK_REDIS))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the sink of source \"%s\" cannot change from \"%s\" to \"%s\"",
						source_id, pgcdc_catalog_sink_name(config->sink), sink),
				 errdetail("A source with the redis sink writes no queue, and numbers its stream by commit position."),
				 errhint("Create another source with the sink you want.")));
	if (strcmp(sink, "notify") == 0 && pgcdc_catalog_source_has_consumers(source_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" has consumers, which read the queue", source_id),
				 errhint("Keep the queue sink (sink => 'both'), or drop the consumers first.")));

	pgcdc_catalog_set_sink(source_id, pgcdc_catalog_sink_from_name(sink), channel,
						   strcmp(notify_payload, "wakeup") == 0);
	if (!PG_ARGISNULL(4))
		pgcdc_catalog_set_numeric_as_string(source_id, PG_GETARG_BOOL(4));
	if (change_failover && failover != config->failover)
	{
		pgcdc_catalog_set_failover(source_id, failover);
		pgcdc_sql_stop_worker(source_id);
		pgcdc_sql_wake_launcher_at_commit();
		warn_without_standby_slots(failover);
	}

	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/* alter_source() as version 0.1 declares it: no failover argument. */
Datum
pgcdc_drasi_alter_source(PG_FUNCTION_ARGS)
{
	return alter_source(fcinfo, -1);
}

/* alter_source() of version 0.2: failover is its sixth argument. */
Datum
pgcdc_drasi_alter_source_0_2(PG_FUNCTION_ARGS)
{
	return alter_source(fcinfo, 5);
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
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	int64		timeout_ms;
	XLogRecPtr	target;
	TimestampTz deadline;

	pgcdc_sql_require_arg(fcinfo, 1, "timeout");
	timeout_ms = interval_ms(PG_GETARG_INTERVAL_P(1));
	pgcdc_shmem_require_preloaded();
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));

	(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_NONE, false);

	target = pgcdc_log_flushed_message("pgcdc_drasi");
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
		src = pgcdc_shmem_find_source(MyDatabaseId, source_id);
		if (src != NULL)
		{
			published = src->published_lsn;
			cv = &src->progress_cv;
			strlcpy(state, src->pid != 0 ? pgcdc_shmem_state_name(src->state) :
					!src->desired ? "paused" : pgcdc_shmem_state_name(src->state), sizeof(state));
			strlcpy(last_error, src->last_error.message, sizeof(last_error));
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

/*
 * source_status(): the shared state of this database's sources.  The
 * columns are those the installed SQL definition declares: version 0.1
 * has the first 18, 0.2 adds the last error's detail, hint and context,
 * the counts of key fallbacks and unavailable values, and what the worker
 * waits for, so the library serves both until ALTER EXTENSION UPDATE.
 */
#define SOURCE_STATUS_COLS 24

Datum
pgcdc_drasi_source_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			ncols;
	int			i;

	pgcdc_shmem_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);
	ncols = rsinfo->setDesc->natts;
	if (ncols != 18 && ncols != SOURCE_STATUS_COLS)
		elog(ERROR, "pgcdc_drasi.source_status() is declared with %d columns", ncols);

	for (i = 0; i < pgcdc_max_sources; i++)
	{
		PgcdcSource src;
		Datum		values[SOURCE_STATUS_COLS];
		bool		nulls[SOURCE_STATUS_COLS];
		const char *state;

		LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
		memcpy(&src, &pgcdc_shared->sources[i], sizeof(PgcdcSource));
		LWLockRelease(pgcdc_shared->lock);

		if (!src.in_use || src.dboid != MyDatabaseId || src.dropped)
			continue;

		if (src.pid != 0)
			state = pgcdc_shmem_state_name(src.state);
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
		values[9] = CStringGetTextDatum(src.last_error.message);
		nulls[9] = (src.last_error.message[0] == '\0');
		values[10] = TimestampTzGetDatum(src.last_error.time);
		nulls[10] = (src.last_error.time == 0);
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
		values[18] = CStringGetTextDatum(src.last_error.detail);
		nulls[18] = (src.last_error.detail[0] == '\0');
		values[19] = CStringGetTextDatum(src.last_error.hint);
		nulls[19] = (src.last_error.hint[0] == '\0');
		values[20] = CStringGetTextDatum(src.last_error.context);
		nulls[20] = (src.last_error.context[0] == '\0');
		values[21] = Int64GetDatum((int64) src.key_fallbacks);
		values[22] = Int64GetDatum((int64) src.values_unavailable);
		values[23] = CStringGetTextDatum(src.waiting_for);
		nulls[23] = (src.waiting_for[0] == '\0');
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Does a DROP statement's list of names hold this one? */
static bool
drop_names(DropStmt *stmt, const char *name)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		Node	   *object = lfirst(lc);

		if (IsA(object, String) && strcmp(strVal(object), name) == 0)
			return true;
	}
	return false;
}

/*
 * _guard_ddl(): event trigger at ddl_command_start, so it sees the
 * statement before anything changes.
 *
 * ALTER PUBLICATION ... RENAME of a publication a source streams: the
 * source names it, so it breaks the way a dropped publication does.  The
 * statement carries the old name, which is why no oid of the publication
 * is kept (an oid means another publication after a dump and restore).
 *
 * DROP EXTENSION pgcdc_drasi and DROP SCHEMA pgcdc_drasi while sources
 * exist: the slots and origins are not part of the extension and would be
 * left behind, holding WAL and catalog_xmin forever; drop_source() knows
 * which slot is the source's own and drops it.
 */
Datum
pgcdc_drasi_guard_ddl(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *parsetree;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired by an event trigger", "_guard_ddl")));
	trigdata = (EventTriggerData *) fcinfo->context;
	parsetree = trigdata->parsetree;

	if (IsA(parsetree, RenameStmt) &&
		((RenameStmt *) parsetree)->renameType == OBJECT_PUBLICATION)
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;
		const char *publication = strVal(stmt->object);
		char	   *source_id = pgcdc_catalog_source_of_publication(publication);

		if (source_id != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("publication \"%s\" is used by pgcdc_drasi source \"%s\"",
							publication, source_id),
					 errdetail("The source streams the publication by its name."),
					 errhint("Drop the source first with pgcdc_drasi.drop_source().")));
	}
	else if (IsA(parsetree, DropStmt))
	{
		DropStmt   *stmt = (DropStmt *) parsetree;
		const char *what = NULL;

		if (stmt->removeType == OBJECT_EXTENSION && drop_names(stmt, PGCDC_EXTENSION_NAME))
			what = "extension";
		else if (stmt->removeType == OBJECT_SCHEMA && drop_names(stmt, PGCDC_SCHEMA_NAME))
			what = "schema";
		if (what != NULL && pgcdc_catalog_any_source())
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop %s %s while pgcdc_drasi sources exist",
							what, PGCDC_EXTENSION_NAME),
					 errdetail("Their replication slots and origins would stay behind and keep WAL and catalog rows from being removed."),
					 errhint("Drop every source first: SELECT pgcdc_drasi.drop_source(source_id) FROM pgcdc_drasi.sources;")));
	}
	PG_RETURN_NULL();
}
