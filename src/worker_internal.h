/*-------------------------------------------------------------------------
 *
 * worker_internal.h
 *		What the source worker's apply loop (worker.c) shares with the
 *		snapshots it takes between transactions (snapshot_sync.c).
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/worker_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_WORKER_INTERNAL_H
#define PGCDC_WORKER_INTERNAL_H

#include "access/xlogdefs.h"

#include "catalog.h"
#include "mapping.h"
#include "shmem.h"
#include "walstream.h"

/* Memory that lives as long as the worker: configuration, caches. */
extern MemoryContext PgcdcWorkerContext;

extern PgcdcSource *MySource;	/* our entry in shared memory */
extern PgcdcSourceConfig *MySourceConfig;	/* our row of pgcdc_drasi.sources */
extern PgcdcStream *MyStream;	/* the replication connection */

extern bool pgcdc_worker_is_idle(void);
extern XLogRecPtr pgcdc_worker_received_lsn(void);
extern XLogRecPtr pgcdc_worker_published_lsn(void);
extern PgcdcTxContext *pgcdc_worker_begin_snapshot_group(XLogRecPtr lsn);
extern int64 pgcdc_worker_end_snapshot_group(XLogRecPtr origin_lsn);
extern void pgcdc_worker_publish(PgcdcTxContext *tx, PgcdcEvent *event, void *arg);
extern void pgcdc_worker_set_error_phase(const char *phase, const char *relname);
extern void pgcdc_worker_keepalive(void);
extern void pgcdc_worker_require_durable_commit(void);
extern void pgcdc_worker_exit_if_not_wanted(void);

#endif							/* PGCDC_WORKER_INTERNAL_H */
