/*
 * What the fuzz targets of fuzz/ share: a process-wide app on an in-memory SQLite store
 * (role all, every route), two users with valid tokens, and a small reader that takes the
 * fuzzer's bytes apart. Each target is one file with LLVMFuzzerTestOneInput; mk/fuzz.mk
 * builds them with clang's -fsanitize=fuzzer,address,undefined.
 */
#ifndef TODO_FUZZ_H
#define TODO_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "core/arena.h"
#include "http/request.h"

/* The users the fuzz app knows: FUZZ_UID owns the data, FUZZ_OTHER_UID is somebody else. */
#define FUZZ_UID       "0b7c2a4e-1f2d-4c3b-9a8e-000000000001"
#define FUZZ_OTHER_UID "0b7c2a4e-1f2d-4c3b-9a8e-000000000002"

struct fuzz_app {
    struct app app;
    char token[1024];       /* FUZZ_UID's HS256 token */
    char other_token[1024]; /* FUZZ_OTHER_UID's */
    char bearer[1100];      /* "Bearer <token>" */
    char other_bearer[1100];
};

/* The app, started on the first call (exits the process when it cannot start). FUZZ_UID
 * has tasks 1-3 and FUZZ_OTHER_UID task 4. */
struct fuzz_app *fuzz_app(void);

/* Starts, on the first call, the real HTTP server (libmicrohttpd) of the fuzz app on a
 * loopback port, and returns the port: for what needs a connection (multipart uploads go
 * through libmicrohttpd's post processor). */
int fuzz_server(void);

/* Every `every` calls: empties the users' data, so that a long run's database stays small,
 * and makes tasks 1-4 again. */
void fuzz_app_tidy(unsigned every);

/* Serves one in-memory request through http_dispatch_local and checks what every answer
 * must be: a status in 100..599, a body with a content type, a JSON body that parses. Frees
 * everything (the arena is the caller's: it is freed here too). Aborts on a broken answer. */
void fuzz_serve(struct request *req);

/* A request in a fresh arena: method, path (copied) and the given head and body. */
struct request *fuzz_request(const char *method, const char *path, const struct req_local *local,
                             const char *body, size_t body_len);

/* Reads the fuzzer's input from the front. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

/* One byte (0 once the input is used up). */
uint8_t fuzz_byte(struct fuzz_in *in);

/* The bytes up to the next '\n' (or the end) as a NUL-terminated copy in the arena. */
char *fuzz_line(struct fuzz_in *in, struct arena *a);

/* What is left, NUL-terminated, in the arena; *len its length. */
char *fuzz_rest(struct fuzz_in *in, struct arena *a, size_t *len);

#endif
