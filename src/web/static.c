/*
 * Serving the embedded assets (see static.h). The bytes live in the binary's read-only
 * data, so responses point at them without copying. Caching follows one rule: a URL
 * whose bytes can change (index.html, the docs page, openapi.json) is revalidated on
 * every use (no-cache + ETag, answered 304 when unchanged); a URL whose bytes cannot
 * (vendored or hashed files, or any asset requested with "?v=" equal to its hash) is
 * cached for a year as immutable.
 *
 * Compressible assets are stored gzipped (scripts/embed-assets). A client whose
 * Accept-Encoding takes gzip gets the stored bytes as they are, with Content-Encoding: gzip;
 * any other client gets them inflated into the request's arena. The two variants are
 * different bytes, so each has its own ETag, and both carry Vary: Accept-Encoding.
 */
#include "web/static.h"

#define ZLIB_CONST
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/prefix.h"

#define CACHE_REVALIDATE "no-cache"
#define CACHE_IMMUTABLE  "public, max-age=31536000, immutable"
/* HTML may load scripts, styles, images and fonts from its own origin only (swagger-ui's
 * icons are data: URIs), call only its own origin, and never be framed. */
#define HTML_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "                  \
    "form-action 'self'; frame-ancestors 'none'"
#define INDEX_PATH "/index.html"
/* zlib's windowBits for a gzip member only (no zlib header, no auto-detection). */
#define GZIP_WINDOW_BITS (15 + 16)
/* An Accept-Encoding weight in thousandths: q=1 is QVALUE_ONE, q=0 refuses the coding. */
#define QVALUE_ONE        1000
#define QVALUE_MAX_DIGITS 3
/* The weight of a coding the header does not mention (a listed one without q= weighs 1). */
#define QVALUE_UNLISTED (-1)

const struct asset *asset_find(const char *path)
{
    size_t lo = 0, hi = asset_count;
    if (strlen(path) > ASSET_PATH_MAX)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, asset_table[mid].path);
        if (c == 0)
            return &asset_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Skips spaces, tabs and commas: the separators of a header's list. */
static const char *skip_separators(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    return s;
}

/* Skips optional white space (spaces and tabs). */
static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The weight of a qvalue (RFC 9110: "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"]) of n bytes, in
 * thousandths. A malformed value counts as 0, so a coding with a weight the server cannot
 * read is never used: identity is always a safe answer. */
static int parse_qvalue(const char *v, size_t n)
{
    if (n == 0 || (v[0] != '0' && v[0] != '1'))
        return 0;
    if (n == 1)
        return v[0] == '1' ? QVALUE_ONE : 0;
    if (v[1] != '.' || n - 2 > QVALUE_MAX_DIGITS)
        return 0;
    int q = 0, scale = QVALUE_ONE;
    for (size_t i = 2; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        scale /= 10;
        q += (v[i] - '0') * scale;
    }
    if (v[0] == '1')
        return q == 0 ? QVALUE_ONE : 0;
    return q;
}

/* True when the n-byte token tok names the content coding `coding` (case-insensitive;
 * "x-gzip" is gzip's old alias, RFC 9110 section 8.4.1.3). */
static bool coding_is(const char *tok, size_t n, const char *coding)
{
    if (strlen(coding) == n && strncasecmp(tok, coding, n) == 0)
        return true;
    return strcmp(coding, "gzip") == 0 && n == strlen("x-gzip") &&
           strncasecmp(tok, "x-gzip", n) == 0;
}

/* True when the Accept-Encoding header value takes `coding`: it is listed with a weight
 * above 0, or, not listed, "*" is listed with a weight above 0. An explicit q=0 refuses it
 * even when "*" would allow it. No header at all means the client did not ask for a
 * coding, and gets identity. Elements look like `gzip`, `br;q=0.8`, `*;q=0`. */
static bool coding_accepted(const char *header, const char *coding)
{
    if (!header)
        return false;
    int listed = QVALUE_UNLISTED, star = QVALUE_UNLISTED;
    const char *s = header;
    for (;;) {
        s = skip_separators(s);
        if (!*s)
            break;
        const char *tok = s;
        size_t tok_len = strcspn(s, " \t;,");
        int q = QVALUE_ONE;
        s = skip_ows(s + tok_len);
        while (*s == ';') {
            s = skip_ows(s + 1);
            const char *name = s;
            size_t name_len = strcspn(s, " \t=;,");
            const char *value = "";
            size_t value_len = 0;
            s = skip_ows(s + name_len);
            if (*s == '=') {
                value = skip_ows(s + 1);
                value_len = strcspn(value, " \t;,");
                s = skip_ows(value + value_len);
            }
            if (name_len == 1 && (name[0] == 'q' || name[0] == 'Q'))
                q = parse_qvalue(value, value_len);
        }
        s += strcspn(s, ","); /* anything else up to the next element is ignored */
        /* A coding listed twice keeps its lowest weight: a refusal is never overridden. */
        if (coding_is(tok, tok_len, coding))
            listed = listed == QVALUE_UNLISTED || q < listed ? q : listed;
        else if (tok_len == 1 && tok[0] == '*')
            star = star == QVALUE_UNLISTED || q < star ? q : star;
    }
    if (listed != QVALUE_UNLISTED)
        return listed > 0;
    return star > 0;
}

