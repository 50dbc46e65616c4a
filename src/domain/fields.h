/*
 * Typed field tables: the machinery behind the task schema (tasks.h). A record type (a
 * task, a listing filter) is described once, as an array of field_spec rows, as Redis
 * describes its configuration; from the rows, and nothing else, come:
 *   - reading a value from JSON (a request body, a tool's arguments) or from text (a query
 *     string), with the record's rules and FastAPI-shaped errors at the caller's location;
 *   - writing a record as the API's JSON object;
 *   - a database cell into a typed member, and a member into a bound SQL parameter;
 *   - a record's part of a cache key;
 *   - the JSON Schema of a value, of an input and of an output object.
 * Members are typed by kind: int64_t ids and times (Unix seconds, 0 for none), int or bool
 * flags, enums (an index into the row's names), integers, texts, and tag lists.
 *
 * Threads: the tables are constant; every function may be called from any thread.
 * Memory: everything a function allocates comes from the arena (or the yyjson document)
 * it is given.
 */
#ifndef TODO_FIELDS_H
#define TODO_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/dynbuf.h"
#include "core/timefmt.h"
#include "core/verror.h"
#include "store/store.h"

/* Most items a list field (tags) can hold. */
#define FIELD_LIST_MAX 20

/* What a field holds, and so how it is read, written, stored and described. */
enum field_kind {
    FK_ID,   /* int64_t > 0, assigned by the database */
    FK_UUID, /* const char *: a user's id */
    FK_TEXT, /* const char *: text under core/text.h's rule, min..max characters */
    FK_BOOL, /* bool, or int (-1 "not given", 0, 1) with FF_OPTIONAL */
    FK_TIME, /* int64_t Unix seconds, 0 for none; RFC 3339 in JSON, a date alone per date_only */
    FK_ENUM, /* an enum (int): the index of a name in names; -1 "not given" with FF_OPTIONAL */
    FK_INT,  /* int, min..max */
    FK_TAGS, /* struct field_tags: texts of min..max characters, at most max_items of them */
};

enum field_flag {
    FF_READONLY = 1 << 0,     /* set by the server only: never read from input */
    FF_REQUIRED = 1 << 1,     /* a create must give it */
    FF_NULLABLE = 1 << 2,     /* JSON null (and, for text, an empty text) means none */
    FF_NULL_DEFAULT = 1 << 3, /* JSON null means the default (recurrence: none; tags: none) */
    FF_MULTILINE = 1 << 4,    /* text: line breaks allowed */
    FF_ICASE = 1 << 5,        /* enum: names match in any letter case */
    FF_OPTIONAL = 1 << 6,     /* enum, bool: -1 means "not given" */
    FF_UNIQUE = 1 << 7,       /* tags: no two equal ignoring case */
    FF_CLOCK = 1 << 8,        /* filter: what it selects changes with the clock (never cached) */
    FF_REPEAT = 1 << 9,       /* tags of a filter: a repeatable key; one text is one item */
};

/* A list value (tags): the JSON array text as stored, and/or the items as read from input.
 * A stored task has json and no list; an input has the list and no json until written. */
struct field_list {
    const char *v[FIELD_LIST_MAX];
    size_t n;
};

struct field_tags {
    const char *json;        /* a JSON array of strings, or NULL */
    struct field_list *list; /* arena-owned, or NULL */
};

/* One row of a record's table. */
struct field_spec {
    const char *name;   /* the JSON key, query name and (unless column says) SQL column */
    const char *column; /* the SQL column when it differs from name, or NULL */
    enum field_kind kind;
    unsigned flags;           /* enum field_flag */
    size_t offset, size;      /* of the member in its record */
    int64_t min, max;         /* text and tags: characters per text; int: the value */
    size_t max_items;         /* tags */
    const char *const *names; /* enum: the accepted names, NULL-terminated */
    int64_t def;              /* the default: an enum index, an integer, a bool, -1 */
    enum date_only date_only; /* time: what a date alone means in input */
    const char *doc;          /* the JSON Schema description */
};

/* Row builders, one per kind, used by the tables in tasks.h. */
#define FIELD_ID(doc_)   .kind = FK_ID, .flags = FF_READONLY, .min = 1, .max = INT64_MAX, .doc = doc_
#define FIELD_UUID(doc_) .kind = FK_UUID, .flags = FF_READONLY, .doc = doc_
#define FIELD_TEXT(flags_, min_, max_, doc_)                                                       \
    .kind = FK_TEXT, .flags = (flags_), .min = (min_), .max = (max_), .doc = doc_
#define FIELD_BOOL(flags_, def_, doc_)                                                             \
    .kind = FK_BOOL, .flags = (flags_), .def = (def_), .doc = doc_
#define FIELD_TIME(flags_, date_only_, doc_)                                                       \
    .kind = FK_TIME, .flags = (flags_), .date_only = (date_only_), .doc = doc_
