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
 * The stream's text is produced by the walsender with DateStyle = ISO,
 * IntervalStyle = postgres, extra_float_digits = 3, bytea_output = hex and
 * TimeZone = UTC (the worker pins PGDATESTYLE and PGTZ); a snapshot's text
 * comes from a session with the same settings pinned, but the rules below
 * do not rely on that.  So every rule below depends only on the text and
 * the type, never on a setting: where a setting changes the text (time
 * zone, date or interval style, bytea_output), the text is parsed with the
 * type's input function and printed again in one fixed form.  The input
 * function reads the ISO and postgres forms whatever the session's
 * settings, and other forms in the session that printed them.  The
 * stream's usual forms are recognised and rewritten without parsing.
 *
 * Only the ISO forms are exact whoever reads them.  A date/time text in
 * another DateStyle is read with the reading session's DateStyle and time
 * zone abbreviations: right in the session that printed it (a snapshot),
 * but not necessarily for the stream, were a non-ISO style to reach the
 * walsender (the worker pins PGDATESTYLE against exactly that).  Then
 * ambiguous abbreviations can be misread (CST, IST, PWT), and some cannot
 * be read at all (LMT, local mean time before standard time).  So such
 * texts draw a WARNING (once per process), are read in a subtransaction,
 * and one that cannot be read is written as a string of its text rather
 * than raising an error.
 *
 * The type matrix (docs/types.md has it as a table):
 *
 * - smallint, integer, bigint, oid: JSON numbers, the text as is.
 * - real, double precision: JSON numbers, the shortest text that reads
 *   back exactly (what extra_float_digits >= 1 prints; a snapshot taken
 *   with extra_float_digits <= 0 has lost digits we cannot restore).
 *   NaN, Infinity and -Infinity, which JSON numbers cannot express, are
 *   the strings "NaN", "Infinity", "-Infinity".
 * - numeric: a JSON number with every digit and the scale of the text
 *   (10.5000 stays 10.5000; 40 digits stay 40 digits; never through a
 *   double).  NaN, Infinity, -Infinity as strings.  With the option
 *   numeric_as_string (append_json_value) the same text as a
 *   JSON string, also inside arrays and composites.
 * - boolean: true / false.
 * - text, varchar, name, "char", citext (an extension type, recognised by
 *   its name in any schema), uuid, enums: JSON strings of the text.
 * - char(n): a JSON string without the trailing blanks.
 * - json, jsonb: embedded as JSON (events are jsonb, so a json value
 *   loses its whitespace and all but the last of duplicate keys).  A json
 *   text that jsonb cannot hold (\u0000, a lone surrogate, an escape the
 *   database encoding lacks, a number numeric cannot hold) is a JSON
 *   string of its text, counted as unavailable.
 * - A value that does not fit what is left of its event's
 *   PGCDC_EVENT_VALUES_MAX bytes is {"bytes": N, "unavailable":
 *   "too_large"}, N the length of its text, counted as unavailable.
 * - bytea: a JSON string of the bytes in standard base64 (RFC 4648
 *   alphabet, padded with '=', no line breaks).  The hex text is decoded
 *   directly; the escape form (bytea_output = escape) through byteain.
 * - date: "YYYY-MM-DD".
 * - time: "HH:MM:SS[.ffffff]" (its text, which no setting changes).
 * - time with time zone: "HH:MM:SS[.ffffff]+HH:MM": the value's own offset
 *   (a time of day has no date to convert it to UTC with), always with
 *   minutes, as RFC 3339 writes offsets ("+02" becomes "+02:00"; an offset
 *   with seconds keeps them).
 * - timestamp: "YYYY-MM-DDTHH:MM:SS[.ffffff]", no offset.
 * - timestamp with time zone: converted to UTC and written
 *   "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00", so that neither the server's nor
 *   the session's TimeZone shows.  '+00:00' rather than 'Z' because it is
 *   exactly what PostgreSQL's own to_json() prints under TimeZone = 'UTC'.
 * - Fractional seconds are written without trailing zeros (PostgreSQL's
 *   own rule); years before 1 AD keep PostgreSQL's " BC" suffix, years
 *   after 9999 have more than four digits; infinity and -infinity of date,
 *   timestamp and timestamptz are the strings "infinity" and "-infinity".
 *   All of date / timestamp / timestamptz are exactly to_json()'s output
 *   in a session with TimeZone = 'UTC'.
 * - interval: an ISO 8601 duration, as PostgreSQL prints it with
 *   IntervalStyle = iso_8601: "P1Y2M3DT4H5M6.5S", "PT0S" for zero, a sign
 *   on each negative component ("P-1Y-2M3DT-4H").  Years, months and days
 *   are not folded into each other (PostgreSQL keeps them apart too).
 * - Arrays of any element type and dimension: nested JSON arrays (the
 *   dimensions as nesting; lower bounds are dropped, so '[0:1]={1,2}' is
 *   [1,2]), NULL elements as null, every element written by its own
 *   type's rule (a timestamptz[] holds UTC strings, a bytea[] base64, ...).
 *   An empty array is [].  int2vector and oidvector, whose text is not an
 *   array literal, are strings.
 * - Composite types: JSON objects {"attribute": value} in attribute order,
 *   dropped attributes left out, each attribute by its type's rule (so
 *   nested composites, arrays of composites and composites of arrays
 *   work).  NULL attributes are null.
 * - Domains: their base type's rule, also over arrays and composites.
 * - Everything else -- ranges, multiranges, inet, cidr, macaddr, macaddr8,
 *   money, bit, varbit, tsvector, tsquery, xml, the geometric types,
 *   pg_lsn, xid, reg* types, extension types such as PostGIS's -- a JSON
 *   string of the text.  money's text depends on lc_monetary: it is the
 *   walsender's (the database's) for the stream, the session's for a
 *   snapshot.
 * - If an array or composite text cannot be read (a composite whose
 *   attributes changed since the row was written, so that the field count
 *   differs), the value is written as a JSON string of its text rather than
 *   guessed.
 *
 * Element id parts (pgcdc_value_append_key) are the text form, except:
 * booleans are true / false, char(n) loses its padding, timestamptz is
 * the same UTC string as the property (so ids do not depend on TimeZone),
 * bytea is the same base64 as the property.  In a key of several columns
 * '_' and '\' are escaped with '\'.
 *
 * Speed: everything about a type is decided once, in pgcdc_value_type,
 * and cached for the process: its kind, for arrays the element's
 * descriptor and delimiter, for composites the attributes' names (already
 * as JSON) and descriptors, for domains the base type's descriptor.
 * Numbers, booleans, strings and json are copied straight from the text.
 * Arrays and composites are read from their text with a small parser (no
 * round trip through array_in / record_in and the elements' input and
 * output functions).  Only date/time texts outside the stream's usual
 * forms (a timestamptz whose offset is not +00, BC, years after 9999),
 * interval and escape-form bytea call an input function (directly: no
 * FmgrInfo to cache for these built-in functions).  Scratch memory of one
 * value is freed when the value has been written.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/value.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "value.h"

