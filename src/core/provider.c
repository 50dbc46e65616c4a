/*
 * The provider table and its resolution (see provider.h).
 */
#include "core/provider.h"

#include <stddef.h>
#include <string.h>

#include "core/err.h"
#include "core/url.h"
#include "core/util.h"

#define NONE     SIZE_MAX /* no such setting */
#define KEY_MIN  8
#define KEY_MAX  512
#define FIELD(f) offsetof(struct config, f)

struct provider {
    enum provider_id id;
    const char *name;
    size_t key, base, model;                    /* fields of struct config, or NONE */
    const char *key_var, *base_var, *model_var; /* their variables, for messages */
    const char *base_default;                   /* NULL: the base URL must be configured */
    const char *model_default;                  /* NULL: the model must be configured */
    const char *key_prefix;                     /* NULL: any shape */
    bool key_required;
    bool allow_http; /* plain http anywhere: servers an operator runs (no key leaves) */
};

/* clang-format off */
static const struct provider providers[] = {
    {PROVIDER_OFFLINE, "offline", NONE, NONE, NONE, NULL, NULL, NULL, NULL, NULL, NULL, false,
     false},
    {PROVIDER_OPENAI, "openai", FIELD(openai_api_key), NONE, FIELD(openai_model),
     "OPENAI_API_KEY", NULL, "OPENAI_MODEL", OPENAI_BASE_DEFAULT, OPENAI_MODEL_DEFAULT, "sk-", true,
     false},
    {PROVIDER_GROQ, "groq", FIELD(groq_api_key), FIELD(groq_base_url), FIELD(groq_model),
     "GROQ_API_KEY", "GROQ_BASE_URL", "GROQ_MODEL", GROQ_BASE_DEFAULT, GROQ_MODEL_DEFAULT, "gsk_", true, false},
    {PROVIDER_GEMINI, "gemini", FIELD(gemini_api_key), NONE, FIELD(gemini_model),
     "GEMINI_API_KEY", NULL, "GEMINI_MODEL", GEMINI_BASE_DEFAULT, GEMINI_MODEL_DEFAULT, NULL, true,
     false},
    {PROVIDER_OPENROUTER, "openrouter", FIELD(openrouter_api_key), FIELD(openrouter_base_url),
     FIELD(openrouter_model), "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_MODEL", OPENROUTER_BASE_DEFAULT,
     OPENROUTER_MODEL_DEFAULT, "sk-or-", true, false},
    {PROVIDER_OLLAMA, "ollama", NONE, FIELD(ollama_base_url), FIELD(ollama_model), NULL,
     "OLLAMA_BASE_URL", "OLLAMA_MODEL", OLLAMA_BASE_DEFAULT, OLLAMA_MODEL_DEFAULT, NULL, false, true},
    {PROVIDER_CUSTOM, "custom", FIELD(llm_api_key), NONE, NONE, "LLM_API_KEY", NULL, "LLM_MODEL", NULL,
     NULL, NULL, false, true},
};
/* clang-format on */

const char *const provider_names[] = {"offline",    "openai", "groq",   "gemini",
                                      "openrouter", "ollama", "custom", NULL};

/* A string field of the configuration, or NULL (also for NONE and empty values). */
static const char *setting(const struct config *c, size_t off)
{
    if (off == NONE)
        return NULL;
    const char *v = *(char *const *)((const char *)c + off);
    return v && *v ? v : NULL;
}

int provider_key_ok(const char *key)
{
    size_t n = key ? strnlen(key, KEY_MAX + 1) : 0;
    if (n < KEY_MIN || n > KEY_MAX)
        return ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (key[i] <= ' ' || key[i] > '~')
            return ERR_INVALID;
    return ERR_OK;
}

/* The provider LLM_PROVIDER names; when unset, the first whose key is set, else offline. */
static const struct provider *choose(const struct config *c)
{
    if (c->llm_provider > 0 && (size_t)c->llm_provider <= ARRAY_LEN(providers))
        return &providers[c->llm_provider - 1];
    for (size_t i = 0; i < ARRAY_LEN(providers); i++)
        if (providers[i].key_required && setting(c, providers[i].key))
            return &providers[i];
    if (setting(c, FIELD(llm_base_url)))
        return &providers[PROVIDER_CUSTOM];
    return &providers[PROVIDER_OFFLINE];
}

int provider_resolve(const struct config *c, struct chat_model *out, struct dynbuf *why)
{
    const struct provider *p = choose(c);
    memset(out, 0, sizeof(*out));
    out->id = p->id;
    out->name = p->name;
    if (p->id == PROVIDER_OFFLINE)
        return ERR_OK;
    out->allow_http = p->allow_http;
    out->openrouter = p->id == PROVIDER_OPENROUTER;
    const char *key = setting(c, p->key);
    const char *base_var = "LLM_BASE_URL";
    const char *base = setting(c, FIELD(llm_base_url));
    if (!base && (base = setting(c, p->base)))
        base_var = p->base_var;
    if (!base)
        base = p->base_default;
    const char *model = setting(c, FIELD(llm_model));
    if (!model)
        model = setting(c, p->model);
    if (!model)
        model = p->model_default;
    if (key && provider_key_ok(key) != ERR_OK) {
        dyn_addf(why, "%s: must be 8 to 512 printable characters without spaces", p->key_var);
        return ERR_INVALID;
    }
    if (key && p->key_prefix && !str_starts(key, p->key_prefix)) {
        dyn_addf(why, "%s: %s keys start with \"%s\"", p->key_var, p->name, p->key_prefix);
        return ERR_INVALID;
    }
    if (base && !url_is_http(base)) {
        dyn_addf(why, "LLM_BASE_URL: the %s base URL must be an http(s) URL", p->name);
        return ERR_INVALID;
    }
    bool https = false, loopback = false;
    if (base && (url_outbound(base, &https, &loopback) != ERR_OK ||
                 strnlen(base, CHAT_BASE_URL_MAX) >= CHAT_BASE_URL_MAX)) {
        dyn_addf(why, "%s: the %s base URL is not a usable http(s) URL", base_var, p->name);
        return ERR_INVALID;
    }
    if (base && key && !p->allow_http && !https && !loopback) {
        dyn_addf(why, "%s: %s keys are only sent over https (http only for loopback)", base_var,
                 p->name);
        return ERR_INVALID;
    }
    out->api_key = key;
    if (base) { /* without trailing slashes: "/chat/completions" is appended */
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
            n--;
        memcpy(out->base_url, base, n);
        out->base_url[n] = '\0';
    }
    out->model = model;
    if (p->key_required && !key)
        out->missing = p->key_var;
    else if (!base)
        out->missing = "LLM_BASE_URL";
    else if (!model)
        out->missing = p->model_var;
    return ERR_OK;
}

const char *provider_chosen(const struct config *c)
{
    return choose(c)->name;
}
