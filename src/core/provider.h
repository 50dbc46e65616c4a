/*
 * The assistant's model providers: one table, naming each provider LLM_PROVIDER accepts,
 * the settings that hold its key, base URL and model, its defaults, the shape of its keys
 * and how it is authenticated. Every provider speaks the OpenAI Chat Completions format
 * (assistant/llm.h) at <base URL>/chat/completions; `offline` is the offline assistant
 * (assistant/offline.h), which needs nothing.
 *
 * provider_resolve turns the configuration into the one model this process talks to:
 * LLM_PROVIDER names it (case-insensitively; when unset, the first provider whose key is
 * set, else `offline`); LLM_BASE_URL and LLM_MODEL override any provider's own defaults. A
 * provider that lacks a required setting is still resolved, as unconfigured: chats then get
 * 503 naming what to set. A key whose format is known and wrong, or a base URL that would
 * send a key over plain http to another host, is a configuration error (start-up fails).
 *
 * The table lives in core/ because the configuration checks it at load time (`todo config
 * check` and start-up fail on a bad key).
 *
 * Threads: the table is constant; a resolved model is read-only once made.
 */
#ifndef TODO_PROVIDER_H
#define TODO_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/dynbuf.h"

#define CHAT_BASE_URL_MAX 1024

/* Defaults the configuration table documents too. */
#define OPENAI_BASE_DEFAULT      "https://api.openai.com/v1"
#define GROQ_BASE_DEFAULT        "https://api.groq.com/openai/v1"
#define GEMINI_BASE_DEFAULT      "https://generativelanguage.googleapis.com/v1beta/openai"
#define OPENROUTER_BASE_DEFAULT  "https://openrouter.ai/api/v1"
#define OLLAMA_BASE_DEFAULT      "http://127.0.0.1:11434/v1"
#define OPENAI_MODEL_DEFAULT     "gpt-4o-mini"
#define GROQ_MODEL_DEFAULT       "llama-3.3-70b-versatile"
#define GEMINI_MODEL_DEFAULT     "gemini-2.0-flash"
#define OPENROUTER_MODEL_DEFAULT "openai/gpt-4o-mini"
#define OLLAMA_MODEL_DEFAULT     "llama3.1"

enum provider_id {
    PROVIDER_OFFLINE = 0,
    PROVIDER_OPENAI,
    PROVIDER_GROQ,
    PROVIDER_GEMINI,
    PROVIDER_OPENROUTER,
    PROVIDER_OLLAMA,
    PROVIDER_CUSTOM,
};

/* The model a process talks to (strings point into the configuration or the table). */
struct chat_model {
    enum provider_id id;
    const char *name;                 /* "openai", … */
    char base_url[CHAT_BASE_URL_MAX]; /* "https://api.openai.com/v1" (no trailing '/'); "" */
    const char *api_key;              /* NULL when none is sent */
    const char *model;
    bool allow_http;     /* plain http to a non-loopback host (operator-run servers) */
    bool openrouter;     /* send OpenRouter's attribution headers */
    const char *missing; /* NULL when usable; else what to set ("OPENAI_API_KEY") */
};

/* The names LLM_PROVIDER accepts (case-insensitively), NULL-terminated, indexed by enum
 * provider_id. struct config's llm_provider holds the index + 1, 0 when LLM_PROVIDER is
 * unset. */
extern const char *const provider_names[];

/* The name of the provider the configuration resolves to (for `config check`). */
const char *provider_chosen(const struct config *c);

/* Resolves the configuration's provider into *out. ERR_OK, or ERR_INVALID with why (one
 * line naming the variable and its rule) for a key of the wrong format or an unsafe URL. */
int provider_resolve(const struct config *c, struct chat_model *out, struct dynbuf *why);

/* Checks a key's characters: printable ASCII without spaces, 8..512 bytes (it goes into a
 * header). ERR_OK or ERR_INVALID. */
int provider_key_ok(const char *key);

#endif
