/*-------------------------------------------------------------------------
 *
 * proto.h
 *		The bytes of the replication stream: CopyData framing and
 *		pgoutput messages.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/proto.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_PROTO_H
#define PGCDC_PROTO_H

#include "access/xlogdefs.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "replication/logicalproto.h"

/* The header of a CopyData message of the stream. */
typedef struct PgcdcWalHeader
{
	char		kind;			/* 'w' (XLogData) or 'k' (keepalive) */
	XLogRecPtr	data_start;
	XLogRecPtr	wal_end;
	bool		reply_requested;
} PgcdcWalHeader;

/* One pgoutput message, as the server's logicalrep_read_* read it. */
typedef struct PgcdcMessage
{
	LogicalRepMsgType action;
	LogicalRepBeginData begin;
	LogicalRepCommitData commit;
	LogicalRepRelation *relation;
	LogicalRepRelId relid;
	bool		has_old;
	LogicalRepTupleData oldtup;
	LogicalRepTupleData newtup;
	List	   *truncated;		/* relids, for TRUNCATE */
	TransactionId xid;			/* streamed: the (sub)transaction of a change,
								 * the transaction of a STREAM message */
	TransactionId subxid;		/* STREAM ABORT: the subtransaction aborted */
	bool		first_segment;	/* STREAM START: its first chunk */
} PgcdcMessage;

extern void pgcdc_proto_read_header(StringInfo msg, PgcdcWalHeader *hdr);
extern void pgcdc_proto_read_message(StringInfo msg, PgcdcMessage *message);
extern const char *pgcdc_proto_message_name(LogicalRepMsgType action);
extern void pgcdc_proto_reset(void);

#endif							/* PGCDC_PROTO_H */
