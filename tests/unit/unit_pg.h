/*
 * A throw-away PostgreSQL cluster for the unit tests that need a real server, started with
 * scripts/pg-test-server (so the test program runs from the repository root, as `make unit`
 * does). A program starts one and destroys it at the end; its URL names database "unit".
 */
#ifndef TODO_TESTS_UNIT_PG_H
#define TODO_TESTS_UNIT_PG_H

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct unit_pg {
    char dir[64];
    char url[320]; /* room for any line the script prints as the port */
};

/* Runs a pg-test-server command; returns its last output line (static) or NULL. */
static inline const char *unit_pg_script(const char *args)
{
    static char last[256];
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "scripts/pg-test-server %s 2>&1", args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char line[256];
    last[0] = '\0';
    while (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(last, sizeof(last), "%s", line);
    }
    if (pclose(p) != 0) {
        print_error("pg-test-server %s failed: %s\n", args, last);
        return NULL;
    }
    return last;
}

/* Starts a cluster in a new /tmp directory and creates database "unit"; 0 or -1. */
static inline int unit_pg_start(struct unit_pg *pg)
{
    if (access("scripts/pg-test-server", X_OK) != 0) {
        print_error("scripts/pg-test-server not found: run from the repository root\n");
        return -1;
    }
    snprintf(pg->dir, sizeof(pg->dir), "/tmp/todo-unit-pg-XXXXXX");
    if (!mkdtemp(pg->dir))
        return -1;
    char args[128];
    snprintf(args, sizeof(args), "start %s", pg->dir);
    const char *port = unit_pg_script(args);
    if (!port)
        return -1;
    snprintf(pg->url, sizeof(pg->url), "postgresql://todo@127.0.0.1:%s/unit", port);
    snprintf(args, sizeof(args), "createdb %s unit", pg->dir);
    return unit_pg_script(args) ? 0 : -1;
}

/* Stops the cluster and removes its directory; 0 or -1. */
static inline int unit_pg_stop(struct unit_pg *pg)
{
    char args[128];
    snprintf(args, sizeof(args), "destroy %s", pg->dir);
    return unit_pg_script(args) ? 0 : -1;
}

#endif
