/*-------------------------------------------------------------------------
 *
 * target_http.c
 *		HTTP targets: the request a batch of events becomes, in the Drasi
 *		HTTP source's format or as a webhook, and what the response means
 *		for delivery.
 *
 * drasi-http: one event is POSTed to the url (Drasi's
 * /sources/{sourceId}/events), several to <url>/batch as
 * {"events": [...]}, each event in the HTTP source's own format:
 *
 *   {"operation": "insert"|"update", "element": {"type": "node", "id",
 *    "labels", "properties"}, "timestamp": <ns>}
 *   {"operation": "delete", "id", "labels", "timestamp": <ns>}
 *
 * (relation events: "type": "relation" with "from" and "to").  Truncate
 * events have no form there and are left out of the request.
 *
 * webhook: the queue's payloads, as they are, in a JSON array.
 *
 * Every request carries Idempotency-Key: <source_id>:<first>-<last>, the
 * seq range of the batch, so a receiver can tell a batch sent again
 * after a crash from a new one.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/target_http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "http.h"
#include "target.h"

/* A member of a jsonb object, or NULL. */
static JsonbValue *
member(JsonbContainer *container, const char *key)
{
	return getKeyJsonValueFromContainer(container, key, strlen(key), NULL);
}

/* Append a jsonb value (string, number, array or object) as JSON text. */
static void
append_value(StringInfo buf, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			escape_json(buf, pnstrdup(v->val.string.val, v->val.string.len));
			break;
		case jbvNumeric:
			appendStringInfoString(buf,
								   DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
			break;
		case jbvBinary:
			(void) JsonbToCString(buf, v->val.binary.data, v->val.binary.len);
			break;
		case jbvBool:
			appendStringInfoString(buf, v->val.boolean ? "true" : "false");
			break;
		default:
			appendStringInfoString(buf, "null");
			break;
	}
}

/* A member that must be there: the queue's payloads always have it. */
static JsonbValue *
required(JsonbContainer *container, const char *key, int64 seq)
{
	JsonbValue *v = container ? member(container, key) : NULL;

	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the queued event seq " INT64_FORMAT " has no \"%s\"", seq, key)));
	return v;
}

/* The container of an object member, or NULL. */
static JsonbContainer *
object_member(JsonbContainer *container, const char *key)
{
	JsonbValue *v = member(container, key);

	return (v != NULL && v->type == jbvBinary) ? v->val.binary.data : NULL;
}

/*
 * Append one queued event in the Drasi HTTP source's format.  False for
 * an event that has no such form (a truncate), which is left out.
 */
static bool
append_drasi_event(StringInfo buf, int64 seq, const char *payload)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(payload)));
	JsonbValue *op = required(&jb->root, "op", seq);
	JsonbContainer *body = object_member(&jb->root, "payload");
	JsonbContainer *source = body ? object_member(body, "source") : NULL;
	JsonbValue *table = required(source, "table", seq);
	JsonbValue *ts = required(source, "ts_ns", seq);
	JsonbContainer *element;
	const char *operation;
	bool		relation;

	if (op->type != jbvString || op->val.string.len != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the queued event seq " INT64_FORMAT " has an invalid \"op\"", seq)));
	switch (op->val.string.val[0])
	{
		case 'i':
			operation = "insert";
			break;
		case 'u':
			operation = "update";
			break;
		case 'd':
			operation = "delete";
			break;
		default:
			return false;		/* truncate: Drasi has no such operation */
	}
	relation = table->type == jbvString &&
		((table->val.string.len == 3 && strncmp(table->val.string.val, "rel", 3) == 0) ||
		 (table->val.string.len == 8 && strncmp(table->val.string.val, "relation", 8) == 0));

	element = object_member(body, operation[0] == 'd' ? "before" : "after");
	appendStringInfo(buf, "{\"operation\":\"%s\",", operation);
	if (operation[0] == 'd')
	{
		appendStringInfoString(buf, "\"id\":");
		append_value(buf, required(element, "id", seq));
		appendStringInfoString(buf, ",\"labels\":");
		append_value(buf, required(element, "labels", seq));
	}
	else
	{
		appendStringInfo(buf, "\"element\":{\"type\":\"%s\",\"id\":",
						 relation ? "relation" : "node");
		append_value(buf, required(element, "id", seq));
		appendStringInfoString(buf, ",\"labels\":");
		append_value(buf, required(element, "labels", seq));
		if (relation)
		{
			appendStringInfoString(buf, ",\"from\":");
			append_value(buf, required(element, "startId", seq));
			appendStringInfoString(buf, ",\"to\":");
			append_value(buf, required(element, "endId", seq));
		}
		appendStringInfoString(buf, ",\"properties\":");
		append_value(buf, required(element, "properties", seq));
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoString(buf, ",\"timestamp\":");
	append_value(buf, ts);
	appendStringInfoChar(buf, '}');
	return true;
}

