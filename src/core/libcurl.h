/*
 * libcurl's global initialisation, on first use. curl_global_init initialises OpenSSL
 * (libcurl's TLS backend: its provider and error tables, about 2 MB of library pages), which
 * a process that never makes an outbound transfer does not need: the api role on SQLite with
 * the offline assistant and no BETTER_AUTH_URL never does. So it runs once, from whichever
 * thread first makes a handle: every curl_easy_init and curl_multi_init in todo is preceded
 * by libcurl_ready (pthread_once: other threads wait for it to finish).
 *
 * libcurl's string functions (the URL API, curl_easy_escape and _unescape, curl_slist_*,
 * curl_free, curl_version_info) are called without it: they use no state that
 * curl_global_init sets up, only its memory functions, which lib/easy.c initialises
 * statically for exactly this ("if a memory-using function is used before
 * curl_global_init() is called, we need to have these pointers set already"). Configuration
 * is validated with the URL API at start, before any transfer. (curl_global_init stores the
 * same default pointers again; a string function running meanwhile reads the same values.)
 *
 * curl_global_init may run while other threads run only where libcurl says its init is
 * thread-safe (7.84 and later: CURL_VERSION_THREADSAFE in curl_version_info). libcurl_start,
 * called by main before any thread exists, initialises at once where it is not.
 */
#ifndef TODO_LIBCURL_H
#define TODO_LIBCURL_H

#include <stdbool.h>

/* Runs curl_global_init(CURL_GLOBAL_DEFAULT) the first time; true when it succeeded (then
 * and on every later call). Any thread. */
bool libcurl_ready(void);

/* Call once from main before any thread starts: initialises libcurl there and then unless
 * its initialisation is thread-safe (see above). */
void libcurl_start(void);

/* curl_global_cleanup when libcurl_ready ran; once, at exit, after every thread that used
 * libcurl has ended. */
void libcurl_cleanup(void);

#endif
