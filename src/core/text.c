/* Case folding (see text.h) with mbrtowc/towlower_l/wcrtomb in the C.UTF-8 locale. */
#include "core/text.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

static locale_t utf8 = (locale_t)0;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

bool text_init(void)
{
    pthread_once(&once, load);
    return utf8 != (locale_t)0;
}

char *text_fold(struct arena *a, const char *s)
{
    text_init();
    size_t len = strlen(s);
    /* A lower-case form never needs more than MB_LEN_MAX bytes per input byte. */
    char *out = arena_alloc(a, len * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    if (utf8 == (locale_t)0) {
        for (size_t i = 0; i < len; i++)
            out[o++] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
        out[o] = '\0';
        return out;
    }
    locale_t old = uselocale(utf8);
    mbstate_t in_state, out_state;
    memset(&in_state, 0, sizeof(in_state));
    memset(&out_state, 0, sizeof(out_state));
    size_t i = 0;
    while (i < len) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, s + i, len - i, &in_state);
        if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
            out[o++] = s[i++]; /* not UTF-8: keep the byte */
            memset(&in_state, 0, sizeof(in_state));
            continue;
        }
        char mb[MB_LEN_MAX];
        size_t m = wcrtomb(mb, (wchar_t)towlower_l((wint_t)wc, utf8), &out_state);
        if (m == (size_t)-1 || m > 4) {
            memcpy(out + o, s + i, n);
            o += n;
        } else {
            memcpy(out + o, mb, m);
            o += m;
        }
        i += n;
    }
    out[o] = '\0';
    uselocale(old);
    return out;
}

bool text_equal_fold(struct arena *a, const char *x, const char *y)
{
    const char *fx = text_fold(a, x), *fy = text_fold(a, y);
    return fx && fy && strcmp(fx, fy) == 0;
}
