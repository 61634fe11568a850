/*-------------------------------------------------------------------------
 *
 * init.c
 *		Module load: configuration parameters, shared memory hooks and
 *		the launcher registration.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/init.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "fault.h"
#include "launcher.h"
#include "pgcdc_drasi.h"
#include "role_guard.h"
#include "shmem.h"

PG_MODULE_MAGIC;

int			pgcdc_max_sources = 16;
int			pgcdc_max_targets = 16;
char	   *pgcdc_conninfo = NULL;
int			pgcdc_retry_min_interval = 1000;
int			pgcdc_retry_max_interval = 60000;
int			pgcdc_create_slot_timeout = 10000;
int			pgcdc_batch_size = 1000;
int			pgcdc_group_timeout = 100;
int			pgcdc_retention = 86400;
int			pgcdc_notify_max_pending = 10000;
double		pgcdc_notify_max_usage = 0.5;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

/*
 * Pin the settings that shape a worker's transactions, whatever ALTER
 * DATABASE or ALTER ROLE set for the database or the bootstrap superuser:
 * a database owner must not be able to make a worker read-only, make
 * its transactions serializable, or time out its waits and statements,
 * which would stop capture.  Called right after the worker connected.
 */
void
pgcdc_pin_worker_settings(void)
{
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_deferrable", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
}

/* Chain to the previous request hook, then ask for our shared memory. */
static void
pgcdc_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	pgcdc_shmem_request();
}

/* Chain to the previous startup hook, then set up our shared memory. */
static void
pgcdc_shmem_startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	pgcdc_shmem_startup();
}

/*
 * Define the parameters in every process that loads us; only when loaded
 * through shared_preload_libraries do we also reserve shared memory and
 * register the launcher.  Loading the library any other way leaves the
 * SQL functions to report that the preload is missing.
 */
void
_PG_init(void)
{
	/* A postmaster-only setting can be defined only while preloading. */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pgcdc_drasi.max_sources",
								"Maximum number of sources in the whole cluster.",
								NULL,
								&pgcdc_max_sources,
								16, 1, 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pgcdc_drasi.max_targets",
								"Maximum number of targets (delivery workers) in the whole cluster.",
								NULL,
								&pgcdc_max_targets,
								16, 1, 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

	DefineCustomStringVariable("pgcdc_drasi.conninfo",
							   "Connection string for the replication connections of all sources.",
							   "Empty means the local server's unix socket and port. "
							   "The database is always the source's own.",
							   &pgcdc_conninfo,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("pgcdc_drasi.retry_min_interval",
							"Delay before a failed source worker is started again.",
							"The delay doubles with each consecutive failure.",
							&pgcdc_retry_min_interval,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgcdc_drasi.retry_max_interval",
							"Longest delay before a failed source worker is started again.",
							NULL,
							&pgcdc_retry_max_interval,
							60000, 10, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgcdc_drasi.create_slot_timeout",
							"How long create_source waits for running transactions before creating its slot.",
							NULL,
							&pgcdc_create_slot_timeout,
							10000, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgcdc_drasi.batch_size",
							"Number of queue rows written by one multi-row insert.",
							NULL,
							&pgcdc_batch_size,
							1000, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgcdc_drasi.group_timeout",
							"Longest time several small source transactions are grouped into one local commit.",
							NULL,
							&pgcdc_group_timeout,
							100, 0, 10000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgcdc_drasi.retention",
							"How long queue rows of a source without consumers are kept.",
							"-1 keeps them until deleted by hand. Rows of a source with consumers are "
							"removed once every consumer has acknowledged them.",
							&pgcdc_retention,
							86400, -1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgcdc_drasi.notify_max_pending",
							"Most notifications one local transaction sends event by event.",
							"Further events of the transaction are written to the queue table and "
							"announced by one notification naming their seq range.",
							&pgcdc_notify_max_pending,
							10000, 1, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("pgcdc_drasi.notify_max_usage",
							 "Fill level of the server's notification queue above which sources stop notifying.",
							 "A source that also writes the queue skips notifications (listeners see a seq gap); "
							 "a notify-only source waits and retries.",
							 &pgcdc_notify_max_usage,
							 0.5, 0.0, 1.0,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

#ifdef USE_ASSERT_CHECKING
	/* Tests only: see fault.c. */
	pgcdc_fault_define_guc();
#endif

	MarkGUCPrefixReserved("pgcdc_drasi");

	if (!process_shared_preload_libraries_in_progress)
		return;

	/* Every backend must check DROP ROLE: only a preloaded hook is in all. */
	pgcdc_role_guard_install();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgcdc_shmem_request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgcdc_shmem_startup_hook;

	pgcdc_launcher_register();
}
