/* Bounded JSON input (see json.h). */
#include "core/json.h"

#include "core/err.h"

/* Checks depth, key count and duplicate keys; recursion is bounded by JSON_MAX_DEPTH. */
static bool sane(yyjson_val *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return false;
    if (yyjson_is_arr(v)) {
        size_t i, max;
        yyjson_val *item;
        yyjson_arr_foreach(v, i, max, item)
        {
            if (!sane(item, depth + 1))
                return false;
        }
    } else if (yyjson_is_obj(v)) {
        if (yyjson_obj_size(v) > JSON_MAX_KEYS)
            return false;
        size_t i, max;
        yyjson_val *key, *val;
        yyjson_obj_foreach(v, i, max, key, val)
        {
            size_t j, jmax;
            yyjson_val *k2, *v2;
            yyjson_obj_foreach(v, j, jmax, k2, v2)
            {
                if (j >= i)
                    break;
                if (yyjson_equals(key, k2))
                    return false;
            }
            if (!sane(val, depth + 1))
                return false;
        }
    }
    return true;
}

bool json_within_limits(yyjson_val *v)
{
    return sane(v, 0);
}

int json_parse(struct arena *a, const char *text, size_t len, yyjson_doc **out, const char **why)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_read_err err;
    yyjson_doc *doc = yyjson_read_opts((char *)text, len, 0, &alc, &err);
    if (!doc) {
        bool full = err.code == YYJSON_READ_ERROR_MEMORY_ALLOCATION;
        *why = full ? "The JSON text is too large to parse" : "Malformed JSON in request body";
        return full ? ERR_NOMEM : ERR_INVALID;
    }
    if (!sane(yyjson_doc_get_root(doc), 0)) {
        *why = "JSON body nests too deeply, has too many keys in an object or repeats a key";
        return ERR_INVALID;
    }
    *out = doc;
    return ERR_OK;
}