/*
 * Does a 2xx answer of Drasi's HTTP source say that some events of the
 * request failed?  Its body is {"success", "message", "error"?}: a
 * partial failure has success true and an error.  A body that is not
 * JSON (a proxy's) says nothing.
 */
static bool
drasi_partial_failure(const char *response)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		partial = false;

	if (response == NULL || response[0] != '{')
		return false;
	PG_TRY();
	{
		Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(response)));
		JsonbValue *success = member(&jb->root, "success");
		JsonbValue *error = member(&jb->root, "error");

		partial = (success != NULL && success->type == jbvBool && !success->val.boolean) ||
			(error != NULL && error->type != jbvNull);
	}
	PG_CATCH();
	{
		/* not JSON (a parse error holds no resource): no verdict */
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		partial = false;
	}
	PG_END_TRY();
	return partial;
}

/*
 * Send events [0, n) of a batch in one request and say what became of
 * them.  *message and *detail (for target_status and the log) are set
 * unless the events were delivered; neither holds the url's secrets nor
 * a header.  *sent is the number of events in the request (truncates
 * are left out of drasi-http requests).
 */
PgcdcHttpOutcome
pgcdc_target_http_send(PgcdcHttp *http, const PgcdcTargetOptions *options, const char *url,
					   const char *source_id, int n, const int64 *seqs, char **payloads,
					   int *sent, char **message, char **detail)
{
	StringInfoData body;
	const char *post_url = url;
	char	   *key;
	char	   *where;
	char	   *error;
	char	   *response;
	long		status;
	int			i;

	Assert(n > 0);
	*message = NULL;
	*detail = NULL;
	*sent = 0;
	initStringInfo(&body);
	if (options->format == PGCDC_HTTP_FORMAT_WEBHOOK)
	{
		appendStringInfoChar(&body, '[');
		for (i = 0; i < n; i++)
		{
			if (i > 0)
				appendStringInfoChar(&body, ',');
			appendStringInfoString(&body, payloads[i]);
		}
		appendStringInfoChar(&body, ']');
		*sent = n;
	}
	else
	{
		StringInfoData events;

		initStringInfo(&events);
		for (i = 0; i < n; i++)
		{
			int			len = events.len;

			if (*sent > 0)
				appendStringInfoChar(&events, ',');
			if (append_drasi_event(&events, seqs[i], payloads[i]))
				(*sent)++;
			else
			{
				events.len = len;
				events.data[len] = '\0';
			}
		}
		if (*sent == 0)
			return PGCDC_HTTP_DELIVERED;	/* only truncates */
		if (*sent == 1)
			appendBinaryStringInfo(&body, events.data, events.len);
		else
		{
			appendStringInfoString(&body, "{\"events\":[");
			appendBinaryStringInfo(&body, events.data, events.len);
			appendStringInfoString(&body, "]}");
			post_url = psprintf("%s/batch", url);
		}
	}

	key = psprintf("%s:" INT64_FORMAT "-" INT64_FORMAT, source_id, seqs[0], seqs[n - 1]);
	where = pgcdc_http_describe_url(post_url);
	if (!pgcdc_http_post(http, post_url, key, body.data, body.len, &status, &response, &error))
	{
		*message = psprintf("could not POST to %s: %s", where, error);
		*detail = psprintf("Events seq " INT64_FORMAT " to " INT64_FORMAT " (Idempotency-Key %s) are sent again after the backoff.",
						   seqs[0], seqs[n - 1], key);
		return PGCDC_HTTP_RETRY;
	}
	if (status >= 200 && status < 300)
	{
		if (options->format == PGCDC_HTTP_FORMAT_DRASI && drasi_partial_failure(response))
		{
			*message = psprintf("Drasi refused some of events seq " INT64_FORMAT " to " INT64_FORMAT " (HTTP %ld from %s)",
								seqs[0], seqs[n - 1], status, where);
			*detail = response;
			return PGCDC_HTTP_PARTIAL;
		}
		return PGCDC_HTTP_DELIVERED;
	}
	*message = psprintf("HTTP %ld from %s for events seq " INT64_FORMAT " to " INT64_FORMAT,
						status, where, seqs[0], seqs[n - 1]);
	*detail = response;
	if (status == 408 || status == 429 || status >= 500)
		return PGCDC_HTTP_RETRY;
	return PGCDC_HTTP_REFUSED;
}
