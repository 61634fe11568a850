/*-------------------------------------------------------------------------
 *
 * queue_row.h
 *		The packed events of a queue_events row: consecutive events of one
 *		transaction in one bytea, written by the queue sink and taken
 *		apart by pgcdc_drasi._unpack() when they are read.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/queue_row.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_QUEUE_ROW_H
#define PGCDC_QUEUE_ROW_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* One event's own values, as a queue row holds them. */
typedef struct PgcdcPackedEvent
{
	char		op;				/* 'i', 'u', 'd' or 't' */
	const char *label;
	const char *element_id;		/* NULL for 't' */
	Jsonb	   *body;			/* the element without id and labels */
	Jsonb	   *unavailable;	/* metadata.unavailable, or NULL */
	int64		start_ns;
	int64		end_ns;
} PgcdcPackedEvent;

extern Size pgcdc_packed_event_size(const PgcdcPackedEvent *ev);
extern void pgcdc_pack_event(StringInfo buf, const PgcdcPackedEvent *ev);

#endif							/* PGCDC_QUEUE_ROW_H */
