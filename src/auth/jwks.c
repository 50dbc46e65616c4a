/*
 * JSON Web Key Sets (see jwks.h). A set holds at most JWKS_MAX_KEYS parsed public keys as
 * OpenSSL EVP_PKEYs under a read-write lock; verify takes a reference to one key under the
 * read lock and checks the signature without holding it, so a reload never waits for
 * crypto. Fetches are serialised by a second mutex and rate limited, and run with libcurl
 * pinned to https (or http for a loopback host), no redirects, TLS verification on and a
 * size cap on the body.
 *
 * Parsing one key, the alg -> key type map and the signature check itself live in jwk.c;
 * this file holds the set: loading a document, the cache and its fetches, and the lookup
 * that picks the one key a token may be checked against.
 */
#include "auth/jwks.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "yyjson.h"

#include "auth/jwk.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

/* Longest JWKS URL accepted. */
#define JWKS_URL_MAX 2048
/* A verify looks a key up at most this often: once, and once after a refetch. */
#define JWKS_LOOKUP_ATTEMPTS 2

#ifndef TODO_VERSION
#define TODO_VERSION "dev"
#endif
#define JWKS_USER_AGENT "todo/" TODO_VERSION " (jwks)"

struct jwks {
    pthread_rwlock_t lock; /* guards keys and nkeys */
    struct jwk keys[JWKS_MAX_KEYS];
    size_t nkeys;

    /* Fetch state. url, host and loopback never change after creation. */
    char *url;  /* NULL for a static set */
    char *host; /* for log lines; never the full URL */
    bool loopback;
    pthread_mutex_t fetch_lock; /* serialises fetches; guards the three fields below */
    bool attempted;
    int64_t last_attempt_ms;
    int64_t interval_ms;
    atomic_uint_fast64_t fetch_gen; /* bumped after every fetch attempt */
    atomic_bool last_fetch_ok;
    _Atomic int64_t last_ok_ms; /* monotonic time of the last good fetch, -1 for never */
};

/* ---- loading a document ---------------------------------------------------------------- */

/* Releases the keys of an array of n entries. */
static void keys_release(struct jwk *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        EVP_PKEY_free(keys[i].pkey);
        keys[i].pkey = NULL;
    }
}

/* True when two usable keys would answer the same (kid, type) lookup. */
static bool same_slot(const struct jwk *a, const struct jwk *b)
{
    return a->has_kid && b->has_kid && a->type == b->type && a->kid_len == b->kid_len &&
           memcmp(a->kid, b->kid, a->kid_len) == 0;
}

/* Finds the member "keys" of the JWKS root object: it must appear exactly once and be an
 * array. Returns it (borrowed from the document) or NULL. */
static yyjson_val *keys_array(yyjson_val *root)
{
    if (!yyjson_is_obj(root) || yyjson_obj_size(root) > JWK_MAX_MEMBERS)
        return NULL;
    yyjson_val *found = NULL;
    size_t idx, max;
    yyjson_val *key, *val;
    yyjson_obj_foreach(root, idx, max, key, val)
    {
        if (!yyjson_equals_str(key, "keys"))
            continue;
        if (found)
            return NULL;
        found = val;
    }
    return yyjson_is_arr(found) ? found : NULL;
}

/* Parses every entry of arr (at most JWKS_MAX_KEYS) into fresh and stores the number of
 * usable keys in *n and of skipped ones in *skipped. On success the caller owns the keys in
 * fresh[0..*n); on failure none are left. Returns ERR_OK or ERR_INVALID. */
