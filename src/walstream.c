/*-------------------------------------------------------------------------
 *
 * walstream.c
 *		The logical replication connection of a source worker to its own
 *		server, through the server's libpqwalreceiver.
 *
 * libpqwalreceiver is what PostgreSQL's own apply worker uses: it waits
 * on the process latch, so SIGTERM and postmaster death are honoured
 * even while the network blocks, it sets datestyle, intervalstyle and
 * extra_float_digits so text values are deterministic, and it spares us
 * linking libpq.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/walstream.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "replication/slot.h"
#include "utils/builtins.h"

#include "compat.h"
#include "proto.h"
#include "walstream.h"

struct PgcdcStream
{
	WalReceiverConn *conn;
	StringInfoData reply;
};

/* Append a conninfo value, quoted as libpq wants it. */
static void
append_conninfo_value(StringInfo buf, const char *key, const char *value)
{
	const char *p;

	appendStringInfo(buf, "%s%s='", buf->len > 0 ? " " : "", key);
	for (p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/*
 * Connection string for a source.  Without an override we reach the
 * local server through the first of its unix socket directories (or
 * loopback TCP when it has none) and its own port, as the bootstrap
 * superuser.  The database is appended last so it always wins: the
 * worker must decode the database whose queue it writes.
 */
char *
pgcdc_stream_conninfo(const char *override, const char *dbname, const char *username)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (override != NULL && override[0] != '\0')
		appendStringInfoString(&buf, override);
	else
	{
		char	   *dirs = pstrdup(Unix_socket_directories ? Unix_socket_directories : "");
		char	   *host = dirs;
		char	   *comma = strchr(dirs, ',');

		if (comma)
			*comma = '\0';
		while (*host == ' ')
			host++;
		while (*host && host[strlen(host) - 1] == ' ')
			host[strlen(host) - 1] = '\0';
		if (host[0] == '\0')
			host = "127.0.0.1";

		append_conninfo_value(&buf, "host", host);
		appendStringInfo(&buf, " port=%d", PostPortNumber);
		append_conninfo_value(&buf, "user", username);
	}
	append_conninfo_value(&buf, "dbname", dbname);
	return buf.data;
}

/* Open the replication connection; the error names the conninfo problem. */
PgcdcStream *
pgcdc_stream_connect(const char *conninfo, const char *appname)
{
	PgcdcStream *stream;
	char	   *err = NULL;

	/*
	 * libpq lets PGDATESTYLE and PGTZ in the server's environment override
	 * the settings libpqwalreceiver asks for; pin them, so values arrive in
	 * one known form (and timestamps in UTC).
	 */
	setenv("PGDATESTYLE", "ISO", 1);
	setenv("PGTZ", "UTC", 1);

	/*
	 * The walsender is a session of the source's database too: keep the
	 * database's and the role's timeouts and read-only default away from it
	 * (an idle-in-transaction timeout would end it while the worker reads the
	 * snapshot it exported).  An options keyword in the conninfo replaces
	 * these.
	 */
	setenv("PGOPTIONS",
		   "-c default_transaction_read_only=off -c statement_timeout=0 -c lock_timeout=0 "
		   "-c idle_in_transaction_session_timeout=0 -c idle_session_timeout=0", 1);

	/* libpqwalreceiver may be loaded once per process only. */
	if (WalReceiverFunctions == NULL)
		load_file("libpqwalreceiver", false);

	stream = palloc0(sizeof(PgcdcStream));
	stream->conn = pgcdc_walrcv_connect(conninfo, appname, &err);
	if (stream->conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not open the replication connection: %s", err),
				 errhint("Check pg_hba.conf for local connections of the bootstrap superuser, or set the source's conninfo or pgcdc_drasi.conninfo.")));
	initStringInfo(&stream->reply);
	return stream;
}

/*
 * Refuse to stream from a slot that is gone or was invalidated, with the
 * way out: the walsender's own error says only that the slot cannot be
 * used, and the source would retry it forever.
 */
void
pgcdc_stream_check_slot(const char *source_id, const char *slot_name)
{
	ReplicationSlot *slot;
	const char *reason = NULL;
	bool		exists = false;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	if (slot != NULL)
	{
		exists = true;
		SpinLockAcquire(&slot->mutex);
		reason = pgcdc_slot_invalidation_reason(slot);
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	if (!exists)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("replication slot \"%s\" of source \"%s\" does not exist",
						slot_name, source_id),
				 errdetail("The slot was dropped, or the cluster was restored or upgraded without it."),
				 errhint("Call pgcdc_drasi.resync_source('%s') to create the slot and take a new snapshot of every table.",
						 source_id)));
	if (reason != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("replication slot \"%s\" of source \"%s\" was invalidated",
						slot_name, source_id),
				 errdetail("Invalidation reason: %s.", reason),
				 errhint("Call pgcdc_drasi.resync_source('%s') to replace the slot and take a new snapshot of every table.",
						 source_id)));
}

/*
 * Start streaming the publication from startpos (or the slot's position);
 * with streaming, large transactions arrive in chunks before they commit.
 */
void
pgcdc_stream_start(PgcdcStream *stream, const char *slot_name,
				   const char *publication, XLogRecPtr startpos, bool streaming)
{
	WalRcvStreamOptions options;

	pgcdc_proto_reset();
	pgcdc_stream_options_init(&options, pstrdup(slot_name), startpos,
							  list_make1(makeString(pstrdup(publication))), streaming);
	if (!walrcv_startstreaming(stream->conn, &options))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("replication slot \"%s\" did not enter streaming mode", slot_name)));
}

