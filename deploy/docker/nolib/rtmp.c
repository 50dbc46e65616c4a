/*
 * Stand-in for librtmp.so.1 in the runtime image: Debian's libcurl is linked against it
 * for rtmp:// URLs, and it pulls in GnuTLS. todo restricts libcurl to http, https, smtp
 * and smtps, so nothing here is ever reached; if it were, RTMP_Alloc's NULL makes libcurl
 * fail the transfer (out of memory) and every other function reports failure (0, FALSE).
 */
#include <stddef.h>

#define FAIL(name)                                                                         \
    int name(void);                                                                        \
    int name(void) { return 0; }

void *RTMP_Alloc(void);
void *RTMP_Alloc(void) { return NULL; }
FAIL(RTMP_Init)
FAIL(RTMP_Free)
FAIL(RTMP_Close)
FAIL(RTMP_SetBufferMS)
FAIL(RTMP_SetupURL)
FAIL(RTMP_Connect1)
FAIL(RTMP_ConnectStream)
FAIL(RTMP_Read)
FAIL(RTMP_Write)
