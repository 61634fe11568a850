/*-------------------------------------------------------------------------
 *
 * http.c
 *		An HTTP client for the delivery workers, over libcurl's multi
 *		interface.
 *
 * curl speaks HTTP and TLS; this file only decides when curl may run.
 * The multi handle tells us, through its socket and timer callbacks,
 * which sockets it waits on and when it next needs to run; each wait
 * puts those sockets, the process latch and postmaster death in one
 * WaitEventSet, with curl's timer (and a deadline of our own) as the
 * timeout.  So a worker never sits in a blocking call of curl: SIGTERM,
 * the latch and postmaster death end a wait at once.
 *
 * One easy handle per target, reused for every request, so the
 * connection (and its TLS session) stays open between requests.  No
 * redirect is followed, only http and https are spoken, and no signal
 * is used (CURLOPT_NOSIGNAL).  Header lines, which may hold secrets,
 * live only in curl's lists and are never put in a message.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "http.h"

/* A request uses one connection, two while connecting (happy eyeballs). */
#define HTTP_MAX_SOCKETS	8
/* The longest wait between two calls of the caller's check. */
#define HTTP_CHECK_INTERVAL_MS	1000

typedef struct HttpSocket
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN, _OUT or _INOUT */
} HttpSocket;

struct PgcdcHttp
{
	CURLM	   *multi;
	CURL	   *easy;
	struct curl_slist *headers; /* fixed header lines */
	int			timeout_ms;
	PgcdcHttpCheck check;		/* NULL: none */
	int			nsockets;
	HttpSocket	sockets[HTTP_MAX_SOCKETS];
	bool		too_many_sockets;
	long		timer_ms;		/* curl's timer: -1 none */
	TimestampTz timer_set_at;
	StringInfoData response;
	char		errbuf[CURL_ERROR_SIZE];
	uint64		connections;	/* new connections made so far */
};

static bool curl_initialized = false;

/*
 * Check an http:// or https:// URL with curl's own parser, so that what
 * we accept is what curl will send to.  On failure *error says what is
 * wrong without repeating the URL (it may hold a password).
 */
bool
pgcdc_http_check_url(const char *url, char **error)
{
	CURLU	   *u = curl_url();
	CURLUcode	rc;
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok = false;

	*error = NULL;
	if (u == NULL)
	{
		*error = pstrdup("out of memory");
		return false;
	}
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK)
		*error = psprintf("the URL is malformed (%s)", curl_url_strerror(rc));
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			 (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		*error = pstrdup("the URL must start with http:// or https://");
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
		*error = pstrdup("the URL names no host");
	else
		ok = true;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/*
 * Where a URL points, for messages: scheme, host, port and path, without
 * the user, password, query or fragment.
 */
char *
pgcdc_http_describe_url(const char *url)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *path = NULL;
	char	   *result;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		result = pstrdup("(an invalid URL)");
	else
		result = psprintf("%s://%s:%s%s", scheme, host, port, path);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return result;
}

/*
 * Check a header given in a target's options: a token for a name, no
 * line break in the value, and none of the headers we set ourselves.
 * The message names the header, never its value.
 */
bool
pgcdc_http_check_header(const char *name, const char *value, char **error)
{
	static const char *const reserved[] = {
		"content-length", "transfer-encoding", "idempotency-key", "host", "expect"
	};
	const char *p;
	int			i;

	*error = NULL;
	if (name[0] == '\0')
	{
		*error = pstrdup("A header name must not be empty");
		return false;
	}
	for (p = name; *p; p++)
		if (!(isalnum((unsigned char) *p) || strchr("!#$%&'*+-.^_`|~", *p) != NULL) ||
			IS_HIGHBIT_SET(*p))
		{
			*error = psprintf("Header name \"%s\" has a character that is not allowed", name);
			return false;
		}
	for (i = 0; i < (int) lengthof(reserved); i++)
		if (pg_strcasecmp(name, reserved[i]) == 0)
		{
			*error = psprintf("Header \"%s\" is set by pgcdc_drasi", name);
			return false;
		}
	for (p = value; *p; p++)
		if (*p == '\r' || *p == '\n')
		{
			*error = psprintf("The value of header \"%s\" has a line break", name);
			return false;
		}
	return true;
}

/* curl's socket callback: remember which sockets to wait on, and how. */
static int
socket_callback(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	PgcdcHttp  *http = (PgcdcHttp *) userp;
	int			i;

	for (i = 0; i < http->nsockets; i++)
		if (http->sockets[i].fd == fd)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < http->nsockets)
			http->sockets[i] = http->sockets[--http->nsockets];
		return 0;
	}
	if (i == http->nsockets)
	{
		if (http->nsockets == HTTP_MAX_SOCKETS)
		{
			http->too_many_sockets = true;
			return 0;
		}
		http->nsockets++;
	}
	http->sockets[i].fd = fd;
	http->sockets[i].what = what;
	return 0;
}

