/*-------------------------------------------------------------------------
 *
 * mapping.h
 *		Rows to Drasi graph nodes: element ids and change events.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/mapping.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_MAPPING_H
#define PGCDC_MAPPING_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "proto.h"
#include "relation.h"

/*
 * The transaction whose events are being built: a source transaction of
 * the stream, or a snapshot.
 */
typedef struct PgcdcTxContext
{
	const char *source_id;
	TransactionId xid;
	uint64		full_xid;
	XLogRecPtr	commit_lsn;
	TimestampTz commit_time;
	int			tx_index;		/* events emitted so far in this transaction */
	TimestampTz received_at;
	int64		last_seq;		/* last seq used by the source */
	int64		tx_key;			/* its key in the queue (sink_queue.c) */
	bool		snapshot;		/* events describe a snapshot, not changes */
	Datum		snapshot_datum; /* pg_snapshot of that snapshot */
} PgcdcTxContext;

/* One change event, as the sinks receive it. */
typedef struct PgcdcEvent
{
	char		op;				/* 'i', 'u', 'd' or 't' */
	int64		seq;
	int			tx_index;
	const char *label;
	const char *element_id;		/* NULL for 't' */
	char		opstr[2];
	int64		start_ns;		/* reactivatorStart_ns */
	int64		end_ns;			/* reactivatorEnd_ns */
	JsonbValue *root;			/* the event, as a value tree */
	Jsonb	   *jsonb;			/* the event, once a sink asked for it */
	char	   *text;			/* its text, once a sink asked for it */
	int			textlen;
} PgcdcEvent;

typedef void (*PgcdcEmitFn) (PgcdcTxContext *tx, PgcdcEvent *event, void *arg);

extern void pgcdc_map_change(PgcdcRelCache *cache, PgcdcTxContext *tx, PgcdcMessage *change,
							 PgcdcEmitFn emit, void *arg);
extern Jsonb *pgcdc_map_element(PgcdcRelCache *cache, LogicalRepRelId relid,
								LogicalRepTupleData *tup);
extern const char *pgcdc_map_event_text(PgcdcEvent *ev, int *len);
extern List *pgcdc_map_relation_elements(PgcdcRelCache *cache, LogicalRepRelId relid,
										 LogicalRepTupleData *tup, List *labels);
extern Jsonb *pgcdc_map_event_body(PgcdcEvent *ev, Jsonb **unavailable);

#endif							/* PGCDC_MAPPING_H */