/* How values of a type are written. */
typedef enum PgcdcJsonKind
{
	PGCDC_JSON_STRING = 0,		/* the text as a JSON string */
	PGCDC_JSON_INTEGER,			/* the text as a JSON number */
	PGCDC_JSON_FLOAT,			/* number; NaN, Infinity as strings */
	PGCDC_JSON_NUMERIC,			/* the same, or a string by option */
	PGCDC_JSON_BOOL,
	PGCDC_JSON_RAW,				/* jsonb: embedded as is */
	PGCDC_JSON_BPCHAR,			/* string without trailing blanks */
	PGCDC_JSON_BYTEA,			/* base64 string */
	PGCDC_JSON_DATE,
	PGCDC_JSON_TIMETZ,
	PGCDC_JSON_TIMESTAMP,
	PGCDC_JSON_TIMESTAMPTZ,
	PGCDC_JSON_INTERVAL,
	PGCDC_JSON_ARRAY,
	PGCDC_JSON_COMPOSITE,
	PGCDC_JSON_DOMAIN,			/* see base */
	PGCDC_JSON_JSON				/* json: embedded, unless jsonb refuses it */
} PgcdcJsonKind;

/* What we know of a type, cached for the life of the process. */
struct PgcdcValueType
{
	Oid			typid;			/* hash key */
	PgcdcJsonKind kind;
	bool		built;			/* descriptor complete */
	bool		valid;			/* composite: attributes up to date */

	/* PGCDC_JSON_DOMAIN: the base type's descriptor, used instead */
	PgcdcValueType *base;

	/* PGCDC_JSON_ARRAY */
	PgcdcValueType *elem;
	char		delim;

	/* PGCDC_JSON_COMPOSITE: the attributes that are not dropped */
	Oid			typrelid;
	int			natts;
	char	  **attname_json;	/* "name": */
	PgcdcValueType **atttypes;
};

static HTAB *type_cache = NULL;
static MemoryContext type_cxt = NULL;	/* descriptors */
static MemoryContext scratch_cxt = NULL;	/* one value's temporary data */
static List *composite_types = NIL; /* to invalidate */
static bool warned_not_iso = false; /* once per process */
static uint64 values_unavailable = 0;	/* see pgcdc_value_take_unavailable */

/* A function run in a subtransaction by call_guarded. */
typedef Datum (*GuardedFn) (void *arg);

static void append_value(StringInfo buf, PgcdcValueType *type, const char *text,
						 int len, bool numeric_as_string);
static bool call_guarded(GuardedFn fn, void *arg, Datum *value, bool limits);

/* ------------------------------------------------------------------------
 * Type descriptors
 * ------------------------------------------------------------------------
 */

/*
 * A composite type's attributes changed (ALTER TYPE, or ALTER TABLE of the
 * table whose row type it is): read them again when next needed.
 */
static void
invalidate_composites(Datum arg, Oid relid)
{
	ListCell   *lc;

	foreach(lc, composite_types)
	{
		PgcdcValueType *type = lfirst(lc);

		if (!OidIsValid(relid) || type->typrelid == relid)
			type->valid = false;
	}
}

/*
 * Read the attributes of a composite type from the catalog.  Only the
 * syscache is used, without opening the relation: if the type or its
 * relation is gone, the previous attributes are kept (and a text that no
 * longer fits them is written as a string).
 */
static void
build_composite(PgcdcValueType *type)
{
	HeapTuple	tup;
	int			relnatts;
	int			natts = 0;
	char	  **names;
	PgcdcValueType **types;
	MemoryContext old;
	int			i;

	type->valid = true;			/* an invalidation from here on counts */

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(type->typrelid));
	if (!HeapTupleIsValid(tup))
		return;
	relnatts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);

	old = MemoryContextSwitchTo(type_cxt);
	names = palloc(sizeof(char *) * Max(relnatts, 1));
	types = palloc(sizeof(PgcdcValueType *) * Max(relnatts, 1));
	MemoryContextSwitchTo(old);

	for (i = 1; i <= relnatts; i++)
	{
		Form_pg_attribute att;
		StringInfoData name;

		tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(type->typrelid),
							  Int16GetDatum(i));
		if (!HeapTupleIsValid(tup))
			continue;
		att = (Form_pg_attribute) GETSTRUCT(tup);
		if (!att->attisdropped)
		{
			types[natts] = pgcdc_value_type(att->atttypid);
			old = MemoryContextSwitchTo(type_cxt);
			initStringInfo(&name);
			escape_json(&name, NameStr(att->attname));
			appendStringInfoChar(&name, ':');
			MemoryContextSwitchTo(old);
			names[natts++] = name.data;
		}
		ReleaseSysCache(tup);
	}

	/* Swap in the new attributes; nothing else points to the old ones. */
	for (i = 0; i < type->natts; i++)
		pfree(type->attname_json[i]);
	if (type->attname_json)
		pfree(type->attname_json);
	if (type->atttypes)
		pfree(type->atttypes);
	type->natts = natts;
	type->attname_json = names;
	type->atttypes = types;
}

