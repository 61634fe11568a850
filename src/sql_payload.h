/*-------------------------------------------------------------------------
 *
 * sql_payload.h
 *		The Drasi payload of a queued event, built from its values: for
 *		pgcdc_drasi._payload() and for the readers in C.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_payload.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_SQL_PAYLOAD_H
#define PGCDC_SQL_PAYLOAD_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/*
 * The values of one event's payload.  A NULL string or jsonb, or a set
 * *_null flag, gives a JSON null where the value goes, except element_id
 * and unavailable: without them the payload has no "id" and no
 * "unavailable".  A zeroed struct has every number present.
 */
typedef struct PgcdcPayloadInput
{
	const char *op;
	int			op_len;
	const char *label;
	int			label_len;
	const char *element_id;
	int			element_id_len;
	Jsonb	   *body;			/* the element without id and labels */
	Jsonb	   *unavailable;
	const char *source_id;
	int			source_id_len;
	XLogRecPtr	lsn;
	TimestampTz commit_time;
	int64		seq;
	uint64		xid;
	int32		tx_index;
	int64		start_ns;
	int64		end_ns;
	bool		lsn_null;
	bool		commit_time_null;
	bool		seq_null;
	bool		xid_null;
	bool		tx_index_null;
	bool		start_ns_null;
	bool		end_ns_null;
	bool		snapshot;		/* a snapshot event */
} PgcdcPayloadInput;

extern Jsonb *pgcdc_payload_build(const PgcdcPayloadInput *in);
extern void pgcdc_payload_text(StringInfo out, const PgcdcPayloadInput *in);

#endif							/* PGCDC_SQL_PAYLOAD_H */
