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

extern PgcdcValueType *pgcdc_value_type(Oid typid);
extern void pgcdc_value_to_jsonb(JsonbValue *out, PgcdcValueType *type,
								 const char *text, int len, bool numeric_as_string);
extern void pgcdc_value_append_key(StringInfo buf, PgcdcValueType *type,
								   const char *text, int len, bool escape);

#endif							/* PGCDC_VALUE_H */