/* Fill in a new descriptor.  Element and attribute types come first. */
static void
build_type(PgcdcValueType *type)
{
	HeapTuple	tup;
	Form_pg_type typ;
	Oid			typid = type->typid;

	/* Meanwhile (and if the type is gone): the text as a string. */
	type->kind = PGCDC_JSON_STRING;
	type->valid = true;

	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		return;
	typ = (Form_pg_type) GETSTRUCT(tup);

	if (typ->typtype == TYPTYPE_DOMAIN)
	{
		Oid			basetype = typ->typbasetype;

		ReleaseSysCache(tup);
		type->base = pgcdc_value_type(basetype);
		type->kind = PGCDC_JSON_DOMAIN;
		return;
	}
	if (typ->typtype == TYPTYPE_COMPOSITE)
	{
		MemoryContext old;

		type->typrelid = typ->typrelid;
		ReleaseSysCache(tup);
		old = MemoryContextSwitchTo(type_cxt);
		composite_types = list_append_unique_ptr(composite_types, type);
		MemoryContextSwitchTo(old);
		type->kind = PGCDC_JSON_COMPOSITE;
		build_composite(type);
		return;
	}
	if (typ->typtype == TYPTYPE_BASE && IsTrueArrayType(typ) &&
		typ->typlen == -1 && typid != INT2VECTOROID && typid != OIDVECTOROID)
	{
		Oid			elemtype = typ->typelem;
		HeapTuple	etup;

		ReleaseSysCache(tup);
		etup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(elemtype));
		if (!HeapTupleIsValid(etup))
			return;
		type->delim = ((Form_pg_type) GETSTRUCT(etup))->typdelim;
		ReleaseSysCache(etup);
		type->elem = pgcdc_value_type(elemtype);
		type->kind = PGCDC_JSON_ARRAY;
		return;
	}

	/*
	 * citext, in whatever schema its extension lives (its OID differs from
	 * database to database), is text: a string.  Recognised by name so that
	 * the rule holds whatever the default below becomes.
	 */
	if (typ->typtype == TYPTYPE_BASE && strcmp(NameStr(typ->typname), "citext") == 0)
	{
		ReleaseSysCache(tup);
		type->kind = PGCDC_JSON_STRING;
		return;
	}

	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
			type->kind = PGCDC_JSON_INTEGER;
			break;
		case FLOAT4OID:
		case FLOAT8OID:
			type->kind = PGCDC_JSON_FLOAT;
			break;
		case NUMERICOID:
			type->kind = PGCDC_JSON_NUMERIC;
			break;
		case BOOLOID:
			type->kind = PGCDC_JSON_BOOL;
			break;
		case JSONOID:
			type->kind = PGCDC_JSON_JSON;
			break;
		case JSONBOID:
			type->kind = PGCDC_JSON_RAW;
			break;
		case BPCHAROID:
			type->kind = PGCDC_JSON_BPCHAR;
			break;
		case BYTEAOID:
			type->kind = PGCDC_JSON_BYTEA;
			break;
		case DATEOID:
			type->kind = PGCDC_JSON_DATE;
			break;
		case TIMETZOID:
			type->kind = PGCDC_JSON_TIMETZ;
			break;
		case TIMESTAMPOID:
			type->kind = PGCDC_JSON_TIMESTAMP;
			break;
		case TIMESTAMPTZOID:
			type->kind = PGCDC_JSON_TIMESTAMPTZ;
			break;
		case INTERVALOID:
			type->kind = PGCDC_JSON_INTERVAL;
			break;
		default:
			/* enums, ranges, inet, money, xml, extension types, ... */
			type->kind = PGCDC_JSON_STRING;
			break;
	}
	ReleaseSysCache(tup);
}

/*
 * The descriptor of a type, looked up once per process.  Needs a
 * transaction.  A domain's descriptor is its base type's.  Descriptors are
 * never freed or moved (dynahash keeps its entries in place), so callers
 * may keep the pointer; only a composite's attributes are read again,
 * after an invalidation.
 */
PgcdcValueType *
pgcdc_value_type(Oid typid)
{
	PgcdcValueType *type;
	bool		found;

	if (type_cache == NULL)
	{
		HASHCTL		ctl;

		type_cxt = AllocSetContextCreate(TopMemoryContext, "pgcdc_drasi types",
										 ALLOCSET_SMALL_SIZES);
		scratch_cxt = AllocSetContextCreate(TopMemoryContext, "pgcdc_drasi values",
											ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PgcdcValueType);
		ctl.hcxt = type_cxt;
		type_cache = hash_create("pgcdc_drasi types", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(invalidate_composites, (Datum) 0);
	}
	type = hash_search(type_cache, &typid, HASH_ENTER, &found);
	if (!found || !type->built)
	{
		if (!found)
		{
			type->kind = PGCDC_JSON_STRING;
			type->built = false;
			type->valid = true;
			type->base = NULL;
			type->elem = NULL;
			type->delim = ',';
			type->typrelid = InvalidOid;
			type->natts = 0;
			type->attname_json = NULL;
			type->atttypes = NULL;
		}
		build_type(type);
		type->built = true;
	}
	else if (type->kind == PGCDC_JSON_COMPOSITE && !type->valid)
		build_composite(type);

	return type->kind == PGCDC_JSON_DOMAIN ? type->base : type;
}

/* ------------------------------------------------------------------------
 * Scalars
 * ------------------------------------------------------------------------
 */

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

/* What json_screen found in a json text. */
typedef enum JsonScreen
{
	JSON_FITS,					/* jsonb_in accepts it */
	JSON_CHECK,					/* jsonb_in may refuse it: try */
	JSON_REFUSED				/* jsonb_in refuses it (\u0000, a lone
								 * surrogate) */
} JsonScreen;

/* The code point of the four hex digits at p, or -1. */
static inline int
hex4(const char *p)
{
	int			cp = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char		c = p[i];

		cp <<= 4;
		if (c >= '0' && c <= '9')
			cp += c - '0';
		else if (c >= 'a' && c <= 'f')
			cp += c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			cp += c - 'A' + 10;
		else
			return -1;
	}
	return cp;
}

/*
 * What jsonb_in can make of a json text that json_in accepted.  json_in
 * checks the syntax only; jsonb_in also reads every \uXXXX escape and
 * every number.  One pass over the text, following its strings, applies
 * jsonb_in's rules where they are simple: \u0000 and a surrogate that is
 * not half of a \uD8xx\uDCxx pair are refused, and in a UTF8 database
 * every other escape is accepted.  What it cannot decide cheaply -- an
 * escape above \u007F in another encoding (can the encoding hold it?), an
 * exponent beyond 1000 or a number of over 1000 characters (can numeric?)
 * -- it leaves to jsonb_in itself (JSON_CHECK).  Exponents and numbers
 * within those bounds always fit numeric.
 */
