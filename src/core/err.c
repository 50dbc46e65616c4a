/* The error table's lookups (see err.h): one row per code, indexed by -code. */
#include "core/err.h"

#include <stddef.h>

struct err_row {
    const char *text;
    const char *detail;
    int status;
};

#define ERR_ROW(name, value, status, text, detail) [-(value)] = {text, detail, status},
static const struct err_row rows[] = {ERR_CODES(ERR_ROW)};
#undef ERR_ROW

static const struct err_row unknown = {"internal error", "Internal server error", 500};

/* The row of err; codes not in the table (or holes in it) read as unknown. */
static const struct err_row *row(int err)
{
    if (err > 0 || (size_t) - (long)err >= sizeof(rows) / sizeof(rows[0]) || !rows[-err].text)
        return &unknown;
    return &rows[-err];
}

const char *err_str(int err)
{
    return row(err)->text;
}

int err_http_status(int err)
{
    return row(err)->status;
}

const char *err_detail(int err)
{
    return row(err)->detail;
}
