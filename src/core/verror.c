/* Validation error lists (see verror.h). */
#include "core/verror.h"

void verr_add(struct verrors *v, const char *where, const char *field, const char *msg,
              const char *type)
{
    if (v->n >= VERROR_MAX)
        return;
    v->e[v->n++] = (struct verror){where, field, msg, type};
}

yyjson_mut_val *verr_to_json(const struct verrors *v, yyjson_mut_doc *doc)
{
    yyjson_mut_val *root = yyjson_mut_obj(doc);
    yyjson_mut_val *list = yyjson_mut_arr(doc);
    for (size_t i = 0; i < v->n; i++) {
        yyjson_mut_val *item = yyjson_mut_obj(doc);
        yyjson_mut_val *loc = yyjson_mut_arr(doc);
        yyjson_mut_arr_add_str(doc, loc, v->e[i].where);
        if (v->e[i].field)
            yyjson_mut_arr_add_str(doc, loc, v->e[i].field);
        yyjson_mut_obj_add_val(doc, item, "loc", loc);
        yyjson_mut_obj_add_str(doc, item, "msg", v->e[i].msg);
        yyjson_mut_obj_add_str(doc, item, "type", v->e[i].type);
        yyjson_mut_arr_append(list, item);
    }
    yyjson_mut_obj_add_val(doc, root, "detail", list);
    return root;
}
