/*
 * Host name lookups with a deadline (resolve.h): one detached thread per lookup, sharing a
 * small reference-counted state with the waiter. Whichever of the two drops the last
 * reference frees it, so a waiter that gives up returns at once and the thread, still inside
 * getaddrinfo, finishes and cleans up alone.
 */
#include "core/resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/err.h"
#include "core/util.h"

/* One lookup, held by the waiter and by its thread (refs, under mu). */
struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    int gai;              /* getaddrinfo's result, once done */
    struct addrinfo *res; /* its list, freed with the lookup */
    char host[RESOLVE_HOST_MAX + 1];
};

/* Drops one reference to l (mu not held); the last one frees it. */
static void lookup_unref(struct lookup *l)
{
    pthread_mutex_lock(&l->mu);
    bool last = --l->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

/* The lookup's thread: getaddrinfo as libpq calls it, then the answer to the waiter. */
static void *lookup_thread(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(l->host, NULL, &hints, &res);
    pthread_mutex_lock(&l->mu);
    l->gai = gai;
    l->res = gai == 0 ? res : NULL;
    l->done = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    lookup_unref(l);
    return NULL;
}

/* Copies the numeric addresses of res into out, without duplicates. */
static void copy_addrs(const struct addrinfo *res, struct resolve_result *out)
{
    out->n = 0;
    for (const struct addrinfo *ai = res; ai && out->n < RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
        char buf[INET6_ADDRSTRLEN];
        const void *src;
        if (ai->ai_family == AF_INET)
            src = &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
        else if (ai->ai_family == AF_INET6)
            src = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
        else
            continue;
        if (!inet_ntop(ai->ai_family, src, buf, sizeof(buf)))
            continue;
        bool seen = false;
        for (int i = 0; i < out->n && !seen; i++)
            seen = strcmp(out->addr[i], buf) == 0;
        if (!seen)
            memcpy(out->addr[out->n++], buf, sizeof(buf));
    }
}

bool resolve_is_numeric(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int resolve_host(const char *host, int64_t deadline_ms, resolve_stop_fn stop, void *arg,
                 struct resolve_result *out, int *gai_err)
{
    out->n = 0;
    if (gai_err)
        *gai_err = 0;
    size_t len = strlen(host);
    if (len == 0 || len > RESOLVE_HOST_MAX)
        return ERR_INVALID;
    struct lookup *l = calloc(1, sizeof(*l));
    if (!l)
        return ERR_NOMEM;
    memcpy(l->host, host, len + 1);
    l->refs = 2; /* the waiter's and the thread's */
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    pthread_attr_t attr;
    pthread_t t;
    bool started = pthread_attr_init(&attr) == 0;
    if (started) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&t, &attr, lookup_thread, l) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        l->refs = 1;
        lookup_unref(l);
        return ERR_NOMEM;
    }
    int rc = ERR_TIMEOUT;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        if (l->done) {
            if (l->gai == 0) {
                copy_addrs(l->res, out);
                rc = out->n > 0 ? ERR_OK : ERR_NOTFOUND;
            } else if (l->gai == EAI_NONAME
#ifdef EAI_NODATA
                       || l->gai == EAI_NODATA
#endif
            ) {
                rc = ERR_NOTFOUND;
            } else {
                rc = ERR_UNAVAILABLE;
                if (gai_err)
                    *gai_err = l->gai;
            }
            break;
        }
        int64_t left = deadline_ms - now_mono_ms();
        if (left <= 0)
            break;
        if (stop) {
            pthread_mutex_unlock(&l->mu);
            bool give_up = stop(arg);
            pthread_mutex_lock(&l->mu);
            if (give_up && !l->done)
                break;
            if (left > RESOLVE_POLL_MS)
                left = RESOLVE_POLL_MS;
        }
        if (l->done)
            continue;
        struct timespec ts;
        timespec_after_ms(&ts, left);
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    pthread_mutex_unlock(&l->mu);
    lookup_unref(l);
    return rc;
}