static int parse_keys(yyjson_val *arr, struct jwk fresh[JWKS_MAX_KEYS], size_t *n, size_t *skipped)
{
    *n = 0;
    *skipped = 0;
    size_t idx, max;
    yyjson_val *val;
    yyjson_arr_foreach(arr, idx, max, val)
    {
        if (*n >= JWKS_MAX_KEYS)
            break;
        struct jwk *key = &fresh[*n];
        if (jwk_parse(val, key) != ERR_OK) {
            (*skipped)++;
            continue;
        }
        for (size_t j = 0; j < *n; j++) {
            if (same_slot(&fresh[j], key)) {
                keys_release(fresh, *n + 1);
                *n = 0;
                return ERR_INVALID;
            }
        }
        (*n)++;
    }
    return ERR_OK;
}

int jwks_load_json(struct jwks *k, const char *json, size_t len)
{
    if (!k || (!json && len))
        return ERR_INVALID;
    if (len > JWKS_DOC_MAX)
        return ERR_TOOBIG;
    yyjson_read_err err;
    /* yyjson only writes to its input with YYJSON_READ_INSITU, which is not set. */
    yyjson_doc *doc = yyjson_read_opts((char *)json, len, YYJSON_READ_NOFLAG, NULL, &err);
    if (!doc)
        return err.code == YYJSON_READ_ERROR_MEMORY_ALLOCATION ? ERR_NOMEM : ERR_INVALID;
    yyjson_val *arr = keys_array(yyjson_doc_get_root(doc));
    struct jwk fresh[JWKS_MAX_KEYS];
    size_t n = 0, skipped = 0;
    int rc = ERR_OK;
    if (!arr)
        rc = ERR_INVALID;
    else if (yyjson_arr_size(arr) > JWKS_MAX_KEYS)
        rc = ERR_TOOBIG;
    else
        rc = parse_keys(arr, fresh, &n, &skipped);
    yyjson_doc_free(doc);
    if (rc == ERR_OK && n == 0)
        rc = ERR_INVALID;
    if (rc != ERR_OK)
        return rc;

    struct jwk old[JWKS_MAX_KEYS];
    pthread_rwlock_wrlock(&k->lock);
    size_t old_n = k->nkeys;
    memcpy(old, k->keys, old_n * sizeof(old[0]));
    memcpy(k->keys, fresh, n * sizeof(fresh[0]));
    k->nkeys = n;
    pthread_rwlock_unlock(&k->lock);
    /* Verifiers hold their own references, so the old keys can go now. */
    keys_release(old, old_n);
    if (skipped) {
        struct log_field f[] = {LF_I("loaded", n), LF_I("skipped", skipped)};
        log_fields(LOG_INFO, "jwks keys skipped (unsupported or malformed)", f, ARRAY_LEN(f));
    }
    return ERR_OK;
}

/* ---- fetching -------------------------------------------------------------------------- */

/* The body of one fetch: a JWKS_DOC_MAX buffer the fetch owns. */
struct body {
    char *buf;
    size_t len;
    bool too_big;
};

/* libcurl write callback: appends to the body, and stops the transfer (by returning less
 * than it was given) once the document would pass JWKS_DOC_MAX. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t len = size * nmemb;
    if (len > JWKS_DOC_MAX - b->len) {
        b->too_big = true;
        return 0;
    }
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    return len;
}

/* Sets the options every fetch uses on c. Returns false when libcurl refuses one, which
 * (for the protocol pins) means a libcurl too old to fetch safely. Borrows k and b. */
static bool fetch_options(CURL *c, const struct jwks *k, struct body *b)
{
    bool ok =
        curl_easy_setopt(c, CURLOPT_URL, k->url) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, k->loopback ? "http,https" : "https") ==
            CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)JWKS_FETCH_TIMEOUT_S) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)JWKS_FETCH_CONNECT_TIMEOUT_S) ==
            CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)JWKS_DOC_MAX) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_USERAGENT, JWKS_USER_AGENT) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEDATA, b) == CURLE_OK;
    /* A proxy could not reach this host's loopback anyway. */
    if (ok && k->loopback)
        ok = curl_easy_setopt(c, CURLOPT_NOPROXY, "*") == CURLE_OK;
    return ok;
}

