/*-------------------------------------------------------------------------
 *
 * redis.h
 *		A Redis client for the delivery workers: URLs, connections and
 *		pipelined XADD transactions, over Debian's libhiredis.
 *
 * Every wait is on the process latch and the socket together, with a
 * deadline, so a worker stays interruptible however slow Redis is.
 * Errors are returned as messages (palloc'd), never raised, so that the
 * caller decides between retrying and failing; no message holds the
 * password of the URL.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/redis.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_REDIS_H
#define PGCDC_REDIS_H

/* Where a Redis server is, from redis://[user:password@]host[:port][/db]. */
typedef struct PgcdcRedisUrl
{
	char	   *host;			/* NULL with a unix socket */
	int			port;
	char	   *socket_path;	/* unix://[user:password@]/path[?db=N] */
	char	   *user;			/* NULL: AUTH with the password alone */
	char	   *password;		/* NULL: no AUTH */
	int			db;
} PgcdcRedisUrl;

/* What Redis made of one XADD of a pipelined batch. */
typedef enum PgcdcXaddResult
{
	PGCDC_XADD_ADDED,			/* a new entry */
	PGCDC_XADD_DUPLICATE,		/* refused: the id is not above the top */
	PGCDC_XADD_FAILED			/* refused for another reason */
} PgcdcXaddResult;

typedef struct PgcdcRedis PgcdcRedis;

extern bool pgcdc_redis_parse_url(const char *url, PgcdcRedisUrl *out, char **error);
extern char *pgcdc_redis_describe(const PgcdcRedisUrl *url);

extern PgcdcRedis *pgcdc_redis_connect(const PgcdcRedisUrl *url, int timeout_ms, char **error);
extern void pgcdc_redis_close(PgcdcRedis *redis);
extern bool pgcdc_redis_stream_top(PgcdcRedis *redis, const char *stream, uint64 *top_ms,
								   char **error);
extern bool pgcdc_redis_stream_last_id(PgcdcRedis *redis, const char *stream, uint64 *top_ms,
									   uint64 *top_seq, char **error);
extern bool pgcdc_redis_xadd_ids(PgcdcRedis *redis, const char *stream, int64 maxlen, int n,
								 const uint64 *ms, const uint64 *seq, char **data,
								 PgcdcXaddResult *results, char **error);
extern bool pgcdc_redis_xadd_batch(PgcdcRedis *redis, const char *stream, int64 maxlen, int n,
								   const int64 *seqs, char **data, PgcdcXaddResult *results,
								   char **error);

#endif							/* PGCDC_REDIS_H */