/* Inflates the gzip-stored asset a into the arena; *out gets exactly a->identity_len bytes
 * (the output buffer is that size, so a corrupt member cannot write more). Returns ERR_OK,
 * ERR_NOMEM when the arena is full, ERR_TOOBIG when the asset is beyond zlib's sizes, or
 * ERR_INVALID when the bytes are not one gzip member of that length. */
static int asset_inflate(struct arena *arena, const struct asset *a, const char **out)
{
    if (a->len > UINT_MAX || a->identity_len > UINT_MAX)
        return ERR_TOOBIG;
    unsigned char *buf = arena_alloc(arena, a->identity_len ? a->identity_len : 1);
    if (!buf)
        return ERR_NOMEM;
    z_stream zs = {0};
    if (inflateInit2(&zs, GZIP_WINDOW_BITS) != Z_OK)
        return ERR_NOMEM;
    zs.next_in = (const Bytef *)a->bytes;
    zs.avail_in = (uInt)a->len;
    zs.next_out = buf;
    zs.avail_out = (uInt)a->identity_len;
    int rc = inflate(&zs, Z_FINISH);
    bool whole = rc == Z_STREAM_END && zs.total_out == a->identity_len && zs.avail_in == 0;
    inflateEnd(&zs);
    if (!whole)
        return ERR_INVALID;
    *out = (const char *)buf;
    return ERR_OK;
}

/* True when this request's URL names exactly these bytes: the asset is marked immutable,
 * or the query carries v=<its hash> (the form {{asset:…}} references expand to). */
static bool content_addressed(struct request *req, const struct asset *a)
{
    if (a->immutable)
        return true;
    const char *v = req_query(req, "v");
    return v && strcmp(v, a->hash) == 0;
}

void static_serve(struct request *req, const struct asset *a)
{
    bool encoded = a->encoding && coding_accepted(req_header(req, "Accept-Encoding"), a->encoding);
    const char *etag = encoded ? a->etag_gzip : a->etag;
    resp_header(req, "ETag", etag);
    resp_header(req, "Cache-Control",
                content_addressed(req, a) ? CACHE_IMMUTABLE : CACHE_REVALIDATE);
    if (a->encoding)
        resp_header(req, "Vary", "Accept-Encoding");
    if (req_etag_matches(req, etag)) {
        resp_empty(req, 304);
        return;
    }
    if (str_starts(a->content_type, "text/html")) {
        resp_header(req, "Content-Security-Policy", HTML_CSP);
        resp_header(req, "Referrer-Policy", "same-origin");
    }
    if (encoded || !a->encoding) {
        if (encoded)
            resp_header(req, "Content-Encoding", a->encoding);
        resp_raw(req, 200, a->content_type, a->bytes, a->len);
        return;
    }
    const char *plain = NULL;
    int err = asset_inflate(req->arena, a, &plain);
    if (err != ERR_OK) {
        log_error("embedded asset %s: inflating failed: %s", a->path, err_str(err));
        resp_error(req, 500, "Internal server error");
        return;
    }
    resp_raw(req, 200, a->content_type, plain, a->identity_len);
}

/* True when the client takes HTML: browsers navigating to a page send "Accept: text/html…",
 * while API clients, fetch() and probes send JSON or star-slash-star types. */
static bool accepts_html(struct request *req)
{
    const char *accept = req_header(req, "Accept");
    return accept && strstr(accept, "text/html") != NULL;
}

/* True when the last segment of path has a dot, i.e. the client asked for a file. */
static bool has_extension(const char *path)
{
    const char *last = strrchr(path, '/');
    return strchr(last ? last : path, '.') != NULL;
}

void h_static(struct request *req)
{
    const char *path = req->path;
    const struct asset *a = strcmp(path, "/") == 0 ? asset_find(INDEX_PATH) : asset_find(path);
    if (a) {
        static_serve(req, a);
        return;
    }
    /* The route tables keep the API side's prefixes away from here; should one arrive, it
     * is a JSON 404, never the UI's page. */
    bool spa_route = !path_prefix_of(path) && !has_extension(path) && accepts_html(req);
    const struct asset *index = spa_route ? asset_find(INDEX_PATH) : NULL;
    if (!index) {
        resp_error(req, 404, "Not Found");
        return;
    }
    static_serve(req, index);
}
