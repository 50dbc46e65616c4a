/* Task routes: /api/{user_id}/tasks[/{task_id}[/complete|/restore]], /tags, /tasks/stats,
 * /tasks/parse. */
#ifndef TODO_HANDLERS_TASKS_H
#define TODO_HANDLERS_TASKS_H

#include "http/request.h"

void h_task_list(struct request *req);
void h_task_create(struct request *req);
void h_task_parse(struct request *req); /* POST …/tasks/parse: quick-add shorthand */
void h_task_get(struct request *req);
void h_task_update(struct request *req); /* PUT and PATCH */
void h_task_delete(struct request *req);
void h_task_complete(struct request *req);
void h_task_restore(struct request *req);
void h_task_tags(struct request *req);
void h_task_stats(struct request *req);

#endif
