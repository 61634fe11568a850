/*-------------------------------------------------------------------------
 *
 * redis.c
 *		A Redis client for the delivery workers, over libhiredis.
 *
 * hiredis builds commands and parses replies; this file only moves the
 * bytes, on a non-blocking socket, waiting on the latch and the socket
 * together (WaitLatchOrSocket) with a deadline per round trip.  So a
 * worker never sits in a blocking read: SIGTERM, postmaster death and
 * the timeout all end a wait at once.
 *
 * A batch is one round trip: MULTI, an XADD per event, EXEC.  The
 * transaction makes a batch all or nothing against everything but its
 * own XADDs' refusals (a command refused while queued, such as under
 * maxmemory, aborts the whole EXEC; an AOF holds the transaction whole
 * or not at all), so Redis never holds a later event of a batch without
 * the earlier ones, which the duplicate rule of target.c relies on.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/redis.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>

#include <hiredis/hiredis.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "redis.h"

#define REDIS_DEFAULT_PORT	6379
#define XADD_DUPLICATE_PREFIX "ERR The ID specified in XADD is equal or smaller"

struct PgcdcRedis
{
	redisContext *ctx;
	int			timeout_ms;
};

/* Decode %XX escapes of a URL part; NULL when one is malformed. */
static char *
percent_decode(const char *s, int len)
{
	char	   *out = palloc(len + 1);
	int			o = 0;
	int			i;

	for (i = 0; i < len; i++)
	{
		if (s[i] == '%')
		{
			char		hex[3];
			char	   *end;
			long		v;

			if (i + 2 >= len)
				return NULL;
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			hex[2] = '\0';
			v = strtol(hex, &end, 16);
			if (*end != '\0' || !isxdigit((unsigned char) hex[0]))
				return NULL;
			out[o++] = (char) v;
			i += 2;
		}
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* Parse "user:password" (either part may be empty) into the URL. */
static bool
parse_userinfo(const char *s, int len, PgcdcRedisUrl *out, char **error)
{
	const char *colon = memchr(s, ':', len);

	if (colon == NULL)
	{
		/* redis://password@host is what many clients accept */
		out->password = percent_decode(s, len);
	}
	else
	{
		if (colon > s)
			out->user = percent_decode(s, colon - s);
		out->password = percent_decode(colon + 1, len - (colon - s) - 1);
		if (colon > s && out->user == NULL)
			goto bad;
	}
	if (out->password == NULL)
		goto bad;
	if (out->password[0] == '\0')
		out->password = NULL;
	return true;

bad:
	*error = pstrdup("the user or password has a malformed %-escape");
	return false;
}

/* Parse a database number of 0 to 65535 ("" is 0). */
static bool
parse_db(const char *s, int *db, char **error)
{
	char	   *end;
	long		v;

	if (*s == '\0')
	{
		*db = 0;
		return true;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 65535 || !isdigit((unsigned char) *s))
	{
		*error = pstrdup("the database must be a number between 0 and 65535");
		return false;
	}
	*db = (int) v;
	return true;
}

/*
 * Parse redis://[user:password@]host[:port][/db] or
 * unix://[user:password@]/path[?db=N].  On failure *error says what is
 * wrong without repeating the URL (it may hold a password).
 */
bool
pgcdc_redis_parse_url(const char *url, PgcdcRedisUrl *out, char **error)
{
	const char *p;
	const char *at;
	const char *slash;
	bool		is_unix = false;

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if (strncmp(url, "redis://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "unix://", 7) == 0)
	{
		p = url + 7;
		is_unix = true;
	}
	else if (strncmp(url, "rediss://", 9) == 0)
	{
		*error = pstrdup("TLS (rediss://) is not supported");
		return false;
	}
	else
	{
		*error = pstrdup("the URL must start with redis:// or unix://");
		return false;
	}

	/* userinfo: up to the last '@' before the path */
	slash = strchr(p, '/');
	at = NULL;
	{
		const char *q;

		for (q = p; *q && (is_unix || slash == NULL || q < slash); q++)
			if (*q == '@')
				at = q;
	}
	if (is_unix)
	{
		/* the path starts with '/', so an '@' of it would come after one */
		at = NULL;
		if (*p != '/')
		{
			const char *q = strstr(p, "@/");

			if (q == NULL)
			{
				*error = pstrdup("a unix:// URL needs an absolute socket path");
				return false;
			}
			at = q;
		}
	}
	if (at != NULL)
	{
		if (!parse_userinfo(p, at - p, out, error))
			return false;
		p = at + 1;
	}

	if (is_unix)
	{
		const char *query = strchr(p, '?');

		if (*p != '/' || p[1] == '\0')
		{
			*error = pstrdup("a unix:// URL needs an absolute socket path");
			return false;
		}
		out->socket_path = query ? pnstrdup(p, query - p) : pstrdup(p);
		if (query != NULL)
		{
			if (strncmp(query, "?db=", 4) != 0)
			{
				*error = pstrdup("the only parameter of a unix:// URL is db");
				return false;
			}
			return parse_db(query + 4, &out->db, error);
		}
		return true;
	}

	/* host */
	if (*p == '[')
	{
		const char *close = strchr(p, ']');

		if (close == NULL || close == p + 1)
		{
			*error = pstrdup("the IPv6 address in brackets is not closed");
			return false;
		}
		out->host = pnstrdup(p + 1, close - p - 1);
		p = close + 1;
	}
	else
	{
		int			len = strcspn(p, ":/?#");

		out->host = pnstrdup(p, len);
		p += len;
	}
	if (out->host[0] == '\0')
	{
		*error = pstrdup("the URL names no host");
		return false;
	}

	/* port */
	out->port = REDIS_DEFAULT_PORT;
	if (*p == ':')
	{
		char	   *end;
		long		v;

		p++;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno != 0 || end == p || v < 1 || v > 65535 || !isdigit((unsigned char) *p) ||
			(*end != '\0' && *end != '/'))
		{
			*error = pstrdup("the port must be a number between 1 and 65535");
			return false;
		}
		out->port = (int) v;
		p = end;
	}

	/* database */
	if (*p == '/')
		return parse_db(p + 1, &out->db, error);
	if (*p != '\0')
	{
		*error = pstrdup("unexpected characters after the host and port");
		return false;
	}
	return true;
}

/* Where a URL points, without its user or password, for messages. */
char *
pgcdc_redis_describe(const PgcdcRedisUrl *url)
{
	if (url->socket_path != NULL)
		return psprintf("unix socket %s, database %d", url->socket_path, url->db);
	if (strchr(url->host, ':') != NULL)
		return psprintf("[%s]:%d, database %d", url->host, url->port, url->db);
	return psprintf("%s:%d, database %d", url->host, url->port, url->db);
}

/* The error of a context, as a message of ours. */
static char *
context_error(PgcdcRedis *redis, const char *what)
{
	const char *errstr = redis->ctx->errstr;

	return psprintf("%s: %s", what, errstr[0] ? errstr : "connection lost");
}

/*
 * Wait until the socket is ready for event (WL_SOCKET_READABLE or
 * WL_SOCKET_WRITEABLE) or the deadline passes; interrupts are served
 * meanwhile.  False, with *error, on timeout.
 */
static bool
wait_socket(PgcdcRedis *redis, int event, TimestampTz deadline, const char *what, char **error)
{
	for (;;)
	{
		long		timeout;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		timeout = (long) ((deadline - GetCurrentTimestamp()) / 1000);
		if (timeout <= 0)
		{
			*error = psprintf("%s: timed out after %d ms", what, redis->timeout_ms);
			return false;
		}
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | event | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   redis->ctx->fd, timeout, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		if (rc & event)
			return true;
	}
}

/* Send everything hiredis has buffered. */
static bool
flush_output(PgcdcRedis *redis, TimestampTz deadline, char **error)
{
	for (;;)
	{
		int			done = 0;

		if (redisBufferWrite(redis->ctx, &done) == REDIS_ERR)
		{
			*error = context_error(redis, "could not send to Redis");
			return false;
		}
		if (done)
			return true;
		if (!wait_socket(redis, WL_SOCKET_WRITEABLE, deadline, "could not send to Redis", error))
			return false;
	}
}

/* The next reply, read as it arrives; NULL, with *error, on failure. */
static redisReply *
read_reply(PgcdcRedis *redis, TimestampTz deadline, char **error)
{
	for (;;)
	{
		void	   *reply = NULL;

		if (redisGetReplyFromReader(redis->ctx, &reply) == REDIS_ERR)
		{
			*error = context_error(redis, "could not read the reply of Redis");
			return NULL;
		}
		if (reply != NULL)
			return (redisReply *) reply;
		if (!wait_socket(redis, WL_SOCKET_READABLE, deadline,
						 "no reply from Redis", error))
			return NULL;
		if (redisBufferRead(redis->ctx) == REDIS_ERR)
		{
			*error = context_error(redis, "could not read the reply of Redis");
			return NULL;
		}
	}
}

/* Run one command and expect a status or string reply (AUTH, SELECT). */
static bool
simple_command(PgcdcRedis *redis, int argc, const char **argv, const char *what, char **error)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), redis->timeout_ms);
	redisReply *reply;
	bool		ok;

	if (redisAppendCommandArgv(redis->ctx, argc, argv, NULL) != REDIS_OK)
	{
		*error = context_error(redis, what);
		return false;
	}
	if (!flush_output(redis, deadline, error))
		return false;
	reply = read_reply(redis, deadline, error);
	if (reply == NULL)
		return false;
	ok = reply->type != REDIS_REPLY_ERROR;
	if (!ok)
		*error = psprintf("%s: %s", what, reply->str);
	freeReplyObject(reply);
	return ok;
}

