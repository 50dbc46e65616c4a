/*
 * JSON Web Key Sets (see jwks.h). A set holds at most JWKS_MAX_KEYS parsed public keys as
 * OpenSSL EVP_PKEYs under a read-write lock; verify takes a reference to one key under the
 * read lock and checks the signature without holding it, so a reload never waits for
 * crypto. Fetches go through httpc (https, or http for a loopback host; no redirects; a
 * size cap on the body), one at a time and rate limited. A verify that misses a kid waits
 * for a fetch (bounded by its deadlines); a stale set is refreshed in the background, on the
 * I/O loop, so no request waits for that.
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
#include "core/url.h"
#include "core/util.h"
#include "io/httpc.h"

/* Longest JWKS URL accepted. */
#define JWKS_URL_MAX 2048
/* A verify looks a key up at most this often: once, and once after a refetch. */
#define JWKS_LOOKUP_ATTEMPTS 2

struct jwks {
    pthread_rwlock_t lock; /* guards keys and nkeys */
    struct jwk keys[JWKS_MAX_KEYS];
    size_t nkeys;

    /* Fetch state. httpc, url and host never change after creation. */
    struct httpc *httpc;
    char *url;                  /* NULL for a static set */
    char *host;                 /* for log lines; never the full URL */
    pthread_mutex_t fetch_lock; /* guards the five fields below */
    pthread_cond_t fetch_cv;    /* signalled when a fetch ends */
    bool fetching;              /* a fetch is under way (blocking or in the background) */
    bool attempted;
    int64_t last_attempt_ms;
    int64_t interval_ms;
    _Atomic int64_t max_age_ms;     /* JWKS_MAX_AGE_S, or a test's value */
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

/* The request of every fetch: the document, within its size and time limits. */
static struct httpc_request fetch_request(const struct jwks *k)
{
    static const char *const headers[] = {HTTPC_USER_AGENT, "Accept: application/json"};
    return (struct httpc_request){
        .url = k->url,
        .headers = headers,
        .n_headers = ARRAY_LEN(headers),
        .connect_timeout_ms = JWKS_FETCH_CONNECT_TIMEOUT_S * 1000,
        .total_timeout_ms = JWKS_FETCH_TIMEOUT_S * 1000,
        .max_body = JWKS_DOC_MAX,
    };
}

/* Logs a failed fetch at WARNING with the host and a reason; never the URL or a token. */
static void log_fetch_failure(const struct jwks *k, const char *reason, long status)
{
    struct log_field f[] = {LF_S("host", k->host), LF_S("reason", reason), LF_I("status", status)};
    log_fields(LOG_WARNING, "jwks fetch failed", f, ARRAY_LEN(f));
}

/* Loads the outcome of a fetch: err is the transfer's, status and body the response's.
 * Returns ERR_OK, ERR_UNAVAILABLE (transfer failed or status not 200), or the error of
 * jwks_load_json. Failures are logged. */
static int load_fetched(struct jwks *k, int err, int status, const char *body, size_t len)
{
    int rc = ERR_UNAVAILABLE;
    if (err == ERR_TOOBIG)
        log_fetch_failure(k, "document too large", status);
    else if (err != ERR_OK)
        log_fetch_failure(k, err_str(err), status);
    else if (status != 200)
        log_fetch_failure(k, "unexpected HTTP status", status);
    else if ((rc = jwks_load_json(k, body, len)) != ERR_OK)
        log_fetch_failure(k, rc == ERR_TOOBIG ? "too many keys" : "not a JWKS with a usable key",
                          status);
    return rc;
}

/* Records the end of a fetch that started at start_ms and wakes its waiters. */
static void fetch_ended(struct jwks *k, int rc, int64_t start_ms)
{
    atomic_store(&k->last_fetch_ok, rc == ERR_OK);
    if (rc == ERR_OK)
        atomic_store(&k->last_ok_ms, start_ms);
    pthread_mutex_lock(&k->fetch_lock);
    k->fetching = false;
    atomic_fetch_add(&k->fetch_gen, 1);
    pthread_cond_broadcast(&k->fetch_cv);
    pthread_mutex_unlock(&k->fetch_lock);
}

/* True when a new fetch may start now. Caller holds fetch_lock. */
static bool fetch_due(const struct jwks *k, int64_t now)
{
    int64_t gap = k->interval_ms;
    if (jwks_count((struct jwks *)(uintptr_t)k) == 0 && gap > JWKS_REFETCH_EMPTY_INTERVAL_S * 1000)
        gap = JWKS_REFETCH_EMPTY_INTERVAL_S * 1000;
    return !k->fetching && (!k->attempted || now - k->last_attempt_ms >= gap);
}

/* Fetches the set again and waits for it, unless a fetch ran within the refetch interval;
 * a fetch already under way is waited for instead of starting another. Returns true when a
 * fetch ended while this call was in progress, so a lookup is worth repeating. */
static bool refetch(struct jwks *k)
{
    if (!k->url)
        return false;
    uint_fast64_t gen = atomic_load(&k->fetch_gen);
    pthread_mutex_lock(&k->fetch_lock);
    while (k->fetching) /* ends: every fetch ends within its deadlines */
        pthread_cond_wait(&k->fetch_cv, &k->fetch_lock);
    int64_t now = now_mono_ms();
    if (atomic_load(&k->fetch_gen) != gen) {
        pthread_mutex_unlock(&k->fetch_lock);
        return true;
    }
    if (!fetch_due(k, now)) {
        pthread_mutex_unlock(&k->fetch_lock);
        return false;
    }
    k->fetching = true;
    k->attempted = true;
    k->last_attempt_ms = now;
    pthread_mutex_unlock(&k->fetch_lock);
    struct httpc_request rq = fetch_request(k);
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    int err = httpc_fetch(k->httpc, &rq, &status, &body, &len);
    int rc = load_fetched(k, err, status, body, len);
    free(body);
    fetch_ended(k, rc, now);
    return true;
}

struct bg_fetch {
    struct jwks *k;
    int64_t start_ms;
};

/* on_done of a background refresh (I/O loop thread). */
static void bg_done(void *ctx, const struct httpc_result *res)
{
    struct bg_fetch *f = ctx;
    int rc = load_fetched(f->k, res->err, res->status, res->body, res->body_len);
    fetch_ended(f->k, rc, f->start_ms);
    free(f);
}

/* Starts a background refetch of a set whose last good fetch is older than JWKS_MAX_AGE_S
 * (or that never had one), unless a fetch is under way or ran within the interval. */
static void refresh_if_stale(struct jwks *k)
{
    if (!k->url)
        return;
    int64_t ok_ms = atomic_load(&k->last_ok_ms);
    int64_t now = now_mono_ms();
    if (ok_ms >= 0 && now - ok_ms <= atomic_load(&k->max_age_ms))
        return;
    if (pthread_mutex_trylock(&k->fetch_lock) != 0)
        return;
    bool start = fetch_due(k, now);
    if (start) {
        k->fetching = true;
        k->attempted = true;
        k->last_attempt_ms = now;
    }
    pthread_mutex_unlock(&k->fetch_lock);
    if (!start)
        return;
    struct bg_fetch *f = malloc(sizeof(*f));
    struct httpc_request rq = fetch_request(k);
    rq.on_done = bg_done;
    rq.ctx = f;
    if (f) {
        f->k = k;
        f->start_ms = now;
    }
    if (!f || httpc_request(k->httpc, &rq, NULL) != ERR_OK) {
        free(f);
        log_fetch_failure(k, "cannot start a fetch", 0);
        fetch_ended(k, ERR_UNAVAILABLE, now);
    }
}

/* ---- URL rules ------------------------------------------------------------------------- */

/* Checks url against the rules of jwks_new. On success stores a heap copy of its host in
 * *host (the caller frees it). Returns ERR_OK, ERR_INVALID or ERR_NOMEM. */
static int check_url(const char *url, char **host)
{
    *host = NULL;
    bool loopback = false;
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
        loopback = url_host_is_loopback(h_host);
        bool https = strcmp(scheme, "https") == 0;
        bool http = strcmp(scheme, "http") == 0;
        if (https || (http && loopback)) {
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
    pthread_cond_init(&k->fetch_cv, NULL);
    k->interval_ms = (int64_t)JWKS_REFETCH_MIN_INTERVAL_S * 1000;
    atomic_init(&k->max_age_ms, (int64_t)JWKS_MAX_AGE_S * 1000);
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

int jwks_new(struct httpc *httpc, const char *url, struct jwks **out)
{
    *out = NULL;
    char *host = NULL;
    int rc = check_url(url, &host);
    if (rc != ERR_OK)
        return rc;
    struct jwks *k = NULL;
    if ((rc = jwks_alloc(&k)) != ERR_OK) {
        free(host);
        return rc;
    }
    k->host = host;
    k->httpc = httpc;
    k->url = strdup(url);
    if (!k->url) {
        jwks_free(k);
        return ERR_NOMEM;
    }
    /* In the background: a failure is logged there, and verify tries again later. */
    refresh_if_stale(k);
    *out = k;
    return ERR_OK;
}

void jwks_settle(struct jwks *k)
{
    pthread_mutex_lock(&k->fetch_lock);
    while (k->fetching) /* ends: every fetch ends within its deadlines */
        pthread_cond_wait(&k->fetch_cv, &k->fetch_lock);
    pthread_mutex_unlock(&k->fetch_lock);
}

void jwks_free(struct jwks *k)
{
    if (!k)
        return;
    /* A background refresh still running holds k: wait for its end (its deadlines, or the
     * loop's stop, bound it). */
    pthread_mutex_lock(&k->fetch_lock);
    while (k->fetching)
        pthread_cond_wait(&k->fetch_cv, &k->fetch_lock);
    pthread_mutex_unlock(&k->fetch_lock);
    keys_release(k->keys, k->nkeys);
    pthread_cond_destroy(&k->fetch_cv);
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

void jwks_set_max_age_ms(struct jwks *k, int64_t ms)
{
    atomic_store(&k->max_age_ms, ms < 0 ? 0 : ms);
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
        if (r != LOOKUP_MISSING || attempt + 1 == JWKS_LOOKUP_ATTEMPTS || !refetch(k))
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
