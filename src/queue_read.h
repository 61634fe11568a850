/*-------------------------------------------------------------------------
 *
 * queue_read.h
 *		Reading queued events back through a cursor, a batch at a time:
 *		rows of the view pgcdc_drasi.events, or seqs and payload texts.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/queue_read.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_QUEUE_READ_H
#define PGCDC_QUEUE_READ_H

#include "access/htup.h"
#include "access/tupdesc.h"

typedef struct PgcdcQueueCursor PgcdcQueueCursor;

extern PgcdcQueueCursor *pgcdc_queue_open_range(const char *source_id, int64 first_seq,
												int64 last_seq);
extern PgcdcQueueCursor *pgcdc_queue_open_after(const char *source_id, int64 after_seq,
												int max_events, const char *snapshot);
extern int	pgcdc_queue_fetch(PgcdcQueueCursor *cursor, TupleDesc desc, MemoryContext mcxt,
							  HeapTuple *rows, int max);
extern int	pgcdc_queue_fetch_payloads(PgcdcQueueCursor *cursor, MemoryContext mcxt,
									   int64 *seqs, char **payloads, int max);
extern void pgcdc_queue_close(PgcdcQueueCursor *cursor);

#endif							/* PGCDC_QUEUE_READ_H */
