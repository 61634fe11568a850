/*-------------------------------------------------------------------------
 *
 * sink_notify.c
 *		The NOTIFY sink: events, references and wake-ups on a channel.
 *
 * Notifications are queued with Async_Notify inside the local
 * transaction that also writes the queue rows and advances the origin,
 * so PostgreSQL delivers them at its commit, in commit order, and never
 * for a transaction that did not commit.  Three limits shape the sink:
 *
 * - A payload holds less than 8000 bytes.  A larger event is written to
 *   the queue table and the notification carries a reference (source,
 *   seq, op, label, id) to fetch it with pgcdc_drasi.get_events(); an id
 *   (and a label) too long for the reference is left out of it.
 * - Pending notifications live in memory until commit.  After
 *   pgcdc_drasi.notify_max_pending of them in one local transaction, the
 *   remaining events go to the queue table and one notification names
 *   their seq range, so memory stays bounded for any transaction size.
 * - The server's notification queue is finite.  When it is fuller than
 *   pgcdc_drasi.notify_max_usage, a source that also has a queue sink
 *   sends no notifications for the group (listeners see the seq gap and
 *   read the queue), and a notify-only source stops with an error and
 *   retries later, so no event is ever lost.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sink_notify.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"

#include "mapping.h"
#include "pgcdc_drasi.h"
#include "sink_notify.h"

/* async.c's limit: a payload must be shorter than this. */
#define PGCDC_NOTIFY_PAYLOAD_MAX (BLCKSZ - NAMEDATALEN - 128)

/* Notifications sent and skipped since the counts were last taken. */
static uint64 notify_sent = 0;
static uint64 notify_skipped = 0;

static bool group_decided = false;
static bool group_skip = false;
static int	group_pending = 0;
static int64 overflow_first = 0;
static int64 overflow_last = 0;

/* Forget the state of the previous local transaction. */
void
pgcdc_notify_begin_group(void)
{
	group_decided = false;
	group_skip = false;
	group_pending = 0;
	overflow_first = 0;
	overflow_last = 0;
}

/*
 * Decide once per local transaction whether the notification queue has
 * room.  A source whose events are also queued skips the notifications;
 * a notify-only source must not lose them, so it stops here.
 */
static void
decide_group(bool queue_has_it)
{
	double		usage;

	if (group_decided)
		return;
	group_decided = true;
	usage = DatumGetFloat8(DirectFunctionCall1(pg_notification_queue_usage, (Datum) 0));
	if (usage <= pgcdc_notify_max_usage)
		return;
	if (queue_has_it)
	{
		group_skip = true;
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("the notification queue is too full to notify"),
			 errdetail("The source publishes only through NOTIFY, so it waits until listeners have consumed their notifications. "
					   "The queue is %.4g%% full; pgcdc_drasi.notify_max_usage allows %.4g%%.",
					   usage * 100, pgcdc_notify_max_usage * 100),
			 errhint("Find listeners that do not read their notifications (a session idle in a transaction holds the queue), or add the queue sink with pgcdc_drasi.alter_source().")));
}

/* A small JSON object naming a seq range of a source. */
static void
notify_range(const char *channel, const char *source_id, int64 first, int64 last,
			 bool overflow)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"source\":");
	escape_json(&buf, source_id);
	appendStringInfo(&buf, ",\"firstSeq\":" INT64_FORMAT ",\"lastSeq\":" INT64_FORMAT "%s}",
					 first, last, overflow ? ",\"overflow\":true" : "");
	Async_Notify(channel, buf.data);
	pfree(buf.data);
	notify_sent++;
}

/*
 * The payload that refers to an event in the queue table:
 * {"source","seq","op","label","id","ref":true}, the label and id only
 * when asked for.
 */
static char *
reference_payload(PgcdcTxContext *tx, PgcdcEvent *event, bool with_id, bool with_label)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"source\":");
	escape_json(&buf, tx->source_id);
	appendStringInfo(&buf, ",\"seq\":" INT64_FORMAT ",\"op\":\"%c\"",
					 event->seq, event->op);
	if (with_label)
	{
		appendStringInfoString(&buf, ",\"label\":");
		escape_json(&buf, event->label);
	}
	if (with_id)
	{
		appendStringInfoString(&buf, ",\"id\":");
		if (event->element_id)
			escape_json(&buf, event->element_id);
		else
			appendStringInfoString(&buf, "null");
	}
	appendStringInfoString(&buf, ",\"ref\":true}");
	return buf.data;
}

/*
 * Notify one event.  Returns true when the event must (also) be written
 * to the queue table because the notification only refers to it.
 */
bool
pgcdc_notify_event(const char *channel, PgcdcTxContext *tx, PgcdcEvent *event,
				   bool queue_has_it)
{
	int			len;
	const char *text;

	decide_group(queue_has_it);
	if (group_skip)
	{
		notify_skipped++;
		return false;
	}

	if (group_pending >= pgcdc_notify_max_pending)
	{
		if (overflow_first == 0)
			overflow_first = event->seq;
		overflow_last = event->seq;
		return true;
	}

	group_pending++;
	notify_sent++;
	text = pgcdc_map_event_text(event, &len);

	if (len < PGCDC_NOTIFY_PAYLOAD_MAX)
	{
		Async_Notify(channel, text);
		return false;
	}
	else
	{
		char	   *ref = reference_payload(tx, event, true, true);

		/*
		 * A reference must fit too: without the id (set_table_key on a large
		 * column), and at worst without the label (one longer than
		 * set_table_label allows, from before it checked): the seq is enough
		 * to fetch the event.
		 */
		if (strlen(ref) >= PGCDC_NOTIFY_PAYLOAD_MAX)
		{
			pfree(ref);
			ref = reference_payload(tx, event, false, true);
		}
		if (strlen(ref) >= PGCDC_NOTIFY_PAYLOAD_MAX)
		{
			pfree(ref);
			ref = reference_payload(tx, event, false, false);
		}
		Async_Notify(channel, ref);
		pfree(ref);
		return true;
	}
}

/*
 * Before the local commit: name the events that overflowed, and in
 * wake-up mode send the one notification of the group.
 */
void
pgcdc_notify_end_group(const char *channel, const char *source_id,
					   int64 first_seq, int64 last_seq, bool wakeup)
{
	if (overflow_first != 0)
		notify_range(channel, source_id, overflow_first, overflow_last, true);
	if (wakeup && last_seq >= first_seq)
	{
		decide_group(true);
		if (group_skip)
			notify_skipped++;
		else
			notify_range(channel, source_id, first_seq, last_seq, false);
	}
}

/*
 * The numbers of notifications sent and skipped since the last call,
 * for the status view (counted after each local commit).
 */
void
pgcdc_notify_take_counts(uint64 *sent, uint64 *skipped)
{
	*sent = notify_sent;
	*skipped = notify_skipped;
	notify_sent = 0;
	notify_skipped = 0;
}