/*
 * Connect, authenticate and select the database, within timeout_ms for
 * each step.  NULL, with *error, on failure.
 */
PgcdcRedis *
pgcdc_redis_connect(const PgcdcRedisUrl *url, int timeout_ms, char **error)
{
	PgcdcRedis *redis = palloc0(sizeof(PgcdcRedis));
	TimestampTz deadline;
	int			sockerr = 0;
	socklen_t	len = sizeof(sockerr);

	Assert(timeout_ms > 0);
	redis->timeout_ms = timeout_ms;
	*error = NULL;
	if (url->socket_path != NULL)
		redis->ctx = redisConnectUnixNonBlock(url->socket_path);
	else
		redis->ctx = redisConnectNonBlock(url->host, url->port);
	if (redis->ctx == NULL)
	{
		*error = pstrdup("could not connect to Redis: out of memory");
		pfree(redis);
		return NULL;
	}
	if (redis->ctx->err)
	{
		*error = context_error(redis, "could not connect to Redis");
		goto fail;
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	if (!wait_socket(redis, WL_SOCKET_WRITEABLE, deadline, "could not connect to Redis", error))
		goto fail;
	if (getsockopt(redis->ctx->fd, SOL_SOCKET, SO_ERROR, &sockerr, &len) < 0)
		sockerr = errno;
	if (sockerr != 0)
	{
		*error = psprintf("could not connect to Redis: %s", strerror(sockerr));
		goto fail;
	}

	if (url->password != NULL)
	{
		const char *argv[3] = {"AUTH", NULL, NULL};

		if (url->user != NULL)
		{
			argv[1] = url->user;
			argv[2] = url->password;
		}
		else
			argv[1] = url->password;
		if (!simple_command(redis, url->user ? 3 : 2, argv, "Redis refused AUTH", error))
			goto fail;
	}
	if (url->db != 0)
	{
		char		db[16];
		const char *argv[2] = {"SELECT", db};

		snprintf(db, sizeof(db), "%d", url->db);
		if (!simple_command(redis, 2, argv, "Redis refused SELECT", error))
			goto fail;
	}
	return redis;

fail:
	pgcdc_redis_close(redis);
	return NULL;
}

/* Close a connection (NULL: nothing to do). */
void
pgcdc_redis_close(PgcdcRedis *redis)
{
	if (redis == NULL)
		return;
	if (redis->ctx != NULL)
		redisFree(redis->ctx);
	pfree(redis);
}

/*
 * The ms part of the last id a stream generated (0 when the stream does
 * not exist), which stays even when its entries are trimmed or deleted:
 * what decides which XADD ids Redis refuses.
 */
bool
pgcdc_redis_stream_top(PgcdcRedis *redis, const char *stream, uint64 *top_ms, char **error)
{
	uint64		top_seq;

	return pgcdc_redis_stream_last_id(redis, stream, top_ms, &top_seq, error);
}

/*
 * The last id a stream generated, both parts ("<ms>-<seq>"); 0-0 when the
 * stream does not exist.  It stays when entries are trimmed or deleted,
 * so it is the floor of every id Redis still accepts.
 */
bool
pgcdc_redis_stream_last_id(PgcdcRedis *redis, const char *stream, uint64 *top_ms,
						   uint64 *top_seq, char **error)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), redis->timeout_ms);
	const char *argv[3] = {"XINFO", "STREAM", stream};
	redisReply *reply;
	bool		ok = false;
	size_t		i;

	*top_ms = 0;
	*top_seq = 0;
	if (redisAppendCommandArgv(redis->ctx, 3, argv, NULL) != REDIS_OK)
	{
		*error = context_error(redis, "could not send to Redis");
		return false;
	}
	if (!flush_output(redis, deadline, error))
		return false;
	reply = read_reply(redis, deadline, error);
	if (reply == NULL)
		return false;
	if (reply->type == REDIS_REPLY_ERROR)
	{
		/* "ERR no such key": nothing written yet */
		if (strstr(reply->str, "no such key") != NULL)
			ok = true;
		else
			*error = psprintf("Redis refused XINFO STREAM: %s", reply->str);
	}
	else if (reply->type == REDIS_REPLY_ARRAY)
	{
		for (i = 0; i + 1 < reply->elements; i += 2)
		{
			redisReply *key = reply->element[i];
			redisReply *val = reply->element[i + 1];

			if ((key->type == REDIS_REPLY_STRING || key->type == REDIS_REPLY_STATUS) &&
				strcmp(key->str, "last-generated-id") == 0 &&
				(val->type == REDIS_REPLY_STRING || val->type == REDIS_REPLY_STATUS))
			{
				char	   *end;

				*top_ms = strtoull(val->str, &end, 10);
				if (*end == '-')
					*top_seq = strtoull(end + 1, NULL, 10);
				ok = true;
			}
		}
		if (!ok)
			*error = pstrdup("the reply of XINFO STREAM has no last-generated-id");
	}
	else
		*error = pstrdup("unexpected reply to XINFO STREAM");
	freeReplyObject(reply);
	return ok;
}

