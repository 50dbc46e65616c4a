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
    int rc = crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    slot_give();
    return rc == 0 ? ERR_OK : ERR_NOMEM;
}

static void dummy_init(void)
{
    /* A hash of a random password: verifying against it always fails. */
    unsigned char rnd[16];
    char pw[33];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
    if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy_hash[0] = '\0';
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
