/*
 * Stand-in for libgnutls.so.30 in the runtime image. Debian's libmicrohttpd is built with
 * HTTPS support and so needs GnuTLS (with p11-kit, nettle, GMP, libtasn1: about 4.5 MB),
 * but todo serves plain HTTP behind its ingress or proxy and never passes MHD_USE_TLS.
 * libmicrohttpd's constructor calls gnutls_global_init, which succeeds here; everything
 * else (only reached when a daemon is started with TLS) reports
 * GNUTLS_E_UNIMPLEMENTED_FEATURE or NULL, so such a daemon would fail to start.
 */
#include <stdlib.h>

#define UNIMPLEMENTED (-1250) /* GNUTLS_E_UNIMPLEMENTED_FEATURE */

#define STATUS(name)                                                                       \
    int name(void);                                                                        \
    int name(void) { return UNIMPLEMENTED; }
#define ZERO(name)                                                                         \
    long name(void);                                                                       \
    long name(void) { return 0; }
#define NOTHING(name)                                                                      \
    void name(void);                                                                       \
    void name(void) {}

/* GnuTLS exports its allocator as a variable; libmicrohttpd frees with it. */
void *(*gnutls_malloc)(size_t) = malloc;

int gnutls_global_init(void);
int gnutls_global_init(void) { return 0; }
NOTHING(gnutls_global_deinit)

const char *gnutls_strerror(int err);
const char *gnutls_strerror(int err)
{
    (void)err;
    return "TLS is not available in this image";
}

STATUS(gnutls_init)
STATUS(gnutls_priority_init)
STATUS(gnutls_priority_set)
STATUS(gnutls_credentials_set)
STATUS(gnutls_handshake)
STATUS(gnutls_bye)
STATUS(gnutls_record_send)
STATUS(gnutls_record_recv)
STATUS(gnutls_alpn_set_protocols)
STATUS(gnutls_dh_params_init)
STATUS(gnutls_dh_params_import_pkcs3)
STATUS(gnutls_certificate_allocate_credentials)
STATUS(gnutls_certificate_set_x509_trust_mem)
STATUS(gnutls_certificate_set_x509_key_mem)
STATUS(gnutls_certificate_set_x509_key_mem2)
STATUS(gnutls_certificate_set_dh_params)
STATUS(gnutls_psk_allocate_server_credentials)
ZERO(gnutls_record_get_direction)
ZERO(gnutls_record_check_pending)
ZERO(gnutls_protocol_get_version)
ZERO(gnutls_cipher_get)
ZERO(gnutls_session_get_ptr)
NOTHING(gnutls_session_set_ptr)
NOTHING(gnutls_transport_set_int2)
NOTHING(gnutls_priority_deinit)
NOTHING(gnutls_deinit)
NOTHING(gnutls_dh_params_deinit)
NOTHING(gnutls_certificate_free_credentials)
NOTHING(gnutls_certificate_server_set_request)
NOTHING(gnutls_certificate_set_retrieve_function2)
NOTHING(gnutls_certificate_set_retrieve_function3)
NOTHING(gnutls_psk_free_server_credentials)
NOTHING(gnutls_psk_set_server_credentials_function)