/* Logs a failed fetch at WARNING with the host and a reason; never the URL or a token. */
static void log_fetch_failure(const struct jwks *k, const char *reason, long status)
{
    struct log_field f[] = {LF_S("host", k->host), LF_S("reason", reason), LF_I("status", status)};
    log_fields(LOG_WARNING, "jwks fetch failed", f, ARRAY_LEN(f));
}

/* Fetches k->url once and loads the document. Returns ERR_OK, ERR_UNAVAILABLE (transfer
 * failed or status not 200), ERR_NOMEM, or the error of jwks_load_json. Failures are
 * logged. Call with k->fetch_lock held. */
static int fetch_and_load(struct jwks *k)
{
    struct body b = {.buf = malloc(JWKS_DOC_MAX), .len = 0, .too_big = false};
    CURL *c = curl_easy_init();
    if (!b.buf || !c) {
        free(b.buf);
        curl_easy_cleanup(c);
        log_fetch_failure(k, "out of memory", 0);
        return ERR_NOMEM;
    }
    int rc = ERR_UNAVAILABLE;
    long status = 0;
    if (!fetch_options(c, k, &b)) {
        log_fetch_failure(k, "libcurl refused an option", 0);
    } else {
        CURLcode cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED)
            log_fetch_failure(k, "document too large", status);
        else if (cc != CURLE_OK)
            log_fetch_failure(k, curl_easy_strerror(cc), status);
        else if (status != 200)
            log_fetch_failure(k, "unexpected HTTP status", status);
        else if ((rc = jwks_load_json(k, b.buf, b.len)) != ERR_OK)
            log_fetch_failure(
                k, rc == ERR_TOOBIG ? "too many keys" : "not a JWKS with a usable key", status);
    }
    curl_easy_cleanup(c);
    free(b.buf);
    return rc;
}

/* Fetches the set again unless a fetch ran within the refetch interval. With wait, blocks
 * until a fetch under way in another thread ends (and counts that one); without, gives up
 * at once when another thread is fetching. Returns true when a fetch ran while this call
 * was in progress, so a lookup is worth repeating. */
static bool refetch(struct jwks *k, bool wait)
{
    if (!k->url)
        return false;
    uint_fast64_t gen = atomic_load(&k->fetch_gen);
    if (wait)
        pthread_mutex_lock(&k->fetch_lock);
    else if (pthread_mutex_trylock(&k->fetch_lock) != 0)
        return false;
    bool fetched = false;
    if (atomic_load(&k->fetch_gen) != gen) {
        fetched = true;
    } else {
        int64_t now = now_mono_ms();
        int64_t gap = k->interval_ms;
        if (jwks_count(k) == 0 && gap > JWKS_REFETCH_EMPTY_INTERVAL_S * 1000)
            gap = JWKS_REFETCH_EMPTY_INTERVAL_S * 1000;
        if (!k->attempted || now - k->last_attempt_ms >= gap) {
            k->attempted = true;
            k->last_attempt_ms = now;
            int rc = fetch_and_load(k);
            atomic_store(&k->last_fetch_ok, rc == ERR_OK);
            if (rc == ERR_OK)
                atomic_store(&k->last_ok_ms, now);
            atomic_fetch_add(&k->fetch_gen, 1);
            fetched = true;
        }
    }
    pthread_mutex_unlock(&k->fetch_lock);
    return fetched;
}

/* Refetches a set whose last good fetch is older than JWKS_MAX_AGE_S (or that never had
 * one), unless another thread is already fetching. */
static void refresh_if_stale(struct jwks *k)
{
    if (!k->url)
        return;
    int64_t ok_ms = atomic_load(&k->last_ok_ms);
    if (ok_ms < 0 || now_mono_ms() - ok_ms > (int64_t)JWKS_MAX_AGE_S * 1000)
        refetch(k, false);
}

/* ---- URL rules ------------------------------------------------------------------------- */

