/*
 * Unit tests for the assistant's providers (src/core/provider.c) through the configuration
 * table: LLM_PROVIDER (case-insensitive; by the key that is set when unset; offline by
 * default), each provider's defaults, LLM_BASE_URL and LLM_MODEL overriding them, key shapes
 * and the https rule refused at load time, a missing key left for the chat to report (503),
 * and keys never printed by `config check`.
 */
#include "unit.h"

#include <stdio.h>

#include "core/config.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/provider.h"
#include "core/util.h"

/* Loads a configuration from env (JWT_SECRET and DATA_DIR added) and resolves its model. */
static int load(const struct unit_env *extra, struct config *c, struct chat_model *m,
                struct config_errors *errs)
{
    struct unit_env env[32] = {{"DATA_DIR", "/tmp"}};
    size_t n = 1;
    for (const struct unit_env *e = extra; e && e->name && n < 31; e++)
        env[n++] = *e;
    env[n] = (struct unit_env){NULL, NULL};
    int rc = config_load(c, unit_env_get, env, errs);
    char why[256];
    struct dynbuf w;
    dyn_init_fixed(&w, why, sizeof(why));
    if (rc == ERR_OK && provider_resolve(c, m, &w) != ERR_OK)
        fail_msg("resolve failed after a clean load: %s", why);
    return rc;
}

static void offline_by_default(void **state)
{
    (void)state;
    struct config c;
    struct chat_model m;
    struct config_errors errs;
    assert_int_equal(load(NULL, &c, &m, &errs), ERR_OK);
    assert_int_equal(m.id, PROVIDER_OFFLINE);
    assert_null(m.missing);
    assert_string_equal(provider_chosen(&c), "offline");
    config_free(&c);
}

static void chosen_by_key(void **state)
{
    (void)state;
    struct config c;
    struct chat_model m;
    struct config_errors errs;
    struct unit_env groq[] = {{"GROQ_API_KEY", "gsk_abcdefgh1234"}, {NULL, NULL}};
    assert_int_equal(load(groq, &c, &m, &errs), ERR_OK);
    assert_int_equal(m.id, PROVIDER_GROQ);
    assert_string_equal(m.base_url, GROQ_BASE_DEFAULT);
    assert_string_equal(m.model, GROQ_MODEL_DEFAULT);
    assert_string_equal(m.api_key, "gsk_abcdefgh1234");
    config_free(&c);
    struct unit_env both[] = {
        {"GROQ_API_KEY", "gsk_abcdefgh1234"}, {"OPENAI_API_KEY", "sk-abcdefgh1234"}, {NULL, NULL}};
    assert_int_equal(load(both, &c, &m, &errs), ERR_OK);
    assert_int_equal(m.id, PROVIDER_OPENAI); /* the table's order */
    assert_string_equal(m.base_url, OPENAI_BASE_DEFAULT);
    config_free(&c);
    struct unit_env custom[] = {{"LLM_BASE_URL", "http://127.0.0.1:8080/v1/"}, {NULL, NULL}};
    assert_int_equal(load(custom, &c, &m, &errs), ERR_OK);
    assert_int_equal(m.id, PROVIDER_CUSTOM);
    assert_string_equal(m.base_url, "http://127.0.0.1:8080/v1"); /* trailing '/' dropped */
    assert_string_equal(m.missing, "LLM_MODEL");
    config_free(&c);
}

