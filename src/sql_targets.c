/*-------------------------------------------------------------------------
 *
 * sql_targets.c
 *		SQL functions of targets: create, alter, pause, resume, drop, and
 *		the state of their delivery workers.
 *
 * A target is a durable consumer of its source's queue (the consumer
 * 'target:<target_id>'), served by a delivery worker (target.c).  Only
 * pgcdc_drasi_admin may call these functions (GRANT in the install
 * script).  Every input is checked before anything is recorded; a Redis
 * or HTTP server that cannot be reached is not an error here:
 * target_status shows it.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_targets.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "pgcdc_drasi.h"
#include "shmem.h"
#include "sink_queue.h"
#include "sql_common.h"
#include "target.h"

PG_FUNCTION_INFO_V1(pgcdc_drasi_create_target);
PG_FUNCTION_INFO_V1(pgcdc_drasi_alter_target);
PG_FUNCTION_INFO_V1(pgcdc_drasi_pause_target);
PG_FUNCTION_INFO_V1(pgcdc_drasi_resume_target);
PG_FUNCTION_INFO_V1(pgcdc_drasi_drop_target);
PG_FUNCTION_INFO_V1(pgcdc_drasi_target_worker_status);

#define TARGET_STATUS_COLS	12

/* Target ids name workers and consumers: the rules of source ids. */
static void
check_target_id(const char *target_id)
{
	const char *p;
	bool		ok = target_id[0] != '\0' && strlen(target_id) <= PGCDC_SOURCE_ID_MAXLEN &&
	isalnum((unsigned char) target_id[0]) && IS_HIGHBIT_SET(target_id[0]) == 0;

	for (p = target_id; ok && *p; p++)
		if (IS_HIGHBIT_SET(*p) || (!isalnum((unsigned char) *p) && *p != '_' && *p != '-' && *p != '.'))
			ok = false;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid target id \"%s\"", target_id),
				 errdetail("A target id has 1 to %d characters: letters, digits, \"_\", \"-\" and \".\", starting with a letter or digit.",
						   PGCDC_SOURCE_ID_MAXLEN)));
}

/* The options argument as JSON text, checked. */
static char *
options_arg(FunctionCallInfo fcinfo, int argno, const char *target_id, PgcdcTargetKind kind)
{
	char	   *text;
	PgcdcTargetOptions parsed;

	text = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(argno)));

	pgcdc_target_parse_options(target_id, kind, text, &parsed);

	/*
	 * The worker reads the CA file as the server's OS user: only roles that
	 * may read server files choose one.
	 */
	if (parsed.ca_file != NULL &&
		!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set option \"ca_file\" of target \"%s\"", target_id),
				 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may choose a file of the server.")));
	return text;
}

/*
 * create_target(target_id, source_id, kind, url, options): deliver a
 * source's events to a Redis stream or an HTTP endpoint, from the oldest
 * queued event (options start_at "earliest", the default) or after the
 * last one published ("latest").
 */
Datum
pgcdc_drasi_create_target(PG_FUNCTION_ARGS)
{
	char	   *target_id = pgcdc_sql_text_arg(fcinfo, 0, "target_id");
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 1, "source_id");
	char	   *kind = pgcdc_sql_text_arg(fcinfo, 2, "kind");
	char	   *url = pgcdc_sql_text_arg(fcinfo, 3, "url");
	char	   *options;
	PgcdcTargetKind target_kind;
	PgcdcTargetOptions parsed;
	PgcdcTargetConfig config;
	PgcdcSourceConfig *source;
	PgcdcSourceProgress progress;
	char	   *consumer;
	int64		start;

	pgcdc_sql_require_arg(fcinfo, 4, "options");
	check_target_id(target_id);
	target_kind = pgcdc_target_kind(kind);
	pgcdc_target_check_url(target_id, target_kind, url);
	options = options_arg(fcinfo, 4, target_id, target_kind);
	pgcdc_target_parse_options(target_id, target_kind, options, &parsed);

	pgcdc_shmem_require_preloaded();
	source = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_KEY_SHARE, false);
	pgcdc_sql_require_queue(source, "A target delivers the events of its source's queue.");
	if (pgcdc_catalog_get_target(target_id, PGCDC_LOCK_NONE, true) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("target \"%s\" already exists", target_id),
				 errhint("Choose another target id, or change the target with pgcdc_drasi.alter_target().")));
	consumer = pgcdc_catalog_target_consumer(target_id);
	if (pgcdc_catalog_consumer_exists(consumer))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("consumer \"%s\" already exists", consumer),
				 errdetail("Target \"%s\" would keep its position in a consumer of that name.", target_id),
				 errhint("Drop that consumer, or choose another target id.")));

	/*
	 * As create_consumer: after the last published, or before the oldest
	 * queued.
	 */
	if (!pgcdc_catalog_get_progress(source_id, &progress))
		progress.last_seq = 0;
	if (parsed.start_latest || !pgcdc_queue_first_seq(source_id, &start))
		start = progress.last_seq;
	else
		start--;

	memset(&config, 0, sizeof(config));
	config.target_id = target_id;
	config.source_id = source_id;
	config.kind = kind;
	config.url = url;
	config.options = options;
	config.enabled = true;
	config.owner = GetUserId();
	pgcdc_catalog_insert_target(&config);
	pgcdc_catalog_insert_consumer(consumer, source_id, start, GetUserId(), false);
	PG_RETURN_VOID();
}

