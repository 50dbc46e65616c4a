// One task in the list: a checkbox to complete it, its title (opens the editor), when it is
// due (overdue and due today stand out, in words as well as colour), priority, repetition and
// tags (a tag filters the list), and a delete button.
import type { Task } from "./api";
import { dueState, friendly } from "./time";

interface Props {
  task: Task;
  selected: boolean;
  error?: string;
  now: Date;
  onToggle: () => void;
  onOpen: () => void;
  onDelete: () => void;
  onTag: (tag: string) => void;
  onFocus: () => void;
}

const REPEAT: Record<string, string> = { daily: "day", weekly: "week", monthly: "month", yearly: "year" };

export function repeatText(t: Pick<Task, "recurrence" | "recurrence_interval">): string {
  const unit = REPEAT[t.recurrence];
  if (!unit) return "";
  return t.recurrence_interval > 1 ? `every ${t.recurrence_interval} ${unit}s` : `every ${unit}`;
}

export function TaskRow({ task, selected, error, now, onToggle, onOpen, onDelete, onTag, onFocus }: Props) {
  const state = dueState(task.due_at, task.completed, now);
  const cls = ["task", `prio-${task.priority}`, task.completed ? "done" : "", state ? `due-${state}` : "", selected ? "selected" : ""].filter(Boolean).join(" ");
  const metaId = `task-meta-${task.id}`;
  const repeat = repeatText(task);
  let due = "";
  if (task.due_at) {
    const when = friendly(task.due_at, now);
    due = state === "overdue" ? `Overdue, was due ${when}` : `Due ${when}`;
  }
  return (
    <li class={cls} data-task-id={task.id} onFocusIn={onFocus}>
      <input
        type="checkbox"
        class="check"
        checked={task.completed}
        onChange={onToggle}
        aria-label={task.completed ? `Mark “${task.title}” as not done` : `Mark “${task.title}” as done`}
      />
      <div class="task-body">
        <button type="button" class="task-title" onClick={onOpen} aria-describedby={metaId}>
          {task.title}
        </button>
        <div class="task-meta" id={metaId}>
          {due && <span class="due">{due}</span>}
          {task.priority !== "medium" && <span class="prio">{task.priority === "high" ? "High priority" : "Low priority"}</span>}
          {repeat && <span class="repeat">Repeats {repeat}</span>}
          {task.remind_at && !task.completed && <span class="remind">Reminder {friendly(task.remind_at, now)}</span>}
          {task.tags.map((tag) => (
            <button type="button" class="tag" key={tag} onClick={() => onTag(tag)} aria-label={`Show tasks tagged ${tag}`}>
              #{tag}
            </button>
          ))}
        </div>
        {error && (
          <p class="row-error" role="alert">
            {error}
          </p>
        )}
      </div>
      <button type="button" class="icon delete" onClick={onDelete} aria-label={`Delete “${task.title}”`} title="Delete">
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
          <path d="M9 3h6l1 2h4v2H4V5h4l1-2Zm-3 6h12l-1 12H7L6 9Zm4 2v8h1.5v-8H10Zm3.5 0v8H15v-8h-1.5Z" fill="currentColor" />
        </svg>
      </button>
    </li>
  );
}
