/* The metrics listener (see metricsd.h). */
#include "http/metricsd.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <microhttpd.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "handlers/metrics.h"

struct metricsd {
    struct MHD_Daemon *daemon;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
                              const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Serves GET/HEAD /metrics; bodies are ignored (the connection is closed after 404/405). */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    static int first;
    if (!*req_cls) { /* the head: answer on the next call (keeps keep-alive) */
        *req_cls = &first;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    static const char not_found[] = "{\"detail\":\"Not Found\"}";
    static const char not_allowed[] = "{\"detail\":\"Method Not Allowed\"}";
    if (strcmp(url, "/metrics") != 0)
        return answer(conn, 404, "application/json", not_found, sizeof(not_found) - 1,
                      MHD_RESPMEM_PERSISTENT);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer(conn, 405, "application/json", not_allowed, sizeof(not_allowed) - 1,
                      MHD_RESPMEM_PERSISTENT);
    struct dynbuf out;
    dyn_init_heap(&out, METRICS_TEXT_MAX);
    metrics_render(&out);
    size_t len = dyn_len(&out);
    char *text = dyn_take(&out);
    if (!text)
        return MHD_NO;
    /* MUST_FREE: libmicrohttpd frees the text with the response. */
    return answer(conn, 200, METRICS_CONTENT_TYPE, text, len, MHD_RESPMEM_MUST_FREE);
}

int metricsd_start(const char *host, int port, struct metricsd **out)
{
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port_text, &hints, &ai) != 0 || !ai) {
        log_error("metrics listener: cannot resolve HOST %s", host);
        return ERR_IO;
    }
    struct metricsd *m = calloc(1, sizeof(*m));
    if (!m) {
        freeaddrinfo(ai);
        return ERR_NOMEM;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_access, NULL,
                                 MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                                 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!m->daemon) {
        log_error("cannot start the metrics listener on %s:%d", host, port);
        free(m);
        return ERR_IO;
    }
    log_info("metrics on http://%s:%d/metrics", host, port);
    *out = m;
    return ERR_OK;
}

void metricsd_stop(struct metricsd *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->daemon);
    free(m);
}