static JsonScreen
json_screen(const char *text, int len)
{
	const char *p = text;
	const char *end = text +len;
	JsonScreen	result = JSON_FITS;
	bool		utf8 = (GetDatabaseEncoding() == PG_UTF8);

	while (p < end)
	{
		char		c = *p++;

		if (c == '"')
		{
			for (;;)
			{
				int			cp;

				while (p < end && *p != '"' && *p != '\\')
					p++;
				if (p >= end)
					return JSON_CHECK;	/* not json_out's text */
				if (*p++ == '"')
					break;
				if (p >= end)
					return JSON_CHECK;
				if (*p != 'u')
				{
					p++;		/* \", \\, \n, ... */
					continue;
				}
				/* p is at the 'u' of \uXXXX */
				if (end - p < 5 || (cp = hex4(p + 1)) < 0)
					return JSON_CHECK;
				p += 5;
				if (cp == 0)
					return JSON_REFUSED;
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return JSON_REFUSED;	/* low surrogate first */
				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					int			lo;

					if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
						(lo = hex4(p + 2)) < 0xDC00 || lo > 0xDFFF)
						return JSON_REFUSED;	/* lone high surrogate */
					p += 6;
				}
				if (cp > 0x7F && !utf8)
					result = JSON_CHECK;
			}
		}
		else if (c >= '0' && c <= '9')
		{
			const char *start = p - 1;

			while (p < end && ((*p >= '0' && *p <= '9') || *p == '.'))
				p++;
			if (p < end && (*p == 'e' || *p == 'E'))
			{
				int			exponent = 0;

				p++;
				if (p < end && (*p == '+' || *p == '-'))
					p++;
				while (p < end && *p >= '0' && *p <= '9')
				{
					if (exponent <= 1000)
						exponent = exponent * 10 + (*p - '0');
					p++;
				}
				if (exponent > 1000)
					result = JSON_CHECK;
			}
			if (p - start > 1000)
				result = JSON_CHECK;
		}
	}
	return result;
}

/* GuardedFn of json_fits_jsonb. */
static Datum
call_jsonb_in(void *arg)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum((const char *) arg));
}

/*
 * Whether jsonb can hold a json text (NUL-terminated at text[len]), which
 * it can unless a \u escape or a number is beyond it.
 */
static bool
json_fits_jsonb(const char *text, int len)
{
	Datum		jb;

	switch (json_screen(text, len))
	{
		case JSON_FITS:
			return true;
		case JSON_REFUSED:
			return false;
		case JSON_CHECK:
			break;
	}
	if (!call_guarded(call_jsonb_in, (void *) text, &jb, false))
		return false;
	pfree(DatumGetPointer(jb));
	return true;
}

/* A float or numeric text that is a number (not NaN, Infinity). */
static inline bool
is_finite_number(const char *text)
{
	return (text[0] >= '0' && text[0] <= '9') ||
		(text[0] == '-' && text[1] >= '0' && text[1] <= '9');
}

#define ISDIGIT(c) ((c) >= '0' && (c) <= '9')

/* "YYYY-MM-DD" at the start of text (NUL-terminated, so safe to look at). */
static inline bool
is_iso_date(const char *t)
{
	return ISDIGIT(t[0]) && ISDIGIT(t[1]) && ISDIGIT(t[2]) && ISDIGIT(t[3]) &&
		t[4] == '-' && ISDIGIT(t[5]) && ISDIGIT(t[6]) &&
		t[7] == '-' && ISDIGIT(t[8]) && ISDIGIT(t[9]);
}

/*
 * Length of the ISO form "YYYY-MM-DD HH:MM:SS[.ffffff]" at the start of
 * text (what DateStyle = ISO prints for years 1 to 9999 AD), or -1.
 */
static int
iso_timestamp_end(const char *t, int len)
{
	int			i;

	if (len < 19 ||
		!(is_iso_date(t) &&
		  t[10] == ' ' && ISDIGIT(t[11]) && ISDIGIT(t[12]) &&
		  t[13] == ':' && ISDIGIT(t[14]) && ISDIGIT(t[15]) &&
		  t[16] == ':' && ISDIGIT(t[17]) && ISDIGIT(t[18])))
		return -1;
	i = 19;
	if (i < len && t[i] == '.')
	{
		i++;
		if (i >= len || !ISDIGIT(t[i]))
			return -1;
		while (i < len && ISDIGIT(t[i]))
			i++;
	}
	return i;
}

/* The number of the n digits at t. */
static inline int
digits_value(const char *t, int n)
{
	int			v = 0;

	while (n-- > 0)
		v = v * 10 + (*t++ - '0');
	return v;
}

/*
 * The value of a timestamptz text in the ISO form of years 1000 to 9999
 * with an offset other than +00 (a server whose TimeZone is not UTC):
 * "YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM[:SS]]", of which end is the length
 * up to the offset.  Read here, several times faster than timestamptz_in's
 * general parser; false leaves any other text to timestamptz_in.
 */
static bool
iso_timestamptz_value(const char *t, int len, int end, Datum *value)
{
	struct pg_tm tm;
	fsec_t		fsec = 0;
	int			tz;
	int			offset;
	int			sign;
	int			i;
	TimestampTz result;

	/* the offset: +HH, +HH:MM or +HH:MM:SS, to the end of the text */
	if (t[end] != '+' && t[end] != '-')
		return false;
	sign = t[end] == '-' ? -1 : 1;
	i = end + 1;
	if (len - i < 2 || !ISDIGIT(t[i]) || !ISDIGIT(t[i + 1]))
		return false;
	offset = digits_value(t + i, 2) * SECS_PER_HOUR;
	i += 2;
	if (i < len)
	{
		if (len - i < 3 || t[i] != ':' || !ISDIGIT(t[i + 1]) || !ISDIGIT(t[i + 2]))
			return false;
		offset += digits_value(t + i + 1, 2) * SECS_PER_MINUTE;
		i += 3;
	}
	if (i < len)
	{
		if (len - i != 3 || t[i] != ':' || !ISDIGIT(t[i + 1]) || !ISDIGIT(t[i + 2]))
			return false;
		offset += digits_value(t + i + 1, 2);
	}
	tz = -sign * offset;		/* PostgreSQL counts offsets west of UTC */

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = digits_value(t, 4);
	tm.tm_mon = digits_value(t + 5, 2);
	tm.tm_mday = digits_value(t + 8, 2);
	tm.tm_hour = digits_value(t + 11, 2);
	tm.tm_min = digits_value(t + 14, 2);
	tm.tm_sec = digits_value(t + 17, 2);
	if (end > 19)
	{
		int			scale = 100000;

		/* ".ffffff": at most six digits, as timestamptz_out prints */
		if (end - 20 > 6)
			return false;
		for (i = 20; i < end; i++, scale /= 10)
			fsec += (t[i] - '0') * scale;
	}
	if (tm.tm_year < 1000 || tm.tm_mon < 1 || tm.tm_mon > MONTHS_PER_YEAR ||
		tm.tm_mday < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59 ||
		offset > MAX_TZDISP_HOUR * SECS_PER_HOUR)
		return false;
	if (tm2timestamp(&tm, fsec, &tz, &result) != 0 || !IS_VALID_TIMESTAMP(result))
		return false;
	*value = TimestampTzGetDatum(result);
	return true;
}