/*
 * alter_target(target_id, url, options): change where a target delivers
 * (NULL keeps a setting).  The worker reconnects with the new settings
 * at commit; its position stays.
 */
Datum
pgcdc_drasi_alter_target(PG_FUNCTION_ARGS)
{
	char	   *target_id = pgcdc_sql_text_arg(fcinfo, 0, "target_id");
	char	   *url = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *options = NULL;
	PgcdcTargetConfig *target;
	PgcdcTargetKind kind;

	pgcdc_shmem_require_preloaded();
	target = pgcdc_catalog_get_target(target_id, PGCDC_LOCK_UPDATE, false);
	kind = pgcdc_target_kind(target->kind);
	if (url != NULL)
		pgcdc_target_check_url(target_id, kind, url);
	if (!PG_ARGISNULL(2))
		options = options_arg(fcinfo, 2, target_id, kind);
	pgcdc_catalog_update_target(target_id, url, options);
	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/* Set the enabled flag of a target; the launcher acts at commit. */
static void
set_enabled(const char *target_id, bool enabled)
{
	pgcdc_shmem_require_preloaded();
	if (!pgcdc_catalog_set_target_enabled(target_id, enabled))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("target \"%s\" does not exist", target_id)));
}

/* pause_target(target_id): stop delivering; retention keeps the events. */
Datum
pgcdc_drasi_pause_target(PG_FUNCTION_ARGS)
{
	set_enabled(pgcdc_sql_text_arg(fcinfo, 0, "target_id"), false);
	PG_RETURN_VOID();
}

/*
 * resume_target(target_id): deliver again from the delivered position,
 * also after the worker stopped on a refusal (an HTTP 4xx), which it
 * retries once it sees the configuration generation move at commit.
 */
Datum
pgcdc_drasi_resume_target(PG_FUNCTION_ARGS)
{
	set_enabled(pgcdc_sql_text_arg(fcinfo, 0, "target_id"), true);
	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/*
 * drop_target(target_id): forget a target and its position, once its
 * worker has stopped (so it cannot move the position of a target made
 * again under the same id).  The Redis stream is left as it is.
 */
Datum
pgcdc_drasi_drop_target(PG_FUNCTION_ARGS)
{
	char	   *target_id = pgcdc_sql_text_arg(fcinfo, 0, "target_id");

	pgcdc_shmem_require_preloaded();
	if (!pgcdc_catalog_delete_target(target_id))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("target \"%s\" does not exist", target_id)));
	pgcdc_sql_stop_target_worker(target_id);
	PG_RETURN_VOID();
}

/* target_worker_status(): the delivery workers of this database's targets. */
Datum
pgcdc_drasi_target_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	pgcdc_shmem_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != TARGET_STATUS_COLS)
		elog(ERROR, "pgcdc_drasi.target_worker_status() is declared with %d columns",
			 rsinfo->setDesc->natts);

	for (i = 0; i < pgcdc_max_targets; i++)
	{
		PgcdcTarget tgt;
		Datum		values[TARGET_STATUS_COLS];
		bool		nulls[TARGET_STATUS_COLS];
		const char *state;

		LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
		memcpy(&tgt, &pgcdc_targets[i], sizeof(PgcdcTarget));
		LWLockRelease(pgcdc_shared->lock);

		if (!tgt.in_use || tgt.dboid != MyDatabaseId || tgt.dropped)
			continue;
		if (tgt.pid != 0)
			state = pgcdc_shmem_state_name(tgt.state);
		else if (!tgt.desired)
			state = "paused";
		else if (tgt.state == PGCDC_STATE_ERROR)
			state = "error";
		else
			state = "starting";

		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(tgt.target_id);
		values[1] = CStringGetTextDatum(state);
		values[2] = Int32GetDatum((int32) tgt.pid);
		nulls[2] = tgt.pid == 0;
		values[3] = Int64GetDatum((int64) tgt.events_delivered);
		values[4] = Int64GetDatum((int64) tgt.duplicates_skipped);
		values[5] = Int64GetDatum((int64) tgt.retries);
		values[6] = Int64GetDatum((int64) tgt.reconnects);
		values[7] = TimestampTzGetDatum(tgt.last_delivery_time);
		nulls[7] = tgt.last_delivery_time == 0;
		values[8] = CStringGetTextDatum(tgt.last_error.message);
		nulls[8] = tgt.last_error.time == 0;
		values[9] = CStringGetTextDatum(tgt.last_error.detail);
		nulls[9] = tgt.last_error.time == 0 || tgt.last_error.detail[0] == '\0';
		values[10] = TimestampTzGetDatum(tgt.last_error.time);
		nulls[10] = tgt.last_error.time == 0;
		values[11] = TimestampTzGetDatum(tgt.started_at);
		nulls[11] = tgt.started_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
