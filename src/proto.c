/*-------------------------------------------------------------------------
 *
 * proto.c
 *		The bytes of the replication stream: CopyData framing and
 *		pgoutput messages.
 *
 * The bytes of each pgoutput message are read by the server's own
 * logicalrep_read_* functions, so our reading of the wire format is the
 * server's.  What they do not cover (the CopyData framing, message types
 * they do not know) is handled here, and anything unexpected is an error
 * with the message type in it: a change is never skipped silently.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/proto.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/pqformat.h"

#include "compat.h"

#include "proto.h"

/*
 * Read the header of a CopyData message: 'w' leaves the cursor on the
 * pgoutput message; 'k' is a keepalive.
 */
void
pgcdc_proto_read_header(StringInfo msg, PgcdcWalHeader *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->kind = pq_getmsgbyte(msg);
	switch (hdr->kind)
	{
		case 'w':
			hdr->data_start = pq_getmsgint64(msg);
			hdr->wal_end = pq_getmsgint64(msg);
			(void) pq_getmsgint64(msg); /* send time */
			break;
		case 'k':
			hdr->wal_end = pq_getmsgint64(msg);
			(void) pq_getmsgint64(msg); /* send time */
			hdr->reply_requested = pq_getmsgbyte(msg) != 0;
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg_internal("unexpected replication message type \"%c\" (%d)",
									 hdr->kind, (int) (unsigned char) hdr->kind)));
	}
}

/*
 * Between STREAM START and STREAM STOP (protocol 2), every message of a
 * transaction starts with the xid of its (sub)transaction.
 */
static bool in_stream_block = false;

/* Read one pgoutput message into *change. */
void
pgcdc_proto_read_message(StringInfo msg, PgcdcMessage *change)
{
	memset(change, 0, sizeof(*change));
	change->action = (LogicalRepMsgType) pq_getmsgbyte(msg);

	if (in_stream_block)
	{
		switch (change->action)
		{
			case LOGICAL_REP_MSG_RELATION:
			case LOGICAL_REP_MSG_TYPE:
			case LOGICAL_REP_MSG_INSERT:
			case LOGICAL_REP_MSG_UPDATE:
			case LOGICAL_REP_MSG_DELETE:
			case LOGICAL_REP_MSG_TRUNCATE:
			case LOGICAL_REP_MSG_MESSAGE:
				change->xid = pq_getmsgint(msg, 4);
				if (!TransactionIdIsValid(change->xid))
					ereport(ERROR,
							(errcode(ERRCODE_PROTOCOL_VIOLATION),
							 errmsg_internal("invalid transaction ID in streamed replication transaction")));
				break;
			default:
				break;
		}
	}

	switch (change->action)
	{
		case LOGICAL_REP_MSG_STREAM_START:
			if (in_stream_block)
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg_internal("duplicate STREAM START message")));
			change->xid = logicalrep_read_stream_start(msg, &change->first_segment);
			in_stream_block = true;
			break;
		case LOGICAL_REP_MSG_STREAM_STOP:
			if (!in_stream_block)
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg_internal("STREAM STOP without STREAM START")));
			in_stream_block = false;
			break;
		case LOGICAL_REP_MSG_STREAM_COMMIT:
			change->xid = logicalrep_read_stream_commit(msg, &change->commit);
			break;
		case LOGICAL_REP_MSG_STREAM_ABORT:
			change->xid = pgcdc_read_stream_abort(msg, &change->subxid);
			break;
		case LOGICAL_REP_MSG_BEGIN:
			logicalrep_read_begin(msg, &change->begin);
			break;
		case LOGICAL_REP_MSG_COMMIT:
			logicalrep_read_commit(msg, &change->commit);
			break;
		case LOGICAL_REP_MSG_RELATION:
			change->relation = logicalrep_read_rel(msg);
			change->relid = change->relation->remoteid;
			break;
		case LOGICAL_REP_MSG_INSERT:
			change->relid = logicalrep_read_insert(msg, &change->newtup);
			break;
		case LOGICAL_REP_MSG_UPDATE:
			change->relid = logicalrep_read_update(msg, &change->has_old,
												   &change->oldtup, &change->newtup);
			break;
		case LOGICAL_REP_MSG_DELETE:
			change->relid = logicalrep_read_delete(msg, &change->oldtup);
			change->has_old = true;
			break;
		case LOGICAL_REP_MSG_TRUNCATE:
			{
				bool		cascade;
				bool		restart_seqs;

				change->truncated = logicalrep_read_truncate(msg, &cascade, &restart_seqs);
				break;
			}
		case LOGICAL_REP_MSG_TYPE:
			{
				LogicalRepTyp typ;

				/*
				 * Type OIDs in Relation messages are valid here: same
				 * cluster.
				 */
				logicalrep_read_typ(msg, &typ);
				break;
			}
		case LOGICAL_REP_MSG_ORIGIN:
			{
				XLogRecPtr	origin_lsn;

				(void) logicalrep_read_origin(msg, &origin_lsn);
				break;
			}
		case LOGICAL_REP_MSG_MESSAGE:
			/* Not requested; the whole message is ignored. */
			msg->cursor = msg->len;
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg_internal("unexpected pgoutput message type \"%c\" (%d)",
									 (char) change->action, (int) change->action),
					 errdetail("pgcdc_drasi decodes protocol versions 1 and 2 without two-phase messages.")));
	}
}

/* A new connection starts outside any stream block. */
void
pgcdc_proto_reset(void)
{
	in_stream_block = false;
}

/* The name of a message type, for error contexts. */
const char *
pgcdc_proto_message_name(LogicalRepMsgType action)
{
	switch (action)
	{
		case LOGICAL_REP_MSG_BEGIN:
			return "BEGIN";
		case LOGICAL_REP_MSG_COMMIT:
			return "COMMIT";
		case LOGICAL_REP_MSG_ORIGIN:
			return "ORIGIN";
		case LOGICAL_REP_MSG_INSERT:
			return "INSERT";
		case LOGICAL_REP_MSG_UPDATE:
			return "UPDATE";
		case LOGICAL_REP_MSG_DELETE:
			return "DELETE";
		case LOGICAL_REP_MSG_TRUNCATE:
			return "TRUNCATE";
		case LOGICAL_REP_MSG_RELATION:
			return "RELATION";
		case LOGICAL_REP_MSG_TYPE:
			return "TYPE";
		case LOGICAL_REP_MSG_MESSAGE:
			return "MESSAGE";
		case LOGICAL_REP_MSG_STREAM_START:
			return "STREAM START";
		case LOGICAL_REP_MSG_STREAM_STOP:
			return "STREAM STOP";
		case LOGICAL_REP_MSG_STREAM_COMMIT:
			return "STREAM COMMIT";
		case LOGICAL_REP_MSG_STREAM_ABORT:
			return "STREAM ABORT";
		default:
			return "??";
	}
}