/*
 * Whether a date/time text has the general ISO form, which any session
 * reads back unambiguously: a year of four or more digits first, then
 * "-MM-DD", optionally " HH:MM:SS[.ffffff]", optionally a numeric offset
 * "+HH[:MM[:SS]]", optionally " BC".  (Other DateStyles order day and
 * month by a setting and name time zones by abbreviations.)
 */
static bool
is_iso_like(const char *t, int len)
{
	int			i = 0;

	while (i < len && ISDIGIT(t[i]))
		i++;
	if (i < 4 || len - i < 6 || t[i] != '-' || !ISDIGIT(t[i + 1]) || !ISDIGIT(t[i + 2]) ||
		t[i + 3] != '-' || !ISDIGIT(t[i + 4]) || !ISDIGIT(t[i + 5]))
		return false;
	i += 6;
	if (len - i >= 9 && t[i] == ' ' && ISDIGIT(t[i + 1]))
	{
		if (!(ISDIGIT(t[i + 2]) && t[i + 3] == ':' && ISDIGIT(t[i + 4]) &&
			  ISDIGIT(t[i + 5]) && t[i + 6] == ':' && ISDIGIT(t[i + 7]) &&
			  ISDIGIT(t[i + 8])))
			return false;
		i += 9;
		if (i < len && t[i] == '.')
		{
			i++;
			while (i < len && ISDIGIT(t[i]))
				i++;
		}
		/* +HH, +HH:MM, +HH:MM:SS */
		if (i < len && (t[i] == '+' || t[i] == '-'))
		{
			int			parts;

			i++;
			for (parts = 0; parts < 3; parts++)
			{
				if (parts > 0)
				{
					if (i >= len || t[i] != ':')
						break;
					i++;
				}
				if (len - i < 2 || !ISDIGIT(t[i]) || !ISDIGIT(t[i + 1]))
					return false;
				i += 2;
			}
		}
	}
	if (len - i == 3 && strncmp(t + i, " BC", 3) == 0)
		i += 3;
	return i == len;
}

/*
 * Call fn(arg) in a subtransaction, so that a value it refuses degrades
 * to a fallback instead of stopping the source: false when it
 * raised a data exception or, with limits, exceeded a program limit or
 * ran out of memory (a value too large for jsonb or for a string buffer).
 * Any other error is raised again.  Outside a transaction (nothing to
 * roll back to) the function is called directly.
 */
