/*-------------------------------------------------------------------------
 *
 * sql_common.h
 *		Helpers shared by the SQL function files (sql_*.c) only: argument
 *		checks, SPI on system catalogs as the superuser, transaction
 *		callbacks, slots and stopping workers.  The extension's own tables
 *		are reached through catalog.h and sink_queue.h, never from here.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_common.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_SQL_COMMON_H
#define PGCDC_SQL_COMMON_H

#include "fmgr.h"
#include "utils/relcache.h"

#include "catalog.h"

/* The caller's identity, saved while we act as the superuser. */
typedef struct PgcdcSavedUser
{
	Oid			userid;
	int			sec_context;
	int			guc_nestlevel;
} PgcdcSavedUser;

extern void pgcdc_sql_become_superuser(PgcdcSavedUser *saved);
extern void pgcdc_sql_begin(PgcdcSavedUser *saved);
extern void pgcdc_sql_end(PgcdcSavedUser *saved);
extern void pgcdc_sql_require_arg(FunctionCallInfo fcinfo, int argno, const char *name);
extern char *pgcdc_sql_text_arg(FunctionCallInfo fcinfo, int argno, const char *name);
extern uint64 pgcdc_sql_run(const char *sql, int nargs, Oid *argtypes, Datum *values,
							bool read_only, int expected);
extern Relation pgcdc_sql_open_table(Oid relid, bool need_select);
extern void pgcdc_sql_require_queue(const PgcdcSourceConfig *source, const char *detail);
extern void pgcdc_sql_create_slot(const char *slot_name, bool failover);
extern void pgcdc_sql_stop_worker(const char *source_id);
extern void pgcdc_sql_stop_target_worker(const char *target_id);
extern void pgcdc_sql_wait_slot_released(const char *slot_name);
extern void pgcdc_sql_wake_launcher_at_commit(void);
extern void pgcdc_sql_reconfigure_at_commit(void);

#endif							/* PGCDC_SQL_COMMON_H */