#define FIELD_ENUM(flags_, names_, def_, doc_)                                                     \
    .kind = FK_ENUM, .flags = (flags_), .names = (names_), .def = (def_), .doc = doc_
#define FIELD_INT(flags_, min_, max_, def_, doc_)                                                  \
    .kind = FK_INT, .flags = (flags_), .min = (min_), .max = (max_), .def = (def_), .doc = doc_
#define FIELD_TAGS(flags_, column_, items_, min_, max_, doc_)                                      \
    .kind = FK_TAGS, .flags = (flags_), .column = (column_), .max_items = (items_), .min = (min_), \
    .max = (max_), .doc = doc_

/* One value as its caller has it: text (a query string's) or JSON (a body's or a tool's). */
struct field_value {
    const char *text;
    yyjson_val *json;
};

/* A key/value getter: stores up to max values of key into out and returns how many the
 * caller has (more than max when there are too many; 0 when absent). A query string gives
 * one text per occurrence; a JSON object its member (an array stays one value). */
typedef size_t (*field_getter)(void *ctx, const char *key, struct field_value *out, size_t max);

/* The getter over a JSON object; ctx is the yyjson_val * object (a non-object has no keys). */
size_t field_get_json(void *ctx, const char *key, struct field_value *out, size_t max);

/* The SQL column of f. */
static inline const char *field_column(const struct field_spec *f)
{
    return f->column ? f->column : f->name;
}

/* Sets f's member of the record at base to its default. */
void field_set_default(const struct field_spec *f, void *base);

/* Reads v into f's member of the record at base under f's rules. JSON null is read as
 * FF_NULLABLE/FF_NULL_DEFAULT say, else refused. A list field (tags) appends to what it
 * holds, so repeated values (?tag=a&tag=b) collect. Problems are recorded at (loc, f->name).
 * Returns ERR_OK, ERR_INVALID (recorded) or ERR_NOMEM. */
int field_read(const struct field_spec *f, const struct field_value *v, const char *loc,
               struct arena *a, void *base, struct verrors *errs);

/* Checks that f's member of the record at base holds a value f allows (an enum index in
 * range, an integer within bounds, a time in 1970..9999, texts within their lengths): what
 * the domain asks of a record that did not come through field_read. ERR_OK or ERR_INVALID. */
int field_check(const struct field_spec *f, const void *base);

/* Adds f's member as key f->name to the JSON object obj. */
void field_to_json(const struct field_spec *f, const void *base, yyjson_mut_doc *doc,
                   yyjson_mut_val *obj);

/* The most bytes field_write_json writes for the value of f's member of the record at base. */
size_t field_json_bound(const struct field_spec *f, const void *base);

/* Writes the value of f's member at p as JSON, the same bytes field_to_json's member gets from
 * yyjson's writer, without a document (a list is written in one pass; the caller writes the
 * key). p has room for field_json_bound bytes. Returns the end of what it wrote, or NULL when
 * a text is not UTF-8. */
char *field_write_json(const struct field_spec *f, const void *base, char *p);

/* Reads cell (row, col) of a result into f's member: ids, integers and flags as the numbers
 * the store read (db_int), texts as they are, times from "YYYY-MM-DDTHH:MM:SSZ" (rfc3339()).
 * ERR_OK, or ERR_DB for a value that f does not allow. */
int field_from_row(const struct field_spec *f, const struct db_rows *r, size_t row, size_t col,
                   void *base);

/* f's member as a bound parameter; times and lists are written into the arena. */
struct db_param field_param(const struct field_spec *f, const void *base, struct arena *a);

/* Appends f's member to a cache key: unambiguous (texts are length-prefixed), no printf. */
void field_key(const struct field_spec *f, const void *base, struct dynbuf *key);

/* True when f's member differs from f's default. */
bool field_is_set(const struct field_spec *f, const void *base);

/* What a JSON Schema describes. */
enum field_schema {
    FS_OUTPUT, /* a record as the API returns it */
    FS_CREATE, /* a create's input: defaults, FF_REQUIRED fields required */
    FS_PATCH,  /* a partial update's input: nothing required, at least one field */
    FS_QUERY,  /* one query parameter (as OpenAPI's parameter schema): repeatable lists */
    FS_ARGS,   /* a tool's argument: a list also accepts a single value */
};

/* The JSON Schema of f's value in doc. */
yyjson_mut_val *field_json_schema(const struct field_spec *f, enum field_schema mode,
                                  yyjson_mut_doc *doc);

/* The JSON Schema of an object of the n fields (read-only ones only for FS_OUTPUT). */
yyjson_mut_val *fields_json_schema(const struct field_spec *fields, size_t n,
                                   enum field_schema mode, yyjson_mut_doc *doc);

#endif
