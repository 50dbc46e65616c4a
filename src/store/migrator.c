/* Background migration retries (see migrator.h). */
#include "store/migrator.h"

#include <stdlib.h>

#include "core/bgthread.h"
#include "core/err.h"
#include "core/log.h"

struct migrator {
    struct store *store;
    atomic_bool *ready;
    struct bgthread bg;
};

static void *run(void *arg)
{
    struct migrator *m = arg;
    int delay = MIGRATOR_FIRST_DELAY_MS;
    while (bgthread_sleep(&m->bg, delay)) {
        int rc = store_migrate(m->store);
        if (rc == ERR_OK) {
            atomic_store(m->ready, true);
            log_info("database reachable: schema is current, ready");
            break;
        }
        if (rc != ERR_UNAVAILABLE)
            log_error("migration failed (%s); retrying", err_str(rc));
        delay = delay * 2 > MIGRATOR_MAX_DELAY_MS ? MIGRATOR_MAX_DELAY_MS : delay * 2;
    }
    return NULL;
}

int migrator_start(struct store *s, atomic_bool *ready, struct migrator **out)
{
    struct migrator *m = calloc(1, sizeof(*m));
    if (!m)
        return ERR_NOMEM;
    m->store = s;
    m->ready = ready;
    if (bgthread_start(&m->bg, run, m) != ERR_OK) {
        free(m);
        return ERR_NOMEM;
    }
    *out = m;
    return ERR_OK;
}

void migrator_stop(struct migrator *m)
{
    if (!m)
        return;
    bgthread_stop(&m->bg);
    free(m);
}
