/* The text rule and case folding (see text.h); folding uses mbrtowc/towlower_l/wcrtomb in the
 * C.UTF-8 locale. */
#include "core/text.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "core/err.h"

/* True when s holds a control character: C0 (tab, and CR/LF when allowed, aside), DEL, or a
 * C1 control (U+0080..U+009F, encoded C2 80..C2 9F). */
static bool has_control(const char *s, size_t len, bool allow_newlines)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\t' || (allow_newlines && (ch == '\n' || ch == '\r')))
            continue;
        if (ch < 0x20 || ch == 0x7f)
            return true;
        if (ch == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Counts UTF-8 code points (the text is valid UTF-8). */
static size_t utf8_len(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

int text_clean(struct arena *a, const char *s, size_t len, const struct text_rule *rule,
               const char **out, enum text_problem *why)
{
    *why = TEXT_OK;
    if (has_control(s, len, rule->multiline)) {
        *why = TEXT_CONTROL;
        return ERR_INVALID;
    }
    while (len && is_space(*s)) {
        s++;
        len--;
    }
    while (len && is_space(s[len - 1]))
        len--;
    size_t n = utf8_len(s, len);
    if (n < rule->min || n > rule->max) {
        *why = n < rule->min ? TEXT_TOO_SHORT : TEXT_TOO_LONG;
        return ERR_INVALID;
    }
    *out = arena_strndup(a, s, len);
    return *out ? ERR_OK : ERR_NOMEM;
}

const char *text_problem_msg(struct arena *a, enum text_problem p, const struct text_rule *rule)
{
    const char *m = NULL;
    switch (p) {
    case TEXT_CONTROL:
        return "Control characters are not allowed";
    case TEXT_TOO_SHORT:
        if (rule->min == 1)
            return "String should have at least 1 character";
        m = arena_printf(a, "String should have at least %zu characters", rule->min);
        return m ? m : "String is too short";
    case TEXT_TOO_LONG:
        m = arena_printf(a, "String should have at most %zu characters", rule->max);
        return m ? m : "String is too long";
    default:
        return "";
    }
}

const char *text_problem_type(enum text_problem p)
{
    switch (p) {
    case TEXT_TOO_SHORT:
        return "string_too_short";
    case TEXT_TOO_LONG:
        return "string_too_long";
    default:
        return "value_error";
    }
}

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
    /* ASCII is lowered as towlower does in C.UTF-8, without the locale's calls (which cost
     * ~100 instructions a character); the rest of the text, from its first other byte, goes
     * through them. */
    size_t i = 0;
    while (i < len && (unsigned char)s[i] < 0x80) {
        out[o++] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
        i++;
    }
    if (i == len) {
        out[o] = '\0';
        return out;
    }
    locale_t old = uselocale(utf8);
    mbstate_t in_state, out_state;
    memset(&in_state, 0, sizeof(in_state));
    memset(&out_state, 0, sizeof(out_state));
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

size_t text_utf8_prefix(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (n < max || !s[n])
        return n; /* the whole string fits */
    /* s[n] is the first byte left out: back off while it continues a sequence. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

bool text_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        size_t n = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        if (!n || (size_t)(end - p) < n)
            return false;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        /* The second byte's range rules out overlongs, surrogates and > U+10FFFF. */
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) ||
            (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
            return false;
        p += n;
    }
    return true;
}