static bool
call_guarded(GuardedFn fn, void *arg, Datum *value, bool limits)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	if (!IsTransactionState())
	{
		*value = fn(arg);
		return true;
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		*value = fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			category;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (category != ERRCODE_DATA_EXCEPTION &&
			!(limits && (category == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
						 category == ERRCODE_INSUFFICIENT_RESOURCES)))
			ReThrowError(edata);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Read a date/time text that is not in the ISO form with its input
 * function.  That reads what the same session printed, but a text from
 * elsewhere may be unreadable here: a walsender that did not get DateStyle
 * ISO (libpq lets PGDATESTYLE in the server's environment override it)
 * prints zone abbreviations such as LMT that no session reads.  So the
 * reading runs in a subtransaction, and a data error only returns false.
 */
typedef struct InputCall
{
	PGFunction	infunc;
	const char *text;
} InputCall;

/* GuardedFn of read_datetime: the input function. */
static Datum
call_input(void *arg)
{
	InputCall  *call = (InputCall *) arg;

	return DirectFunctionCall3(call->infunc, CStringGetDatum(call->text),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static bool
read_datetime(PGFunction infunc, const char *text, Datum *value)
{
	InputCall	call;

	call.infunc = infunc;
	call.text = text;

	return call_guarded(call_input, &call, value, false);
}

/*
 * Append the JSON form (unquoted) of a date, timestamp or timestamptz text,
 * as to_json() writes it under TimeZone = 'UTC'.  The stream's usual forms
 * are rewritten in place; other ISO texts (another offset, BC, years after
 * 9999) are read with the input function; infinities are copied.  A text
 * in another DateStyle is read in a subtransaction and, if unreadable,
 * copied as it is.
 */
static void
append_datetime(StringInfo out, Oid typid, const char *text, int len)
{
	char		enc[MAXDATELEN + 1];
	Datum		value;
	PGFunction	infunc;
	static const int utc = 0;
	int			end;

	switch (typid)
	{
		case DATEOID:
			if (len == 10 && is_iso_date(text))
			{
				appendBinaryStringInfo(out, text, len);
				return;
			}
			infunc = date_in;
			break;
		case TIMESTAMPOID:
			if (iso_timestamp_end(text, len) == len)
			{
				appendBinaryStringInfo(out, text, 10);
				appendStringInfoChar(out, 'T');
				appendBinaryStringInfo(out, text +11, len - 11);
				return;
			}
			infunc = timestamp_in;
			break;
		case TIMESTAMPTZOID:
			end = iso_timestamp_end(text, len);
			if (end > 0 && end == len - 3 && text[end] == '+' &&
				text[end + 1] == '0' && text[end + 2] == '0')
			{
				appendBinaryStringInfo(out, text, 10);
				appendStringInfoChar(out, 'T');
				appendBinaryStringInfo(out, text +11, end - 11);
				appendBinaryStringInfo(out, "+00:00", 6);
				return;
			}
			if (end > 0 && iso_timestamptz_value(text, len, end, &value))
			{
				JsonEncodeDateTime(enc, value, typid, &utc);
				appendStringInfoString(out, enc);
				return;
			}
			infunc = timestamptz_in;
			break;
		default:
			elog(ERROR, "unexpected date/time type %u", typid);
			return;
	}

	if (strcmp(text, "infinity") == 0 || strcmp(text, "-infinity") == 0)
	{
		appendBinaryStringInfo(out, text, len);
		return;
	}
	if (is_iso_like(text, len))
		value = DirectFunctionCall3(infunc, CStringGetDatum(text),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	else
	{
		/*
		 * Read right in the session that printed it; from a walsender that
		 * did not get DateStyle = ISO, ambiguous abbreviations (CST, IST) can
		 * be misread.  Say so once.
		 */
		if (!warned_not_iso)
		{
			warned_not_iso = true;
			ereport(WARNING,
					(errmsg("date/time value \"%s\" is not in the ISO format", text),
					 errdetail("Values in other formats are read with this session's DateStyle and time zone abbreviations, which may not be those that printed them."),
					 errhint("Check that PGDATESTYLE and PGTZ are not set in the server's environment.")));
		}
		if (!read_datetime(infunc, text, &value))
		{
			/* Unreadable: the text itself, escaped as it may hold anything. */
			char	   *copy = pnstrdup(text, len);
			StringInfoData esc;

			initStringInfo(&esc);
			escape_json(&esc, copy);
			appendBinaryStringInfo(out, esc.data + 1, esc.len - 2);
			return;
		}
	}
	JsonEncodeDateTime(enc, value, typid, &utc);
	appendStringInfoString(out, enc);
}

/*
 * Append a timetz text with its offset as +HH:MM (timetz_out writes +HH
 * when the minutes are zero).  The text is "HH:MM:SS[.ffffff]+HH[:MM[:SS]]"
 * whatever the settings.
 */
static void
append_timetz(StringInfo out, const char *text, int len)
{
	int			sign = len - 1;

	while (sign > 0 && text[sign] != '+' && text[sign] != '-')
		sign--;
	appendBinaryStringInfo(out, text, len);
	if (sign > 0 && len - sign == 3)
		appendBinaryStringInfo(out, ":00", 3);
}

/* Append an interval text as an ISO 8601 duration. */
static void
append_interval(StringInfo out, const char *text)
{
	Interval   *span;
	struct pg_itm itm;
	char		enc[MAXDATELEN + 1];

	span = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(text),
												 ObjectIdGetDatum(InvalidOid),
												 Int32GetDatum(-1)));
	interval2itm(*span, &itm);
	EncodeInterval(&itm, INTSTYLE_ISO_8601, enc);
	appendStringInfoString(out, enc);
}

/* Append the bytes of a bytea text (hex or escape form) in base64. */
static void
append_base64(StringInfo out, const char *text, int len)
{
	const char *bytes;
	int			nbytes;
	int			enclen;

	if (len >= 2 && text[0] == '\\' && text[1] == 'x')
	{
		char	   *dst = palloc((len - 2) / 2 + 1);

		nbytes = (int) hex_decode(text +2, len - 2, dst);
		bytes = dst;
	}
	else
	{
		bytea	   *b = DatumGetByteaPP(DirectFunctionCall1(byteain, CStringGetDatum(text)));

		bytes = VARDATA_ANY(b);
		nbytes = VARSIZE_ANY_EXHDR(b);
	}
	enclen = pg_b64_enc_len(nbytes);
	enlargeStringInfo(out, enclen + 1);
	/* const char * up to 17, const uint8 * from 18 */
	enclen = pg_b64_encode((const void *) bytes, nbytes, out->data + out->len, enclen);
	if (enclen < 0)
		elog(ERROR, "could not encode bytea value in base64");
	out->len += enclen;
	out->data[out->len] = '\0';
}

/* ------------------------------------------------------------------------
 * Arrays and composites
 * ------------------------------------------------------------------------
 */

/*
 * Append one level of an array literal as a JSON array: *pp points to its
 * '{' and is left after its '}'.  The text is array_out's: elements that
 * need it are in double quotes with '"' and '\' escaped by '\'; NULL is an
 * unquoted NULL.  False if the text is not such a literal.
 */
static bool
append_array_level(StringInfo buf, PgcdcValueType *type, const char **pp,
				   const char *end, StringInfo elem, bool numeric_as_string)
{
	const char *p = *pp + 1;
	char		delim = type->delim;

	check_stack_depth();
	appendStringInfoChar(buf, '[');
	if (p < end && *p == '}')
	{
		*pp = p + 1;
		appendStringInfoChar(buf, ']');
		return true;
	}
	for (;;)
	{
		if (p >= end)
			return false;
		if (*p == '{')
		{
			if (!append_array_level(buf, type, &p, end, elem, numeric_as_string))
				return false;
		}
		else if (*p == '"')
		{
			resetStringInfo(elem);
			p++;
			while (p < end && *p != '"')
			{
				const char *run = p;

				while (p < end && *p != '"' && *p != '\\')
					p++;
				appendBinaryStringInfo(elem, run, p - run);
				if (p < end && *p == '\\')
				{
					if (++p >= end)
						return false;
					appendStringInfoChar(elem, *p++);
				}
			}
			if (p >= end)
				return false;
			p++;
			append_value(buf, type->elem, elem->data, elem->len, numeric_as_string);
		}
		else
		{
			const char *start = p;

			while (p < end && *p != delim && *p != '}' && *p != '{' && *p != '"')
				p++;
			if (p == start)
				return false;
			if (p - start == 4 && pg_strncasecmp(start, "NULL", 4) == 0)
				appendStringInfoString(buf, "null");
			else if (type->elem->kind == PGCDC_JSON_INTEGER ||
					 ((type->elem->kind == PGCDC_JSON_FLOAT ||
					   (type->elem->kind == PGCDC_JSON_NUMERIC && !numeric_as_string)) &&
					  is_finite_number(start)))
				appendBinaryStringInfo(buf, start, p - start);	/* no copy needed */
			else if (type->elem->kind == PGCDC_JSON_BOOL)
				appendStringInfoString(buf, *start == 't' ? "true" : "false");
			else
			{
				resetStringInfo(elem);
				appendBinaryStringInfo(elem, start, p - start);
				append_value(buf, type->elem, elem->data, elem->len, numeric_as_string);
			}
		}
		if (p >= end)
			return false;
		if (*p == delim)
		{
			appendStringInfoChar(buf, ',');
			p++;
		}
		else if (*p == '}')
			break;
		else
			return false;
	}
	*pp = p + 1;
	appendStringInfoChar(buf, ']');
	return true;
}

/* An array text ("{...}", after "[lb:ub]...=" if a lower bound is not 1). */
static bool
append_array(StringInfo buf, PgcdcValueType *type, const char *text, int len,
			 bool numeric_as_string)
{
	const char *p = text;
	const char *end = text +len;
	StringInfoData elem;

	if (p < end && *p == '[')
	{
		while (p < end && *p != '=')
		{
			if (*p != '[' && *p != ']' && *p != ':' && *p != '-' && !ISDIGIT(*p))
				return false;
			p++;
		}
		if (p >= end)
			return false;
		p++;
	}
	if (p >= end || *p != '{')
		return false;
	initStringInfo(&elem);
	if (!append_array_level(buf, type, &p, end, &elem, numeric_as_string))
		return false;
	return p == end;
}

/*
 * A composite text, as record_out writes it: "(a,b,...)", an empty field
 * is NULL, fields that need it are in double quotes, with '"' and '\'
 * doubled ('\' may also escape any character, as record_in reads it).
 * False if the text does not have one field per attribute.
 */
static bool
append_composite(StringInfo buf, PgcdcValueType *type, const char *text, int len,
				 bool numeric_as_string)
{
	const char *p = text;
	const char *end = text +len;
	StringInfoData field;
	int			i;

	check_stack_depth();
	if (!type->valid && IsTransactionState())
		build_composite(type);
	if (p >= end || *p != '(')
		return false;
	p++;
	initStringInfo(&field);
	appendStringInfoChar(buf, '{');
	for (i = 0; i < type->natts; i++)
	{
		bool		quoted = false;

		if (i > 0)
		{
			if (p >= end || *p != ',')
				return false;
			p++;
			appendStringInfoChar(buf, ',');
		}
		appendStringInfoString(buf, type->attname_json[i]);
		if (p < end && (*p == ',' || *p == ')'))
		{
			appendStringInfoString(buf, "null");
			continue;
		}
		resetStringInfo(&field);
		while (p < end && (quoted || (*p != ',' && *p != ')')))
		{
			char		ch = *p++;

			if (ch == '\\')
			{
				if (p >= end)
					return false;
				appendStringInfoChar(&field, *p++);
			}
			else if (ch == '"')
			{
				if (!quoted)
					quoted = true;
				else if (p < end && *p == '"')
					appendStringInfoChar(&field, *p++);
				else
					quoted = false;
			}
			else
				appendStringInfoChar(&field, ch);
		}
		if (quoted)
			return false;
		append_value(buf, type->atttypes[i], field.data, field.len, numeric_as_string);
	}
	if (p >= end || *p != ')' || p + 1 != end)
		return false;
	appendStringInfoChar(buf, '}');
	return true;
}

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------
 */

/* Append a value of any kind (text NUL-terminated at text[len]). */
static void
append_value(StringInfo buf, PgcdcValueType *type, const char *text, int len,
			 bool numeric_as_string)
{
	int			start;

	switch (type->kind)
	{
		case PGCDC_JSON_INTEGER:
			appendBinaryStringInfo(buf, text, len);
			break;
		case PGCDC_JSON_NUMERIC:
			if (numeric_as_string)
			{
				append_json_string(buf, text, len);
				break;
			}
			/* FALLTHROUGH */
		case PGCDC_JSON_FLOAT:
			if (is_finite_number(text))
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
		case PGCDC_JSON_JSON:

			/*
			 * A json text that jsonb cannot hold (\u0000, a lone surrogate, a
			 * character the database encoding lacks, a number numeric cannot
			 * read) is kept as a string of its text, and counted.
			 */
			if (json_fits_jsonb(text, len))
				appendBinaryStringInfo(buf, text, len);
			else
			{
				append_json_string(buf, text, len);
				values_unavailable++;
			}
			break;
		case PGCDC_JSON_BPCHAR:
			append_json_string(buf, text, bpchar_trimmed_len(text, len));
			break;
		case PGCDC_JSON_STRING:
		case PGCDC_JSON_DOMAIN: /* not reached: domains resolve to base */
			append_json_string(buf, text, len);
			break;
		case PGCDC_JSON_BYTEA:
			appendStringInfoChar(buf, '"');
			append_base64(buf, text, len);
			appendStringInfoChar(buf, '"');
			break;
		case PGCDC_JSON_DATE:
			appendStringInfoChar(buf, '"');
			append_datetime(buf, DATEOID, text, len);
			appendStringInfoChar(buf, '"');
			break;
		case PGCDC_JSON_TIMESTAMP:
			appendStringInfoChar(buf, '"');
			append_datetime(buf, TIMESTAMPOID, text, len);
			appendStringInfoChar(buf, '"');
			break;
		case PGCDC_JSON_TIMESTAMPTZ:
			appendStringInfoChar(buf, '"');
			append_datetime(buf, TIMESTAMPTZOID, text, len);
			appendStringInfoChar(buf, '"');
			break;
		case PGCDC_JSON_TIMETZ:
			appendStringInfoChar(buf, '"');
			append_timetz(buf, text, len);
			appendStringInfoChar(buf, '"');
			break;
		case PGCDC_JSON_INTERVAL:
			appendStringInfoChar(buf, '"');
			append_interval(buf, text);
			appendStringInfoChar(buf, '"');
			break;
		case PGCDC_JSON_ARRAY:
			start = buf->len;
			if (!append_array(buf, type, text, len, numeric_as_string))
			{
				buf->len = start;
				buf->data[start] = '\0';
				append_json_string(buf, text, len);
			}
			break;
		case PGCDC_JSON_COMPOSITE:
			start = buf->len;
			if (!append_composite(buf, type, text, len, numeric_as_string))
			{
				buf->len = start;
				buf->data[start] = '\0';
				append_json_string(buf, text, len);
			}
			break;
	}
}

/* Kinds written from the text alone, without scratch memory. */
static inline bool
is_simple_kind(PgcdcJsonKind kind)
{
	return kind <= PGCDC_JSON_BPCHAR || kind == PGCDC_JSON_TIMETZ;
}

/*
 * Append a value in JSON, by the rules at the top of this file; with
 * numeric_as_string, numeric values (also in arrays and composites) are
 * JSON strings.
 */
static void
append_json_value(StringInfo buf, PgcdcValueType *type, const char *text,
				  int len, bool numeric_as_string)
{
	MemoryContext old;

	if (is_simple_kind(type->kind))
	{
		append_value(buf, type, text, len, numeric_as_string);
		return;
	}
	old = MemoryContextSwitchTo(scratch_cxt);
	append_value(buf, type, text, len, numeric_as_string);
	MemoryContextSwitchTo(old);
	MemoryContextReset(scratch_cxt);
}

/*
 * Append a value as part of an element id.  Booleans read true/false and
 * char(n) loses its padding, as in Drasi's ids; timestamptz is the UTC
 * string and bytea the base64 string of the property.  In a composite key
 * the separator '_' and the escape '\' are escaped, so that ("1_2","3")
 * and ("1","2_3") can never give the same id.
 */
void
pgcdc_value_append_key(StringInfo buf, PgcdcValueType *type, const char *text,
					   int len, bool escape)
{
	StringInfoData norm;
	MemoryContext old = NULL;
	int			i;

	switch (type->kind)
	{
		case PGCDC_JSON_BOOL:
			appendStringInfoString(buf, text[0] == 't' ? "true" : "false");
			return;
		case PGCDC_JSON_BPCHAR:
			len = bpchar_trimmed_len(text, len);
			break;
		case PGCDC_JSON_TIMESTAMPTZ:
		case PGCDC_JSON_BYTEA:
			old = MemoryContextSwitchTo(scratch_cxt);
			initStringInfo(&norm);
			if (type->kind == PGCDC_JSON_BYTEA)
				append_base64(&norm, text, len);
			else
				append_datetime(&norm, TIMESTAMPTZOID, text, len);
			MemoryContextSwitchTo(old);
			text = norm.data;

			len = norm.len;
			break;
		default:
			break;
	}

	if (!escape)
		appendBinaryStringInfo(buf, text, len);
	else
	{
		for (i = 0; i < len; i++)
		{
			if (text[i] == '_' || text[i] == '\\')
				appendStringInfoChar(buf, '\\');
			appendStringInfoChar(buf, text[i]);
		}
	}
	if (old != NULL)
		MemoryContextReset(scratch_cxt);
}

/*
 * The values of an event, and the event, must fit jsonb (256 MB) and
 * PostgreSQL's allocations (1 GB: the event's text, which escapes can make
 * six times longer than its strings); a value that does not fit the room
 * left in its event is replaced by a marker:
 * {"bytes": <length of its text>, "unavailable": "too_large"}.
 */
static void
set_too_large(JsonbValue *out, int len)
{
	JsonbPair  *pairs = palloc(sizeof(JsonbPair) * 2);

	out->type = jbvObject;
	out->val.object.nPairs = 2;
	out->val.object.pairs = pairs;
	/* jsonb key order: shorter keys first */
	pairs[0].key.type = jbvString;
	pairs[0].key.val.string.val = "bytes";
	pairs[0].key.val.string.len = 5;
	pairs[0].value.type = jbvNumeric;
	pairs[0].value.val.numeric = int64_to_numeric(len);
	pairs[0].order = 0;
	pairs[1].key.type = jbvString;
	pairs[1].key.val.string.val = "unavailable";
	pairs[1].key.val.string.len = 11;
	pairs[1].value.type = jbvString;
	pairs[1].value.val.string.val = "too_large";
	pairs[1].value.val.string.len = 9;
	pairs[1].order = 1;
	values_unavailable++;
}

/* What build_jsonb needs. */
typedef struct JsonbBuild
{
	PgcdcValueType *type;
	const char *text;
	int			len;
	bool		numeric_as_string;
} JsonbBuild;

/* A value of a kind that is not set directly, as jsonb via its JSON text. */
static Datum
build_jsonb(void *arg)
{
	JsonbBuild *b = (JsonbBuild *) arg;
	StringInfoData buf;
	Datum		jb;

	initStringInfo(&buf);
	append_json_value(&buf, b->type, b->text, b->len, b->numeric_as_string);
	jb = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	pfree(buf.data);
	return jb;
}

/*
 * A value as a jsonb value, for the queue: the same value that
 * append_json_value writes as text.  Scalars are set directly
 * (strings point into text, which must outlive the use); the other kinds
 * go once through their JSON text.  *room is what is left of the event's
 * PGCDC_EVENT_VALUES_MAX bytes: the value takes its size from it, or is
 * the too_large marker when it does not fit (see set_too_large).
 */
void
pgcdc_value_to_jsonb(JsonbValue *out, PgcdcValueType *type, const char *text, int len,
					 bool numeric_as_string, Size *room)
{
	Assert(room != NULL);
	if ((Size) len > *room)
	{
		set_too_large(out, len);
		return;
	}
	switch (type->kind)
	{
		case PGCDC_JSON_INTEGER:
			out->type = jbvNumeric;
			out->val.numeric = int64_to_numeric(pg_strtoint64(text));
			break;
		case PGCDC_JSON_NUMERIC:
		case PGCDC_JSON_FLOAT:
			if (is_finite_number(text) &&
				!(numeric_as_string && type->kind == PGCDC_JSON_NUMERIC))
			{
				out->type = jbvNumeric;
				out->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	   CStringGetDatum(text),
																	   ObjectIdGetDatum(InvalidOid),
																	   Int32GetDatum(-1)));
			}
			else
			{
				out->type = jbvString;
				out->val.string.val = (char *) text;

				out->val.string.len = len;
			}
			break;
		case PGCDC_JSON_BOOL:
			out->type = jbvBool;
			out->val.boolean = (text[0] == 't');
			break;
		case PGCDC_JSON_STRING:
			out->type = jbvString;
			out->val.string.val = (char *) text;

			out->val.string.len = len;
			break;
		case PGCDC_JSON_BPCHAR:
			out->type = jbvString;
			out->val.string.val = (char *) text;

			out->val.string.len = bpchar_trimmed_len(text, len);
			break;
		default:
			{
				JsonbBuild	build;
				Datum		datum;
				uint64		counted = values_unavailable;
				Jsonb	   *jb;
				JsonbIterator *it;
				JsonbIteratorToken tok;
				JsonbValue	v;
				JsonbParseState *state = NULL;
				JsonbValue *res = NULL;

				build.type = type;
				build.text = text;

				build.len = len;
				build.numeric_as_string = numeric_as_string;

				/*
				 * Below a megabyte no value can reach a limit (escapes,
				 * attribute names and jsonb's headers grow a text at most
				 * some twenty times): no subtransaction needed.
				 */
				if (len < PGCDC_VALUE_GUARD_BYTES)
					datum = build_jsonb(&build);
				else
				{
					/* a large value's memory goes as soon as it failed */
					MemoryContext large = AllocSetContextCreate(CurrentMemoryContext,
																"pgcdc_drasi large value",
																ALLOCSET_DEFAULT_SIZES);
					MemoryContext old = MemoryContextSwitchTo(large);
					bool		ok = call_guarded(build_jsonb, &build, &datum, true);

					MemoryContextSwitchTo(old);
					if (!ok || VARSIZE(DatumGetPointer(datum)) > *room)
					{
						MemoryContextDelete(large);
						MemoryContextReset(scratch_cxt);
						values_unavailable = counted;	/* one marker, not parts */
						set_too_large(out, len);
						return;
					}
				}
				jb = DatumGetJsonbP(datum);
				if (VARSIZE(jb) > *room)
				{
					pfree(jb);
					values_unavailable = counted;
					set_too_large(out, len);
					return;
				}
				*room -= VARSIZE(jb);
				if (JB_ROOT_IS_SCALAR(jb))
				{
					(void) JsonbExtractScalar(&jb->root, out);
					return;
				}
				it = JsonbIteratorInit(&jb->root);
				while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
					res = pushJsonbValue(&state, tok,
										 tok == WJB_KEY || tok == WJB_VALUE || tok == WJB_ELEM ? &v : NULL);
				*out = *res;
				return;
			}
	}
	*room -= len;
}

/*
 * The number of values written as a marker or, for json, as a string of
 * their text since the last call.  Only the source worker takes the count,
 * into its status after each local commit; in other processes (bootstrap)
 * the count is never read.
 */
uint64
pgcdc_value_take_unavailable(void)
{
	uint64		n = values_unavailable;

	values_unavailable = 0;
	return n;
}