/*
 * Next CopyData message: > 0 its length, 0 nothing yet (wait on
 * *wait_fd), < 0 the server ended the stream.
 */
int
pgcdc_stream_receive(PgcdcStream *stream, char **buf, pgsocket *wait_fd)
{
	return walrcv_receive(stream->conn, buf, wait_fd);
}

/*
 * Send a standby status update.  The walsender takes only the flush
 * position as confirmed, so callers pass as flush only what is durable.
 */
void
pgcdc_stream_send_feedback(PgcdcStream *stream, XLogRecPtr write_lsn,
						   XLogRecPtr flush_lsn, bool request_reply)
{
	StringInfo	reply = &stream->reply;

	resetStringInfo(reply);
	pq_sendbyte(reply, 'r');
	pq_sendint64(reply, write_lsn);
	pq_sendint64(reply, flush_lsn);
	pq_sendint64(reply, flush_lsn);
	pq_sendint64(reply, GetCurrentTimestamp());
	pq_sendbyte(reply, request_reply ? 1 : 0);
	walrcv_send(stream->conn, reply->data, reply->len);
}

/*
 * Create the source's slot (synchronized to standbys if failover) and
 * export the snapshot at its consistent point; the snapshot stays
 * importable until the next command on this connection.  Returns the
 * snapshot's name.
 */
char *
pgcdc_stream_create_slot(PgcdcStream *stream, const char *slot_name, bool failover,
						 XLogRecPtr *consistent_lsn)
{
	pgcdc_stream_check_failover(failover);
	return pgcdc_walrcv_create_exported_slot(stream->conn, slot_name, failover, consistent_lsn);
}

/*
 * A source's slot can be a failover slot only where the server has them;
 * elsewhere failover => true is refused before anything is created.
 */
void
pgcdc_stream_check_failover(bool failover)
{
	if (failover && !pgcdc_failover_slots_supported())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("failover slots are not supported on PostgreSQL %s", PG_MAJORVERSION),
				 errdetail("Synchronizing a logical replication slot to standbys needs PostgreSQL 17 or later."),
				 errhint("Use failover => false.")));
}

/*
 * Give the source's slot the failover property its configuration asks
 * for, before streaming from it (the slot must be inactive): a slot that
 * alter_source changed, or that create_source adopted, follows the
 * source.  Nothing to do when they agree, or when the slot is missing
 * (pgcdc_stream_check_slot says so).
 */
void
pgcdc_stream_set_slot_failover(PgcdcStream *stream, const char *slot_name, bool failover)
{
	ReplicationSlot *slot;
	bool		exists = false;
	bool		current = false;

	pgcdc_stream_check_failover(failover);
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	if (slot != NULL)
	{
		exists = true;
		SpinLockAcquire(&slot->mutex);
		current = pgcdc_slot_failover(slot);
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	if (!exists || current == failover)
		return;
	pgcdc_walrcv_alter_slot_failover(stream->conn, slot_name, failover);
	ereport(LOG,
			(errmsg("pgcdc_drasi set failover of replication slot \"%s\" to %s",
					slot_name, failover ? "true" : "false")));
}

/* Drop a slot, waiting for whoever still holds it. */
void
pgcdc_stream_drop_slot(PgcdcStream *stream, const char *slot_name)
{
	WalRcvExecResult *res;

	res = walrcv_exec(stream->conn,
					  psprintf("DROP_REPLICATION_SLOT %s WAIT", quote_identifier(slot_name)),
					  0, NULL);
	if (res->status != WALRCV_OK_COMMAND)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("could not drop replication slot \"%s\": %s", slot_name, res->err)));
	walrcv_clear_result(res);
}

/* Close the connection; the walsender then releases the slot. */
void
pgcdc_stream_disconnect(PgcdcStream *stream)
{
	if (stream && stream->conn)
		walrcv_disconnect(stream->conn);
}

/*
 * The confirmed position of this server's slot of that name, as it is in
 * shared memory now: what a source records as the identity of a slot it
 * made or adopted.  InvalidXLogRecPtr when there is no such slot.
 */
XLogRecPtr
pgcdc_stream_slot_lsn(const char *slot_name)
{
	ReplicationSlot *slot;
	XLogRecPtr	lsn = InvalidXLogRecPtr;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		lsn = slot->data.confirmed_flush;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	return lsn;
}

/*
 * Is this server's slot of that name the one a source made or adopted at
 * recorded (pgcdc_catalog_get_slot_lsn)?  A source drops only that slot:
 * one it never recorded, a physical slot, a slot of another database or
 * output plugin, or one whose confirmed position is below the recorded
 * one (so made after ours was gone) belongs to someone else.  *exists
 * says whether there is a slot of that name at all.
 */
bool
pgcdc_stream_slot_is_ours(const char *slot_name, XLogRecPtr recorded, bool *exists)
{
	ReplicationSlot *slot;
	bool		ours = false;

	*exists = false;
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	if (slot != NULL)
	{
		*exists = true;
		SpinLockAcquire(&slot->mutex);
		ours = !XLogRecPtrIsInvalid(recorded) &&
			slot->data.database == MyDatabaseId &&
			strcmp(NameStr(slot->data.plugin), "pgoutput") == 0 &&
			slot->data.confirmed_flush >= recorded;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	return ours;
}
