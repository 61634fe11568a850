/*-------------------------------------------------------------------------
 *
 * value.h
 *		Column values to JSON: one conversion, shared by the stream and
 *		the snapshots, from a value's text output form.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/value.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_VALUE_H
#define PGCDC_VALUE_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

typedef struct PgcdcValueType PgcdcValueType;

/*
 * The bytes of an event's values (their text, or jsonb for arrays,
 * composites and json): values beyond are published as a marker.  It keeps
 * an event under jsonb's 256 MB and its text under 1 GB.
 */
#define PGCDC_EVENT_VALUES_MAX	((Size) 128 * 1024 * 1024)

/* Values from this size on are built in a subtransaction. */
#define PGCDC_VALUE_GUARD_BYTES	(1024 * 1024)

extern PgcdcValueType *pgcdc_value_type(Oid typid);
extern void pgcdc_value_to_jsonb(JsonbValue *out, PgcdcValueType *type,
								 const char *text, int len, bool numeric_as_string,
								 Size *room);
extern uint64 pgcdc_value_take_unavailable(void);
extern void pgcdc_value_append_key(StringInfo buf, PgcdcValueType *type,
								   const char *text, int len, bool escape);

#endif							/* PGCDC_VALUE_H */