/* True when host (as libcurl's URL API returns it) is localhost, in 127.0.0.0/8 or ::1. */
static bool host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr v4;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    size_t len = strlen(host);
    char v6text[INET6_ADDRSTRLEN];
    if (len < 3 || host[0] != '[' || host[len - 1] != ']' || len - 2 >= sizeof(v6text))
        return false;
    memcpy(v6text, host + 1, len - 2);
    v6text[len - 2] = '\0';
    struct in6_addr v6;
    return inet_pton(AF_INET6, v6text, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

/* Checks url against the rules of jwks_new. On success stores a heap copy of its host in
 * *host (the caller frees it) and whether that host is loopback in *loopback. Returns
 * ERR_OK, ERR_INVALID or ERR_NOMEM. */
static int check_url(const char *url, char **host, bool *loopback)
{
    *host = NULL;
    *loopback = false;
    if (!url || strnlen(url, JWKS_URL_MAX + 1) > JWKS_URL_MAX)
        return ERR_INVALID;
    /* libcurl would guess a scheme for "example.com"; require it to be written. */
    if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
        return ERR_INVALID;
    CURLU *h = curl_url();
    if (!h)
        return ERR_NOMEM;
    char *scheme = NULL, *h_host = NULL, *user = NULL, *password = NULL;
    int rc = ERR_INVALID;
    if (curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(h, CURLUPART_HOST, &h_host, 0) == CURLUE_OK && h_host[0] != '\0' &&
        curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
        curl_url_get(h, CURLUPART_PASSWORD, &password, 0) == CURLUE_NO_PASSWORD) {
        *loopback = host_is_loopback(h_host);
        bool https = strcmp(scheme, "https") == 0;
        bool http = strcmp(scheme, "http") == 0;
        if (https || (http && *loopback)) {
            *host = strdup(h_host);
            rc = *host ? ERR_OK : ERR_NOMEM;
        }
    }
    curl_free(scheme);
    curl_free(h_host);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(h);
    return rc;
}

/* ---- life cycle ------------------------------------------------------------------------ */

/* Allocates an empty set with its locks. Returns ERR_OK or ERR_NOMEM; the caller owns *out
 * and frees it with jwks_free. */
static int jwks_alloc(struct jwks **out)
{
    struct jwks *k = calloc(1, sizeof(*k));
    if (!k)
        return ERR_NOMEM;
    /* Prefer the rare reload over the stream of verifiers, so a reload is never starved. */
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0) {
        free(k);
        return ERR_NOMEM;
    }
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&k->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        free(k);
        return ERR_NOMEM;
    }
    if (pthread_mutex_init(&k->fetch_lock, NULL) != 0) {
        pthread_rwlock_destroy(&k->lock);
        free(k);
        return ERR_NOMEM;
    }
    k->interval_ms = (int64_t)JWKS_REFETCH_MIN_INTERVAL_S * 1000;
    atomic_init(&k->fetch_gen, 0);
    atomic_init(&k->last_fetch_ok, false);
    atomic_init(&k->last_ok_ms, -1);
    *out = k;
    return ERR_OK;
}

int jwks_new_static(struct jwks **out)
{
    *out = NULL;
    return jwks_alloc(out);
}

int jwks_new(const char *url, struct jwks **out)
{
    *out = NULL;
    char *host = NULL;
    bool loopback = false;
    int rc = check_url(url, &host, &loopback);
    if (rc != ERR_OK)
        return rc;
    struct jwks *k = NULL;
    if ((rc = jwks_alloc(&k)) != ERR_OK) {
        free(host);
        return rc;
    }
    k->host = host;
    k->loopback = loopback;
    k->url = strdup(url);
    if (!k->url) {
        jwks_free(k);
        return ERR_NOMEM;
    }
    /* A failure is logged inside; the set starts empty and verify tries again later. */
    refetch(k, true);
    *out = k;
    return ERR_OK;
}