/*
 * Write n events in one round trip: MULTI, XADD stream [MAXLEN ~ maxlen]
 * <seq>-0 data <data[i]> for each, EXEC.  Returns true when the EXEC ran,
 * with the outcome of each XADD in results (*error: the first refusal
 * that is not a duplicate, or NULL); false, with *error, when nothing
 * is known to have been written (connection lost, timeout, or the
 * transaction aborted).
 */
bool
pgcdc_redis_xadd_batch(PgcdcRedis *redis, const char *stream, int64 maxlen, int n,
					   const int64 *seqs, char **data, PgcdcXaddResult *results,
					   char **error)
{
	uint64	   *ms = palloc(sizeof(uint64) * n);
	bool		ok;
	int			i;

	for (i = 0; i < n; i++)
	{
		Assert(seqs[i] > 0);
		ms[i] = (uint64) seqs[i];
	}
	ok = pgcdc_redis_xadd_ids(redis, stream, maxlen, n, ms, NULL, data, results, error);
	pfree(ms);
	return ok;
}

/*
 * The same with explicit ids "<ms[i]>-<seq[i]>" (seq NULL: all 0), which
 * must rise strictly along the batch.
 */
bool
pgcdc_redis_xadd_ids(PgcdcRedis *redis, const char *stream, int64 maxlen, int n,
					 const uint64 *ms, const uint64 *seq, char **data,
					 PgcdcXaddResult *results, char **error)
{
	TimestampTz deadline;
	const char *argv[8];
	char		id[48];
	char		maxlen_str[32];
	redisReply *reply;
	bool		ok = true;
	int			i;

	Assert(n > 0);
	*error = NULL;
	snprintf(maxlen_str, sizeof(maxlen_str), INT64_FORMAT, maxlen);

	argv[0] = "MULTI";
	if (redisAppendCommandArgv(redis->ctx, 1, argv, NULL) != REDIS_OK)
		goto oom;
	for (i = 0; i < n; i++)
	{
		int			argc = 0;

		Assert(i == 0 || ms[i] > ms[i - 1] ||
			   (ms[i] == ms[i - 1] && seq != NULL && seq[i] > seq[i - 1]));
		snprintf(id, sizeof(id), UINT64_FORMAT "-" UINT64_FORMAT, ms[i],
				 seq ? seq[i] : (uint64) 0);
		argv[argc++] = "XADD";
		argv[argc++] = stream;
		if (maxlen > 0)
		{
			argv[argc++] = "MAXLEN";
			argv[argc++] = "~";
			argv[argc++] = maxlen_str;
		}
		argv[argc++] = id;
		argv[argc++] = "data";
		argv[argc++] = data[i];
		if (redisAppendCommandArgv(redis->ctx, argc, argv, NULL) != REDIS_OK)
			goto oom;
	}
	argv[0] = "EXEC";
	if (redisAppendCommandArgv(redis->ctx, 1, argv, NULL) != REDIS_OK)
		goto oom;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), redis->timeout_ms);
	if (!flush_output(redis, deadline, error))
		return false;

	/* +OK for MULTI, +QUEUED (or a refusal) for each XADD, then EXEC's */
	for (i = 0; i < n + 1; i++)
	{
		reply = read_reply(redis, deadline, error);
		if (reply == NULL)
			return false;
		if (reply->type == REDIS_REPLY_ERROR && ok)
		{
			*error = psprintf("Redis refused a command of the batch: %s", reply->str);
			ok = false;
		}
		freeReplyObject(reply);
	}
	reply = read_reply(redis, deadline, error);
	if (reply == NULL)
		return false;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t) n)
	{
		if (ok)
			*error = psprintf("Redis did not run the batch: %s",
							  reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply to EXEC");
		freeReplyObject(reply);
		return false;
	}
	if (!ok)
	{
		/* a refusal while queueing aborts the EXEC; never seen run */
		freeReplyObject(reply);
		return false;
	}
	for (i = 0; i < n; i++)
	{
		redisReply *r = reply->element[i];

		if (r->type != REDIS_REPLY_ERROR)
			results[i] = PGCDC_XADD_ADDED;
		else if (strncmp(r->str, XADD_DUPLICATE_PREFIX, strlen(XADD_DUPLICATE_PREFIX)) == 0)
			results[i] = PGCDC_XADD_DUPLICATE;
		else
		{
			results[i] = PGCDC_XADD_FAILED;
			if (*error == NULL)
				*error = psprintf("Redis refused XADD of id " UINT64_FORMAT "-" UINT64_FORMAT ": %s",
								  ms[i], seq ? seq[i] : (uint64) 0, r->str);
		}
	}
	freeReplyObject(reply);
	return true;

oom:
	*error = context_error(redis, "could not build the Redis commands");
	return false;
}
