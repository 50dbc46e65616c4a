/*
 * What the model reads before the user's message (see agent_prompt.h): the system prompt and
 * the conversation's stored history as Chat Completions messages. Pure: no I/O, no state;
 * everything is allocated from the caller's arena.
 */
#include "assistant/agent_prompt.h"

#include <string.h>

#include "assistant/agent.h"
#include "assistant/llm.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/timefmt.h"
#include "core/tz.h"

#define PROMPT_MAX (16 * 1024)

const char *agent_system_prompt(const struct config *cfg, struct arena *a, const char *tz,
                                int64_t now)
{
    static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
    int off = 0;
    if (!tz || tz_offset(tz, now, &off) != ERR_OK)
        tz = "UTC";
    char local[TIME_TEXT_MAX];
    time_format(now + off, local);
    int64_t day = (now + off) / 86400 - ((now + off) % 86400 < 0);
    int wd = (int)(((day % 7) + 11) % 7);
    int aoff = off < 0 ? -off : off;
    char sign = off < 0 ? '-' : '+';
    struct dynbuf b;
    dyn_init_arena(&b, a, PROMPT_MAX);
    dyn_addf(&b,
             "You are %s, the assistant of a task manager. You manage the user's tasks only "
             "through the tools you are given: add, list, show, complete, delete and update "
             "tasks, and read tags and counts.\n"
             "Today is %s, %.10s, and the time is %.5s in the user's time zone, %s "
             "(UTC%c%02d:%02d). Read relative dates (today, tonight, tomorrow, next Friday, in "
             "3 days) in that time zone, and write times in tool arguments in RFC 3339 with "
             "that offset, for example %.10sT17:00:00%c%02d:%02d; a day without a time of day "
             "means 23:59:59 that day.\n"
             "The tools always act for the signed-in user: never ask for, invent or pass a user "
             "id. When the user names a task by its title, find it with list_tasks first; when "
             "several tasks match, ask which one. Do several things in one turn when asked to.\n"
             "Answer briefly, in plain sentences, and say what you changed.",
             cfg->agent_name && *cfg->agent_name ? cfg->agent_name : "TodoAssistant", days[wd],
             local, local + 11, tz, sign, aoff / 3600, aoff % 3600 / 60, local, sign, aoff / 3600,
             aoff % 3600 / 60);
    if (cfg->agent_instructions && *cfg->agent_instructions)
        dyn_addf(&b, "\n\n%s", cfg->agent_instructions);
    return dyn_err(&b) == ERR_OK ? dyn_str(&b) : NULL;
}

void agent_history(yyjson_mut_doc *doc, yyjson_mut_val *messages, struct arena *a,
                   const struct conv_message *h, size_t n)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    for (size_t i = 0; i < n; i++) {
        const struct conv_message *m = &h[i];
        if (strcmp(m->role, "user") == 0) {
            llm_msg(doc, messages, "user", m->content);
            continue;
        }
        yyjson_doc *d = m->tool_calls ? yyjson_read_opts((char *)m->tool_calls,
                                                         strlen(m->tool_calls), 0, &alc, NULL)
                                      : NULL;
        yyjson_val *calls = d ? yyjson_doc_get_root(d) : NULL;
        if (yyjson_arr_size(calls) > 0) {
            yyjson_mut_val *am = llm_msg(doc, messages, "assistant", NULL);
            size_t j, max;
            yyjson_val *c;
            yyjson_arr_foreach(calls, j, max, c)
            {
                const char *id = yyjson_get_str(yyjson_obj_get(c, "id"));
                const char *tool = yyjson_get_str(yyjson_obj_get(c, "tool"));
                yyjson_val *args = yyjson_obj_get(c, "arguments");
                const char *call_id =
                    arena_printf(a, "m%lld_%s", (long long)m->id, id ? id : "call");
                const char *args_text = yyjson_is_str(args)
                                            ? yyjson_get_str(args)
                                            : yyjson_val_write_opts(args, 0, &alc, NULL, NULL);
                llm_msg_add_call(doc, am, call_id ? call_id : "call", tool ? tool : "",
                                 args_text ? args_text : "{}");
            }
            yyjson_arr_foreach(calls, j, max, c)
            {
                const char *id = yyjson_get_str(yyjson_obj_get(c, "id"));
                const char *call_id =
                    arena_printf(a, "m%lld_%s", (long long)m->id, id ? id : "call");
                size_t len = 0;
                char *res = yyjson_val_write_opts(yyjson_obj_get(c, "result"), 0, &alc, &len, NULL);
                if (res && len > AGENT_HISTORY_TOOL_MAX) /* valid JSON is not needed here */
                    memcpy(res + AGENT_HISTORY_TOOL_MAX - 4, "...", 4);
                llm_tool_msg(doc, messages, call_id ? call_id : "call", res ? res : "null");
            }
        }
        if (m->content && *m->content)
            llm_msg(doc, messages, "assistant", m->content);
    }
}
