/* libcurl's global initialisation on first use (see libcurl.h). */
#include "core/libcurl.h"

#include <pthread.h>

#include <curl/curl.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool ran, ok;

static void init_once(void)
{
    ran = true;
    ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void libcurl_start(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!v || !(v->features & CURL_VERSION_THREADSAFE))
        libcurl_ready();
}

bool libcurl_ready(void)
{
    pthread_once(&once, init_once);
    return ok;
}

void libcurl_cleanup(void)
{
    if (ran && ok)
        curl_global_cleanup();
}
