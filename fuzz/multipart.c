/*
 * Fuzz target: multipart uploads (POST /api/{user_id}/tasks/{task_id}/attachments), which
 * only a real connection can carry: libmicrohttpd's post processor reads the request's own
 * head. The input is
 *   a line    the Content-Type's parameters after "multipart/form-data" ("; boundary=x");
 *   the rest  the body,
 * sent with the fuzz user's token to task 1 over one keep-alive loopback connection to the
 * fuzz app's server (reopened when the server closes it). The answer must be complete, with
 * a status below 500 (503 aside: a busy store).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

#define HEAD_MAX   2048
#define READ_MAX   (256 * 1024)
#define IO_WAIT_MS 5000

static int fd = -1;

static void drop(void)
{
    if (fd >= 0) {
        struct linger lg = {1, 0}; /* reset: no TIME_WAIT left behind */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fd);
    }
    fd = -1;
}

static bool connect_server(int port)
{
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1; /* no Nagle wait between the head and the body */
    if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        drop();
        return false;
    }
    return true;
}

static bool send_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one response; returns its status, 0 when the connection ended before a whole one. */
static int read_response(bool *closes)
{
    static char buf[READ_MAX + 1];
    size_t have = 0;
    for (;;) {
        char *end = NULL;
        buf[have] = '\0';
        if ((end = strstr(buf, "\r\n\r\n"))) {
            int status = 0;
            if (strncmp(buf, "HTTP/1.1 ", 9) == 0)
                status = (int)strtol(buf + 9, NULL, 10);
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t body = cl && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
            *closes = strcasestr(buf, "\r\nConnection: close") != NULL;
            if (have >= (size_t)(end + 4 - buf) + body)
                return status;
        }
        if (have >= READ_MAX)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, IO_WAIT_MS) <= 0)
            return 0;
        ssize_t r = recv(fd, buf + have, READ_MAX - have, 0);
        if (r <= 0)
            return 0;
        have += (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_app *f = fuzz_app();
    int port = fuzz_server();
    if (size > 64 * 1024)
        return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - data) : 0;
    if (plen > 512 || memchr(data, '\r', plen) || memchr(data, '\0', plen))
        return 0; /* a head line must stay one line */
    const char *body = nl ? (const char *)nl + 1 : (const char *)data;
    size_t blen = size - (size_t)(body - (const char *)data);
    char head[HEAD_MAX];
    int n = snprintf(head, sizeof(head),
                     "POST /api/me/tasks/1/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: %s\r\nContent-Type: multipart/form-data%.*s\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     f->bearer, (int)plen, (const char *)data, blen);
    if (n <= 0 || (size_t)n >= sizeof(head))
        return 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (fd < 0 && !connect_server(port)) {
            fprintf(stderr, "fuzz: cannot connect to the server: %s\n", strerror(errno));
            abort();
        }
        bool closes = false;
        int status = 0;
        if (send_all(head, (size_t)n) && send_all(body, blen))
            status = read_response(&closes);
        if (!status) { /* the connection was closed under us (keep-alive ended): again */
            drop();
            continue;
        }
        if (getenv("FUZZ_TRACE"))
            fprintf(stderr, "fuzz: upload -> %d\n", status);
        if (status < 100 || (status >= 500 && status != 503)) {
            fprintf(stderr, "fuzz: an upload answered %d\n", status);
            abort();
        }
        if (closes)
            drop();
        return 0;
    }
    fprintf(stderr, "fuzz: no answer to an upload\n");
    abort();
}
