/*
 * The route tables of each role. To add an endpoint: write the handler in the module of
 * its subject under handlers/, then list it here in the tables of the roles that serve it.
 */
#ifndef TODO_ROUTES_H
#define TODO_ROUTES_H

#include <stddef.h>

#include "core/config.h"
#include "http/router.h"

/* The routes served by a process of the given role (static storage). */
void routes_for_role(enum role role, const struct route **out, size_t *n);

#endif
