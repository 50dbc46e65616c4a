/* Connections per client address (see peerlimit.h). */
#include "http/peerlimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/err.h"

/* An address as a key: IPv6, or IPv4 mapped into it (::ffff:a.b.c.d). */
struct peer_key {
    unsigned char b[16];
};

struct peer_entry {
    struct peer_key key;
    uint32_t count; /* 0: the entry is free */
};

struct peerlimit {
    pthread_mutex_t mu; /* the table */
    uint32_t limit;
    size_t mask; /* the table's size - 1 (a power of two) */
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    size_t n_trusted;
    struct peer_key trusted[CONFIG_MAX_TRUSTED_PROXIES];
    struct peer_entry table[]; /* mask + 1 of them, at most half used */
};

static bool key_of(const struct sockaddr *sa, struct peer_key *k)
{
    memset(k, 0, sizeof(*k));
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET6) {
        memcpy(k->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return true;
    }
    if (sa->sa_family == AF_INET) {
        k->b[10] = k->b[11] = 0xff;
        memcpy(k->b + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return true;
    }
    return false; /* not an IP peer (none here): not counted */
}

static bool key_of_text(const char *ip, struct peer_key *k)
{
    memset(k, 0, sizeof(*k));
    unsigned char v4[4];
    if (inet_pton(AF_INET, ip, v4) == 1) {
        k->b[10] = k->b[11] = 0xff;
        memcpy(k->b + 12, v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, ip, k->b) == 1;
}

static bool trusted(const struct peerlimit *pl, const struct peer_key *k)
{
    for (size_t i = 0; i < pl->n_trusted; i++)
        if (memcmp(pl->trusted[i].b, k->b, sizeof(k->b)) == 0)
            return true;
    return false;
}

static size_t home_of(const struct peerlimit *pl, const struct peer_key *k)
{
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, k->b, sizeof(k->b), pl->hash_key);
    return (size_t)h & pl->mask;
}

/* The entry of k, or the free entry where it would go; NULL when the table is full (it
 * cannot be: it has twice as many entries as there can be connections). Under pl->mu. */
static struct peer_entry *find(struct peerlimit *pl, const struct peer_key *k)
{
    size_t i = home_of(pl, k);
    for (size_t probes = 0; probes <= pl->mask; probes++, i = (i + 1) & pl->mask) {
        struct peer_entry *e = &pl->table[i];
        if (e->count == 0 || memcmp(e->key.b, k->b, sizeof(k->b)) == 0)
            return e;
    }
    return NULL;
}

/* Frees the entry at index i, moving later entries of its probe run back so that every
 * entry stays reachable from its home without tombstones. Under pl->mu. */
static void remove_at(struct peerlimit *pl, size_t i)
{
    size_t j = i;
    for (size_t probes = 0; probes < pl->mask; probes++) {
        j = (j + 1) & pl->mask;
        struct peer_entry *e = &pl->table[j];
        if (e->count == 0)
            break;
        size_t home = home_of(pl, &e->key);
        /* e may fill the hole at i when its home is not cyclically within (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            pl->table[i] = *e;
            i = j;
        }
    }
    pl->table[i].count = 0;
}

int peerlimit_new(const struct config *cfg, unsigned max_conns, struct peerlimit **out)
{
    *out = NULL;
    if (cfg->max_conns_per_ip <= 0 || cfg->trust_any_proxy)
        return ERR_OK;
    size_t size = 16;
    while (size < 2 * (size_t)max_conns)
        size *= 2;
    struct peerlimit *pl = calloc(1, sizeof(*pl) + size * sizeof(struct peer_entry));
    if (!pl)
        return ERR_NOMEM;
    pthread_mutex_init(&pl->mu, NULL);
    pl->limit = (uint32_t)cfg->max_conns_per_ip;
    pl->mask = size - 1;
    crypto_shorthash_keygen(pl->hash_key);
    for (size_t i = 0; i < cfg->n_trusted_proxies && i < CONFIG_MAX_TRUSTED_PROXIES; i++)
        if (key_of_text(cfg->trusted_proxies[i], &pl->trusted[pl->n_trusted]))
            pl->n_trusted++;
    *out = pl;
    return ERR_OK;
}

void peerlimit_free(struct peerlimit *pl)
{
    if (!pl)
        return;
    pthread_mutex_destroy(&pl->mu);
    free(pl);
}

bool peerlimit_admit(struct peerlimit *pl, const struct sockaddr *sa)
{
    struct peer_key k;
    if (!pl || !key_of(sa, &k) || trusted(pl, &k))
        return true;
    pthread_mutex_lock(&pl->mu);
    struct peer_entry *e = find(pl, &k);
    bool ok = e && e->count < pl->limit;
    pthread_mutex_unlock(&pl->mu);
    return ok;
}

bool peerlimit_opened(struct peerlimit *pl, const struct sockaddr *sa)
{
    struct peer_key k;
    if (!pl || !key_of(sa, &k) || trusted(pl, &k))
        return true;
    pthread_mutex_lock(&pl->mu);
    struct peer_entry *e = find(pl, &k);
    bool ok = false;
    if (e) {
        if (e->count == 0)
            e->key = k;
        e->count++;
        ok = e->count <= pl->limit;
    }
    pthread_mutex_unlock(&pl->mu);
    return ok;
}

void peerlimit_closed(struct peerlimit *pl, const struct sockaddr *sa)
{
    struct peer_key k;
    if (!pl || !key_of(sa, &k) || trusted(pl, &k))
        return;
    pthread_mutex_lock(&pl->mu);
    struct peer_entry *e = find(pl, &k);
    if (e && e->count > 0 && --e->count == 0)
        remove_at(pl, (size_t)(e - pl->table));
    pthread_mutex_unlock(&pl->mu);
}
