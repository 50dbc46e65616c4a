/* Argon2id hashing behind a counting semaphore (see password.h). */
#include "auth/password.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

static sem_t slots;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static char dummy_hash[PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
/* The cost of new hashes: written once at start (password_set_memory), then only read. */
static unsigned long long hash_ops = 5;
static size_t hash_mem = (size_t)PASSWORD_MEMORY_MIB_MIN << 20;

/* OWASP's Argon2id pairs of equal defence: memory (MiB) and passes. */
static const struct {
    int mib;
    unsigned long long ops;
} owasp_pairs[] = {{46, 1}, {19, 2}, {12, 3}, {9, 4}, {PASSWORD_MEMORY_MIB_MIN, 5}};

void password_set_memory(int mib)
{
    if (mib < PASSWORD_MEMORY_MIB_MIN)
        mib = PASSWORD_MEMORY_MIB_MIN;
    /* The passes of the largest pair whose memory this reaches. */
    for (size_t i = 0; i < sizeof(owasp_pairs) / sizeof(owasp_pairs[0]); i++) {
        if (mib >= owasp_pairs[i].mib) {
            hash_ops = owasp_pairs[i].ops;
            break;
        }
    }
    hash_mem = (size_t)mib << 20;
}

static void slots_init(void)
{
    sem_init(&slots, 0, PASSWORD_MAX_CONCURRENT);
}

static int slot_take(void)
{
    pthread_once(&slots_once, slots_init);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += PASSWORD_WAIT_S;
    while (sem_timedwait(&slots, &ts) != 0) {
        if (errno != EINTR)
            return ERR_UNAVAILABLE;
    }
    return ERR_OK;
}

static void slot_give(void)
{
    sem_post(&slots);
}

int password_hash(const char *pw, char out[PASSWORD_HASH_MAX])
{
    if (slot_take() != ERR_OK)
        return ERR_UNAVAILABLE;
    int rc = crypto_pwhash_str_alg(out, pw, strlen(pw), hash_ops, hash_mem,
                                   crypto_pwhash_ALG_ARGON2ID13);
    slot_give();
    return rc == 0 ? ERR_OK : ERR_NOMEM;
}

/* Makes the dummy hash, in a slot like every hash (its memory counts the same). Without a
 * slot in time the dummy is empty: that verification fails at once, as it must anyway. */
static void dummy_init(void)
{
    /* A hash of a random password: verifying against it always fails. */
    unsigned char rnd[16];
    char pw[33];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
    dummy_hash[0] = '\0';
    if (slot_take() != ERR_OK)
        return;
    if (crypto_pwhash_str_alg(dummy_hash, pw, strlen(pw), hash_ops, hash_mem,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        dummy_hash[0] = '\0';
    slot_give();
}

int password_verify(const char *hash, const char *pw)
{
    if (!hash) {
        pthread_once(&dummy_once, dummy_init);
        hash = dummy_hash;
    }
    if (slot_take() != ERR_OK)
        return ERR_UNAVAILABLE;
    int rc = hash[0] ? crypto_pwhash_str_verify(hash, pw, strlen(pw)) : -1;
    slot_give();
    return rc == 0 && hash != dummy_hash ? ERR_OK : ERR_AUTH;
}

bool password_needs_rehash(const char *hash)
{
    return !hash || crypto_pwhash_str_needs_rehash(hash, hash_ops, hash_mem) != 0;
}
