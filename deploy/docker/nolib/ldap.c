/*
 * Stand-ins for OpenLDAP's libldap-2.5.so.0 and liblber-2.5.so.0 in the runtime image.
 *
 * Debian's libpq and libcurl are linked against libldap (service lookups over LDAP,
 * ldap:// URLs), and libldap pulls in GnuTLS, p11-kit, nettle, GMP and libsasl2: about
 * 5 MB of the image for features todo never uses (httpc and mail restrict libcurl to
 * http/https/smtp/smtps; DATABASE_URL never names an LDAP service). These libraries export
 * the same versioned symbols (OPENLDAP_2.5), so the loader is satisfied, and every call
 * fails cleanly: the functions that return a status return LDAP_NOT_SUPPORTED, those that
 * return a pointer return NULL, the frees do nothing. Only the image uses them; the binary
 * is built and tested against the real libraries.
 */
#include <stddef.h>

#define NOT_SUPPORTED (-12) /* LDAP_NOT_SUPPORTED */

#define STATUS(name)                                                                       \
    int name(void);                                                                        \
    int name(void) { return NOT_SUPPORTED; }
#define POINTER(name)                                                                      \
    void *name(void);                                                                      \
    void *name(void) { return NULL; }
#define NOTHING(name)                                                                      \
    void name(void);                                                                       \
    void name(void) {}

#ifdef LBER
NOTHING(ber_bvfree)
NOTHING(ber_memvfree)
NOTHING(ber_free)
NOTHING(ber_memfree)
STATUS(ber_sockbuf_add_io)
#else
POINTER(ldap_first_entry)
POINTER(ldap_get_values_len)
POINTER(ldap_init)
POINTER(ldap_get_attribute_ber)
STATUS(ldap_search_st)
STATUS(ldap_set_option)
STATUS(ldap_get_option)
STATUS(ldap_msgfree)
STATUS(ldap_unbind)
STATUS(ldap_unbind_ext)
STATUS(ldap_simple_bind)
STATUS(ldap_count_entries)
STATUS(ldap_result)
STATUS(ldap_start_tls)
STATUS(ldap_parse_result)
STATUS(ldap_search_ext)
STATUS(ldap_abandon_ext)
STATUS(ldap_get_dn_ber)
STATUS(ldap_msgtype)
STATUS(ldap_parse_sasl_bind_result)
STATUS(ldap_sasl_bind)
STATUS(ldap_url_parse)
STATUS(ldap_pvt_url_scheme2proto)
STATUS(ldap_init_fd)
NOTHING(ldap_value_free_len)
NOTHING(ldap_free_urldesc)
NOTHING(ldap_memfree)

/* The one that returns text: callers print it. */
const char *ldap_err2string(int err);
const char *ldap_err2string(int err)
{
    (void)err;
    return "LDAP is not available in this image";
}
#endif
