/*-------------------------------------------------------------------------
 *
 * fault.c
 *		Fault injection for tests (assertion-enabled builds only).
 *
 * Some failures cannot be caused from outside: an ERROR while a process
 * holds the shared lock, a launcher that exits between registering a
 * worker and the worker attaching, the instant between a commit and the
 * flush of its WAL.  pgcdc_drasi.debug_fault names points in the code and
 * what happens there:
 *
 *		pgcdc_drasi.debug_fault = 'point:action[,point:action...]'
 *
 * where action is "error" (ereport ERROR) or "sleep:<ms>" (wait that
 * long, leaving early only if the postmaster dies).  The setting is
 * PGC_SUSET and exists only when the library was compiled with
 * USE_ASSERT_CHECKING; production builds contain neither the setting nor
 * the points.  The points are listed in fault_points[] below.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/fault.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef USE_ASSERT_CHECKING

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "fault.h"

static char *pgcdc_debug_fault = NULL;

/*
 * The points the code has, so that a misspelt point in a test is an
 * error rather than a fault that never fires.
 */
static const char *const fault_points[] = {
	"source_start",				/* source worker, before it attaches */
	"source_connected",			/* source worker, shared lock held, no
								 * transaction */
	"source_origin",			/* source worker, shared lock held, in
								 * run_source */
	"source_commit",			/* source worker, a group about to commit,
								 * origin position set */
	"source_committed",			/* source worker, a group committed, before
								 * the explicit flush */
	"resnapshot_taken",			/* source worker, a re-snapshot committed with
								 * its skip state */
	"launcher_locked",			/* launcher, shared lock held, marking a
								 * source starting */
	"launcher_registered",		/* launcher, a source worker registered */
	NULL
};

/* Is name one of fault_points[]? (len bytes of it) */
static bool
known_point(const char *name, int len)
{
	int			i;

	for (i = 0; fault_points[i] != NULL; i++)
		if ((int) strlen(fault_points[i]) == len &&
			strncmp(fault_points[i], name, len) == 0)
			return true;
	return false;
}

/*
 * Parse one "point:action" entry (len bytes at entry).  Returns false if
 * it is malformed; otherwise sets *point_len, *is_error and *sleep_ms.
 */
static bool
parse_entry(const char *entry, int len, int *point_len, bool *is_error, int *sleep_ms)
{
	const char *colon = memchr(entry, ':', len);
	const char *action;
	int			action_len;

	if (colon == NULL || colon == entry)
		return false;
	*point_len = colon - entry;
	action = colon + 1;
	action_len = len - *point_len - 1;
	*is_error = false;
	*sleep_ms = 0;
	if (action_len == 5 && strncmp(action, "error", 5) == 0)
	{
		*is_error = true;
		return true;
	}
	if (action_len > 6 && strncmp(action, "sleep:", 6) == 0)
	{
		int			ms = 0;
		int			i;

		for (i = 6; i < action_len; i++)
		{
			if (action[i] < '0' || action[i] > '9' || ms > 3600 * 1000)
				return false;
			ms = ms * 10 + (action[i] - '0');
		}
		*sleep_ms = ms;
		return true;
	}
	return false;
}

/* GUC check hook: every entry well formed and naming a known point. */
static bool
check_debug_fault(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;

	while (p != NULL && *p != '\0')
	{
		const char *comma = strchr(p, ',');
		int			len = comma ? comma - p : (int) strlen(p);
		int			point_len;
		bool		is_error;
		int			sleep_ms;

		if (!parse_entry(p, len, &point_len, &is_error, &sleep_ms))
		{
			GUC_check_errdetail("Each entry is \"point:error\" or \"point:sleep:<ms>\".");
			return false;
		}
		if (!known_point(p, point_len))
		{
			GUC_check_errdetail("\"%.*s\" is not a fault point.", point_len, p);
			return false;
		}
		p = comma ? comma + 1 : NULL;
	}
	return true;
}

/* Define pgcdc_drasi.debug_fault (from _PG_init). */
void
pgcdc_fault_define_guc(void)
{
	DefineCustomStringVariable("pgcdc_drasi.debug_fault",
							   "Developer setting: inject faults at named points (assertion-enabled builds only).",
							   "A comma-separated list of point:error or point:sleep:<ms>.",
							   &pgcdc_debug_fault,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY,
							   check_debug_fault, NULL, NULL);
}

/*
 * A fault point: do what pgcdc_drasi.debug_fault says for it, if
 * anything.  Cheap when the setting is empty.
 */
void
pgcdc_fault_at(const char *point)
{
	const char *p = pgcdc_debug_fault;

	Assert(known_point(point, strlen(point)));
	while (p != NULL && *p != '\0')
	{
		const char *comma = strchr(p, ',');
		int			len = comma ? comma - p : (int) strlen(p);
		int			point_len;
		bool		is_error;
		int			sleep_ms;

		if (parse_entry(p, len, &point_len, &is_error, &sleep_ms) &&
			(int) strlen(point) == point_len && strncmp(p, point, point_len) == 0)
		{
			if (is_error)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("pgcdc_drasi fault injected at \"%s\"", point)));
			ereport(LOG,
					(errmsg("pgcdc_drasi fault at \"%s\": sleeping %d ms", point, sleep_ms)));
			{
				TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sleep_ms);
				long		left;

				while ((left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end)) > 0)
					(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left,
									 PG_WAIT_EXTENSION);
			}
			return;
		}
		p = comma ? comma + 1 : NULL;
	}
}

#endif							/* USE_ASSERT_CHECKING */
