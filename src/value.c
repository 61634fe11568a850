/*-------------------------------------------------------------------------
 *
 * value.c
 *		Column values as JSON, and as parts of element ids.
 *
 * Every value that leaves pgcdc_drasi goes through these functions, from
 * the type's text output form: the stream gets that form from pgoutput,
 * and a snapshot gets it from the same output functions.  So the stream
 * and a snapshot of the same row can never disagree.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/value.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "utils/json.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "pgcdc_drasi.h"

/* How values of a type are written. */
typedef enum PgcdcJsonKind
{
	PGCDC_JSON_STRING = 0,
	PGCDC_JSON_NUMBER,
	PGCDC_JSON_BOOL,
	PGCDC_JSON_RAW,				/* json, jsonb: embedded as is */
	PGCDC_JSON_BPCHAR			/* string without trailing blanks */
} PgcdcJsonKind;

/* What we know of a type, cached for the life of the process. */
struct PgcdcValueType
{
	Oid			typid;			/* hash key */
	PgcdcJsonKind kind;
};

static HTAB *type_cache = NULL;

/* How values of a type are written.  Domains take their base type's way. */
static PgcdcJsonKind
json_kind(Oid typid)
{
	switch (getBaseType(typid))
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return PGCDC_JSON_NUMBER;
		case BOOLOID:
			return PGCDC_JSON_BOOL;
		case JSONOID:
		case JSONBOID:
			return PGCDC_JSON_RAW;
		case BPCHAROID:
			return PGCDC_JSON_BPCHAR;
		default:
			return PGCDC_JSON_STRING;
	}
}

/*
 * The descriptor of a type, looked up once per process (a type's
 * representation never changes while it exists).  Needs a transaction.
 */
PgcdcValueType *
pgcdc_value_type(Oid typid)
{
	PgcdcValueType *type;
	bool		found;

	if (type_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PgcdcValueType);
		ctl.hcxt = TopMemoryContext;
		type_cache = hash_create("pgcdc_drasi types", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	type = hash_search(type_cache, &typid, HASH_ENTER, &found);
	if (!found)
		type->kind = json_kind(typid);
	return type;
}

/* Length of a string without its trailing blanks, as char(n) compares. */
static int
bpchar_trimmed_len(const char *text, int len)
{
	while (len > 0 && text[len - 1] == ' ')
		len--;
	return len;
}

/* Append text[0..len) as a JSON string. */
static void
append_json_string(StringInfo buf, const char *text, int len)
{
	if (text[len] == '\0')
		escape_json(buf, text);
	else
	{
		char	   *copy = pnstrdup(text, len);

		escape_json(buf, copy);
		pfree(copy);
	}
}

/*
 * Append a value in JSON.  Numbers keep every digit of their text form
 * (numeric is never rounded through a double); NaN and infinities, which
 * JSON cannot express as numbers, become strings.
 */
void
pgcdc_append_json_value(StringInfo buf, PgcdcValueType *type, const char *text, int len)
{
	switch (type->kind)
	{
		case PGCDC_JSON_NUMBER:
			if (IsValidJsonNumber(text, len))
				appendBinaryStringInfo(buf, text, len);
			else
				append_json_string(buf, text, len);
			break;
		case PGCDC_JSON_BOOL:
			appendStringInfoString(buf, text[0] == 't' ? "true" : "false");
			break;
		case PGCDC_JSON_RAW:
			appendBinaryStringInfo(buf, text, len);
			break;
		case PGCDC_JSON_BPCHAR:
			append_json_string(buf, text, bpchar_trimmed_len(text, len));
			break;
		case PGCDC_JSON_STRING:
			append_json_string(buf, text, len);
			break;
	}
}

/*
 * Append a value as part of an element id.  Booleans read true/false and
 * char(n) loses its padding, as in Drasi's ids.  In a composite key the
 * separator '_' and the escape '\' are escaped, so that ("1_2","3") and
 * ("1","2_3") can never give the same id.
 */
void
pgcdc_append_key_value(StringInfo buf, PgcdcValueType *type, const char *text,
					   int len, bool escape)
{
	int			i;

	if (type->kind == PGCDC_JSON_BOOL)
	{
		appendStringInfoString(buf, text[0] == 't' ? "true" : "false");
		return;
	}
	if (type->kind == PGCDC_JSON_BPCHAR)
		len = bpchar_trimmed_len(text, len);

	if (!escape)
	{
		appendBinaryStringInfo(buf, text, len);
		return;
	}
	for (i = 0; i < len; i++)
	{
		if (text[i] == '_' || text[i] == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, text[i]);
	}
}
