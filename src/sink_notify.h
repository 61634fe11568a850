/*-------------------------------------------------------------------------
 *
 * sink_notify.h
 *		The NOTIFY sink: events, references and wake-ups on a channel.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sink_notify.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_SINK_NOTIFY_H
#define PGCDC_SINK_NOTIFY_H

#include "mapping.h"

extern void pgcdc_notify_begin_group(void);
extern bool pgcdc_notify_event(const char *channel, PgcdcTxContext *tx, PgcdcEvent *event,
							   bool queue_has_it);
extern void pgcdc_notify_end_group(const char *channel, const char *source_id,
								   int64 first_seq, int64 last_seq, bool wakeup);
extern void pgcdc_notify_take_counts(uint64 *sent, uint64 *skipped);

#endif							/* PGCDC_SINK_NOTIFY_H */