/* curl's timer callback: when curl next needs to run (-1: no timer). */
static int
timer_callback(CURLM *multi, long timeout_ms, void *userp)
{
	PgcdcHttp  *http = (PgcdcHttp *) userp;

	http->timer_ms = timeout_ms;
	http->timer_set_at = GetCurrentTimestamp();
	return 0;
}

/* curl's write callback: keep the start of the response body. */
static size_t
write_callback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	PgcdcHttp  *http = (PgcdcHttp *) userdata;
	size_t		len = size * nmemb;
	size_t		room = PGCDC_HTTP_MAX_BODY - http->response.len;

	if (room > 0)
		appendBinaryStringInfo(&http->response, ptr, Min(len, room));
	return len;
}

/*
 * Make a client with its fixed settings: timeout_ms for connecting and
 * for each whole request, the CA file (NULL: the system's CAs), the
 * header lines ("Name: value"), and a function called at least once a
 * second while a request waits (the delivery worker exits there when its
 * target was paused).  NULL, with *error, on failure.
 */
PgcdcHttp *
pgcdc_http_create(int timeout_ms, const char *ca_file, int nheaders, char **headers,
				  PgcdcHttpCheck check, char **error)
{
	PgcdcHttp  *http = palloc0(sizeof(PgcdcHttp));
	int			i;

	Assert(timeout_ms > 0);
	*error = NULL;
	if (!curl_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			*error = pstrdup("could not initialize libcurl");
			return NULL;
		}
		curl_initialized = true;
	}
	http->timeout_ms = timeout_ms;
	http->check = check;
	http->timer_ms = -1;
	initStringInfo(&http->response);
	http->multi = curl_multi_init();
	http->easy = curl_easy_init();
	if (http->multi == NULL || http->easy == NULL)
		goto oom;

	curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, socket_callback);
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, timer_callback);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);

	curl_easy_setopt(http->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(http->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(http->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(http->easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
	curl_easy_setopt(http->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout_ms);
	curl_easy_setopt(http->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(http->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(http->easy, CURLOPT_USERAGENT, "pgcdc_drasi");
	curl_easy_setopt(http->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(http->easy, CURLOPT_WRITEFUNCTION, write_callback);
	curl_easy_setopt(http->easy, CURLOPT_WRITEDATA, http);
	curl_easy_setopt(http->easy, CURLOPT_ERRORBUFFER, http->errbuf);
	curl_easy_setopt(http->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(http->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL &&
		curl_easy_setopt(http->easy, CURLOPT_CAINFO, ca_file) != CURLE_OK)
		goto oom;

	/* no "Expect: 100-continue" round trip before large bodies */
	http->headers = curl_slist_append(NULL, "Expect:");
	if (http->headers == NULL)
		goto oom;
	for (i = 0; i < nheaders; i++)
	{
		struct curl_slist *l = curl_slist_append(http->headers, headers[i]);

		if (l == NULL)
			goto oom;
		http->headers = l;
	}
	return http;

oom:
	pgcdc_http_close(http);
	*error = pstrdup("could not set up libcurl: out of memory");
	return NULL;
}

/* Free a client (NULL: nothing to do), closing its connection. */
void
pgcdc_http_close(PgcdcHttp *http)
{
	if (http == NULL)
		return;
	if (http->multi != NULL && http->easy != NULL)
		curl_multi_remove_handle(http->multi, http->easy);
	if (http->easy != NULL)
		curl_easy_cleanup(http->easy);
	if (http->multi != NULL)
		curl_multi_cleanup(http->multi);
	curl_slist_free_all(http->headers);
	pfree(http->response.data);
	pfree(http);
}

/* Let curl act on a socket event, or on its timer (fd CURL_SOCKET_TIMEOUT). */
static void
socket_action(PgcdcHttp *http, curl_socket_t fd, int flags, int *running)
{
	if (fd == CURL_SOCKET_TIMEOUT)
		http->timer_ms = -1;
	curl_multi_socket_action(http->multi, fd, flags, running);
}

/*
 * Run the transfer added to the multi handle until it ends, waiting on
 * the latch and curl's sockets.  False, with *error, when our own
 * deadline passes first (curl's CURLOPT_TIMEOUT_MS should end it before).
 */
static bool
run_transfer(PgcdcHttp *http, char **error)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   http->timeout_ms + 1000);
	WaitEvent	occurred[HTTP_MAX_SOCKETS + 2];
	int			running = 1;

	socket_action(http, CURL_SOCKET_TIMEOUT, 0, &running);
	while (running > 0)
	{
		TimestampTz now;
		long		timeout;
		WaitEventSet *set;
		int			n;
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (http->check != NULL)
			http->check();
		if (http->too_many_sockets)
		{
			*error = pstrdup("libcurl opened more sockets than expected");
			return false;
		}
		now = GetCurrentTimestamp();
		timeout = (long) ((deadline - now) / 1000);
		if (timeout <= 0)
		{
			*error = psprintf("timed out after %d ms", http->timeout_ms);
			return false;
		}
		if (http->timer_ms >= 0)
		{
			long		elapsed = (long) ((now - http->timer_set_at) / 1000);

			timeout = Max(Min(timeout, http->timer_ms - elapsed), 0);
		}
		timeout = Min(timeout, HTTP_CHECK_INTERVAL_MS);

		set = pgcdc_create_wait_event_set(http->nsockets + 2);
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (i = 0; i < http->nsockets; i++)
		{
			int			events = 0;

			if (http->sockets[i].what & CURL_POLL_IN)
				events |= WL_SOCKET_READABLE;
			if (http->sockets[i].what & CURL_POLL_OUT)
				events |= WL_SOCKET_WRITEABLE;
			if (events != 0)
				AddWaitEventToSet(set, events, http->sockets[i].fd, NULL, NULL);
		}
		n = WaitEventSetWait(set, timeout, occurred, lengthof(occurred), PG_WAIT_EXTENSION);
		FreeWaitEventSet(set);

		for (i = 0; i < n && running > 0; i++)
		{
			int			flags = 0;

			if (occurred[i].events & WL_LATCH_SET)
			{
				ResetLatch(MyLatch);
				continue;
			}
			if (occurred[i].events & WL_SOCKET_READABLE)
				flags |= CURL_CSELECT_IN;
			if (occurred[i].events & WL_SOCKET_WRITEABLE)
				flags |= CURL_CSELECT_OUT;
			if (flags != 0)
				socket_action(http, occurred[i].fd, flags, &running);
		}

		/* curl's timer ran out (with or without socket events) */
		if (running > 0 && http->timer_ms >= 0 &&
			TimestampDifferenceExceeds(http->timer_set_at, GetCurrentTimestamp(),
									   (int) http->timer_ms))
			socket_action(http, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	return true;
}

/*
 * How many connections the handle has opened: curl keeps one alive between
 * requests and opens a new one when the server closed it, after a reset or
 * a timeout (the target's reconnects).
 */
uint64
pgcdc_http_connections(PgcdcHttp *http)
{
	Assert(http != NULL);
	return http->connections;
}

/*
 * POST body (JSON) to url with an Idempotency-Key header (NULL: none).
 * True when a response came, with its status and the start of its body
 * in *response; false, with *error, when none did (connection refused or
 * reset, timeout, TLS failure...).
 */
bool
pgcdc_http_post(PgcdcHttp *http, const char *url, const char *idempotency_key,
				const char *body, size_t len, long *status, char **response,
				char **error)
{
	struct curl_slist *headers = NULL;
	struct curl_slist *l;
	CURLMsg    *msg;
	int			left;
	CURLcode	result = CURLE_OK;
	bool		done = false;
	bool		ok;

	*error = NULL;
	*response = NULL;
	*status = 0;

	/* this request's header list: ours, the key, then the fixed ones */
	headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (headers != NULL && idempotency_key != NULL)
	{
		char	   *line = psprintf("Idempotency-Key: %s", idempotency_key);

		headers = curl_slist_append(headers, line);
		pfree(line);
	}
	for (l = http->headers; l != NULL && headers != NULL; l = l->next)
		headers = curl_slist_append(headers, l->data);
	if (headers == NULL)
	{
		*error = pstrdup("could not build the request: out of memory");
		return false;
	}

	resetStringInfo(&http->response);
	http->errbuf[0] = '\0';
	curl_easy_setopt(http->easy, CURLOPT_URL, url);
	curl_easy_setopt(http->easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(http->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
	curl_easy_setopt(http->easy, CURLOPT_POSTFIELDS, body);
	if (curl_multi_add_handle(http->multi, http->easy) != CURLM_OK)
	{
		curl_slist_free_all(headers);
		*error = pstrdup("could not start the request");
		return false;
	}

	ok = run_transfer(http, error);
	if (ok)
	{
		while ((msg = curl_multi_info_read(http->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == http->easy)
			{
				result = msg->data.result;
				done = true;
			}
		if (!done)
		{
			*error = pstrdup("the request ended without a result");
			ok = false;
		}
		else if (result != CURLE_OK)
		{
			*error = psprintf("%s%s%s", curl_easy_strerror(result),
							  http->errbuf[0] ? ": " : "", http->errbuf);
			ok = false;
		}
	}
	{
		long		connects = 0;

		/* also after a failure: a connection may have been made */
		if (curl_easy_getinfo(http->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK &&
			connects > 0)
			http->connections += connects;
	}
	curl_multi_remove_handle(http->multi, http->easy);
	curl_easy_setopt(http->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	if (!ok)
		return false;

	curl_easy_getinfo(http->easy, CURLINFO_RESPONSE_CODE, status);
	*response = pnstrdup(http->response.data, http->response.len);
	return true;
}