void jwks_free(struct jwks *k)
{
    if (!k)
        return;
    keys_release(k->keys, k->nkeys);
    pthread_mutex_destroy(&k->fetch_lock);
    pthread_rwlock_destroy(&k->lock);
    free(k->url);
    free(k->host);
    free(k);
}

size_t jwks_count(struct jwks *k)
{
    if (!k)
        return 0;
    pthread_rwlock_rdlock(&k->lock);
    size_t n = k->nkeys;
    pthread_rwlock_unlock(&k->lock);
    return n;
}

void jwks_set_refetch_interval_ms(struct jwks *k, int64_t ms)
{
    pthread_mutex_lock(&k->fetch_lock);
    k->interval_ms = ms < 0 ? 0 : ms;
    pthread_mutex_unlock(&k->fetch_lock);
}

/* ---- verifying ------------------------------------------------------------------------- */

enum lookup { LOOKUP_FOUND, LOOKUP_MISSING, LOOKUP_REFUSED };

/* Finds the key for a token of the given type and kid (NULL: the only key of that type).
 * LOOKUP_REFUSED when the kid names only keys of another type or when several keys fit;
 * LOOKUP_MISSING when none does. On LOOKUP_FOUND *out is a new reference the caller
 * releases with EVP_PKEY_free. */
static enum lookup lookup(struct jwks *k, enum jwk_type type, const char *kid, size_t kid_len,
                          EVP_PKEY **out)
{
    *out = NULL;
    enum lookup r = LOOKUP_MISSING;
    size_t matches = 0;
    const struct jwk *hit = NULL;
    pthread_rwlock_rdlock(&k->lock);
    for (size_t i = 0; i < k->nkeys; i++) {
        const struct jwk *key = &k->keys[i];
        if (kid) {
            if (!key->has_kid || key->kid_len != kid_len || memcmp(key->kid, kid, kid_len) != 0)
                continue;
            if (key->type != type) {
                r = LOOKUP_REFUSED;
                continue;
            }
        } else if (key->type != type) {
            continue;
        }
        matches++;
        hit = key;
    }
    if (matches == 1)
        r = EVP_PKEY_up_ref(hit->pkey) == 1 ? LOOKUP_FOUND : LOOKUP_REFUSED;
    else if (matches > 1)
        r = LOOKUP_REFUSED;
    if (r == LOOKUP_FOUND)
        *out = hit->pkey;
    pthread_rwlock_unlock(&k->lock);
    return r;
}

int jwks_verify(struct jwks *k, const char *alg, const char *kid, const unsigned char *input,
                size_t input_len, const unsigned char *sig, size_t sig_len)
{
    if (!k || !alg || !input || !sig || input_len == 0 || input_len > JWKS_INPUT_MAX)
        return ERR_AUTH;
    enum jwk_type type = jwk_alg_type(alg);
    if (type == JWK_NONE)
        return ERR_AUTH;
    size_t kid_len = 0;
    if (kid && (kid_len = strnlen(kid, JWKS_KID_MAX + 1)) > JWKS_KID_MAX)
        return ERR_AUTH;

    refresh_if_stale(k);
    EVP_PKEY *pkey = NULL;
    enum lookup r = LOOKUP_MISSING;
    for (int attempt = 0; attempt < JWKS_LOOKUP_ATTEMPTS; attempt++) {
        r = lookup(k, type, kid, kid_len, &pkey);
        if (r != LOOKUP_MISSING || attempt + 1 == JWKS_LOOKUP_ATTEMPTS || !refetch(k, true))
            break;
    }
    if (r == LOOKUP_REFUSED)
        return ERR_AUTH;
    if (r == LOOKUP_MISSING)
        return k->url && !atomic_load(&k->last_fetch_ok) ? ERR_UNAVAILABLE : ERR_AUTH;
    int rc = jwk_verify(pkey, type, input, input_len, sig, sig_len);
    EVP_PKEY_free(pkey);
    return rc;
}