static void named_and_overridden(void **state)
{
    (void)state;
    struct config c;
    struct chat_model m;
    struct config_errors errs;
    struct unit_env e[] = {{"LLM_PROVIDER", "OpenRouter"},
                           {"OPENROUTER_API_KEY", "sk-or-v1-abcdefgh"},
                           {"LLM_MODEL", "vendor/model"},
                           {"LLM_BASE_URL", "https://proxy.example.com/api/v1"},
                           {NULL, NULL}};
    assert_int_equal(load(e, &c, &m, &errs), ERR_OK);
    assert_int_equal(m.id, PROVIDER_OPENROUTER);
    assert_true(m.openrouter);
    assert_string_equal(m.model, "vendor/model");
    assert_string_equal(m.base_url, "https://proxy.example.com/api/v1");
    config_free(&c);
    struct unit_env ollama[] = {{"LLM_PROVIDER", "ollama"},
                                {"OLLAMA_BASE_URL", "http://ollama.internal:11434/v1"},
                                {NULL, NULL}};
    assert_int_equal(load(ollama, &c, &m, &errs), ERR_OK);
    assert_int_equal(m.id, PROVIDER_OLLAMA);
    assert_true(m.allow_http);
    assert_null(m.api_key);
    assert_null(m.missing);
    assert_string_equal(m.model, OLLAMA_MODEL_DEFAULT);
    config_free(&c);
    /* Named without its key: loads (the chat answers 503 naming the key). */
    struct unit_env nokey[] = {{"LLM_PROVIDER", "gemini"}, {NULL, NULL}};
    assert_int_equal(load(nokey, &c, &m, &errs), ERR_OK);
    assert_string_equal(m.missing, "GEMINI_API_KEY");
    assert_string_equal(m.base_url, GEMINI_BASE_DEFAULT);
    config_free(&c);
}

static void refused(void **state)
{
    (void)state;
    struct config c;
    struct chat_model m;
    struct config_errors errs;
    static const struct unit_env bad[][3] = {
        {{"LLM_PROVIDER", "chatgpt"}, {NULL, NULL}},
        {{"OPENAI_API_KEY", "not-an-openai-key"}, {NULL, NULL}},
        {{"GROQ_API_KEY", "sk-wrong-prefix-1"}, {NULL, NULL}},
        {{"OPENAI_API_KEY", "sk-has space inside"}, {NULL, NULL}},
        {{"OPENAI_API_KEY", "sk-abc"}, {"LLM_PROVIDER", "openai"}, {NULL, NULL}},
        {{"GROQ_API_KEY", "gsk_abcdefgh1234"},
         {"GROQ_BASE_URL", "http://api.example.com/v1"},
         {NULL, NULL}},
        {{"TEMPERATURE", "3"}, {NULL, NULL}},
        {{"LLM_TIMEOUT_SECONDS", "0"}, {NULL, NULL}},
    };
    static const char *const names[] = {"LLM_PROVIDER",   "OPENAI_API_KEY",     "GROQ_API_KEY",
                                        "OPENAI_API_KEY", "OPENAI_API_KEY",     "GROQ_BASE_URL",
                                        "TEMPERATURE",    "LLM_TIMEOUT_SECONDS"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(load(bad[i], &c, &m, &errs), ERR_INVALID);
        assert_true(errs.n >= 1);
        if (!unit_contains(errs.lines[0], names[i]))
            fail_msg("case %zu: %s", i, errs.lines[0]);
        for (const struct unit_env *e = bad[i]; e->name; e++)
            if (strstr(e->name, "KEY") && unit_contains(errs.lines[0], e->value))
                fail_msg("a key's value in the message: %s", errs.lines[0]);
        config_free(&c);
    }
}

static void keys_are_redacted(void **state)
{
    (void)state;
    struct config c;
    struct chat_model m;
    struct config_errors errs;
    struct unit_env e[] = {{"OPENAI_API_KEY", "sk-topsecret-123456"},
                           {"LLM_API_KEY", "local-secret-123"},
                           {NULL, NULL}};
    assert_int_equal(load(e, &c, &m, &errs), ERR_OK);
    char buf[16384] = {0};
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    config_print(&c, f);
    fclose(f);
    assert_false(unit_contains(buf, "topsecret"));
    assert_false(unit_contains(buf, "local-secret"));
    assert_true(unit_contains(buf, "OPENAI_API_KEY=(set, redacted)"));
    assert_true(unit_contains(buf, "LLM_PROVIDER=openai"));
    assert_true(unit_contains(buf, "TEMPERATURE=0.7"));
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offline_by_default),   cmocka_unit_test(chosen_by_key),
        cmocka_unit_test(named_and_overridden), cmocka_unit_test(refused),
        cmocka_unit_test(keys_are_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
