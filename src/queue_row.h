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

/*
 * One event of a row as it is read: its strings and jsonb values point
 * into the row (not terminated, not aligned: a jsonb value must be copied
 * before jsonb functions read it).
 */
typedef struct PgcdcUnpackedEvent
{
	char		op;
	const char *label;
	uint32		label_len;
	const char *element_id;		/* NULL: none */
	uint32		element_id_len;
	const char *body;
	uint32		body_len;
	const char *unavailable;	/* NULL: none */
	uint32		unavailable_len;
	int64		start_ns;
	int64		end_ns;
} PgcdcUnpackedEvent;

extern Size pgcdc_packed_event_size(const PgcdcPackedEvent *ev);
extern void pgcdc_pack_event(StringInfo buf, const PgcdcPackedEvent *ev);
extern void pgcdc_unpack_event(const char **p, const char *end, PgcdcUnpackedEvent *ev);
extern Jsonb *pgcdc_unpacked_jsonb(const char *data, uint32 len);

#endif							/* PGCDC_QUEUE_ROW_H */
