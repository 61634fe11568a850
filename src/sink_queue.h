/*-------------------------------------------------------------------------
 *
 * sink_queue.h
 *		The queue sink and its tables (read as the view pgcdc_drasi.events):
 *		writing events and removing those nobody needs (queue_read.h reads
 *		them back).
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sink_queue.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_SINK_QUEUE_H
#define PGCDC_SINK_QUEUE_H

#include "nodes/execnodes.h"

#include "mapping.h"

/* Writing, inside the worker's local transaction */
extern void pgcdc_queue_append(PgcdcTxContext *tx, PgcdcEvent *event);
extern void pgcdc_queue_end_tx(PgcdcTxContext *tx, int64 first_seq, int n_events);
extern void pgcdc_queue_end(void);
extern void pgcdc_queue_reset(void);
extern int64 pgcdc_queue_discard(const char *source_id, int64 tx_key, int from_index);

/* Retention, between local transactions */
extern uint64 pgcdc_queue_trim(const char *source_id, int retention_secs, int batch,
							   bool *more);

/* For the SQL functions */
extern bool pgcdc_queue_first_seq(const char *source_id, int64 *first_seq);
extern void pgcdc_queue_purge(const char *source_id);

#endif							/* PGCDC_SINK_QUEUE_H */
