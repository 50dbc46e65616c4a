// The full editor of a task, in a modal dialog: title, description, priority, tags, due date
// and time, reminder, repetition. A failed save shows its problems next to the fields and
// keeps every value; Esc or Cancel closes it.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type Priority, type Recurrence, type Task, type TaskInput } from "./api";
import { fromInputs, toInputs } from "./time";

interface Props {
  task: Task | null; // null: a new task
  draft?: TaskInput;
  onSave: (input: TaskInput) => Promise<void>;
  onDelete?: () => void;
  onClose: () => void;
  /** True while the session has expired: the dialog steps out of the way of the sign-in
   * screen (a modal dialog would make it inert) and comes back, as typed, afterwards. */
  suspended: boolean;
}

interface Form {
  title: string;
  description: string;
  priority: Priority;
  tags: string;
  dueDate: string;
  dueTime: string;
  remindDate: string;
  remindTime: string;
  recurrence: Recurrence;
  interval: string;
}

function formOf(t: TaskInput | null): Form {
  const due = toInputs(t?.due_at ?? null);
  const remind = toInputs(t?.remind_at ?? null);
  return {
    title: t?.title ?? "",
    description: t?.description ?? "",
    priority: t?.priority ?? "medium",
    tags: (t?.tags ?? []).join(", "),
    dueDate: due.date,
    dueTime: due.time,
    remindDate: remind.date,
    remindTime: remind.time || (remind.date ? "09:00" : ""),
    recurrence: t?.recurrence ?? "none",
    interval: String(t?.recurrence_interval ?? 1),
  };
}

/** "home, #Errands, home" → ["home", "Errands"]: no #, no blanks, no case-insensitive twins. */
export function parseTags(s: string): string[] {
  const out: string[] = [];
  for (const raw of s.split(",")) {
    const tag = raw.trim().replace(/^#+/, "").trim();
    if (tag && !out.some((t) => t.toLowerCase() === tag.toLowerCase())) out.push(tag);
  }
  return out;
}

function inputOf(f: Form): TaskInput {
  return {
    title: f.title.trim(),
    description: f.description.trim() ? f.description : null,
    priority: f.priority,
    tags: parseTags(f.tags),
    due_at: fromInputs(f.dueDate, f.dueTime),
    remind_at: fromInputs(f.remindDate, f.remindTime || "09:00"),
    recurrence: f.recurrence,
    recurrence_interval: Math.max(1, Math.min(1000, Number.parseInt(f.interval, 10) || 1)),
  };
}

export function Editor({ task, draft, onSave, onDelete, onClose, suspended }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [form, setForm] = useState<Form>(() => formOf(task ?? draft ?? null));
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const closeRef = useRef(onClose);
  closeRef.current = onClose;

  const suspendedRef = useRef(suspended);
  suspendedRef.current = suspended;

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    const onCloseEvent = () => {
      if (!suspendedRef.current) closeRef.current();
    };
    d.addEventListener("close", onCloseEvent);
    return () => d.removeEventListener("close", onCloseEvent);
  }, []);

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (suspended && d.open) d.close();
    else if (!suspended && !d.open) d.showModal();
  }, [suspended]);

  const set = <K extends keyof Form>(k: K) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement).value as Form[K];
    setForm((f) => ({ ...f, [k]: v }));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!form.title.trim()) {
      setError(new ApiError(422, "Give the task a title.", { title: "Give the task a title." }));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSave(inputOf(form));
      dialog.current?.close();
    } catch (err) {
      // After a 401 the sign-in screen explains; the form stays as typed for another Save.
      if (!(err instanceof ApiError && err.status === 401)) setError(err instanceof ApiError ? err : new ApiError(0, "Something went wrong. Try again."));
    } finally {
      setBusy(false);
    }
  };

  const fe = (f: string) => error?.fields[f];
  const described = (f: string, hint?: string) => [hint, fe(f) ? `edit-${f}-error` : ""].filter(Boolean).join(" ") || undefined;
  const heading = task ? "Edit task" : "New task";
  return (
    <dialog ref={dialog} class="editor" aria-labelledby="editor-title">
      <form method="dialog" onSubmit={submit}>
        <h2 id="editor-title">{heading}</h2>
        {error && (
          <p class="form-error" role="alert">
            {Object.keys(error.fields).length ? "Please check the highlighted fields." : error.message}
          </p>
        )}
        <div class="field">
          <label for="edit-title">Title</label>
          <input id="edit-title" name="title" required maxLength={200} value={form.title} onInput={set("title")} aria-invalid={fe("title") ? true : undefined} aria-describedby={described("title")} />
          {fe("title") && (
            <p class="field-error" id="edit-title-error">
              {fe("title")}
            </p>
          )}
        </div>
        <div class="field">
          <label for="edit-description">Description</label>
          <textarea id="edit-description" name="description" rows={3} maxLength={1000} value={form.description} onInput={set("description")} aria-invalid={fe("description") ? true : undefined} aria-describedby={described("description")} />
          {fe("description") && (
            <p class="field-error" id="edit-description-error">
              {fe("description")}
            </p>
          )}
        </div>
        <div class="row2">
          <div class="field">
            <label for="edit-priority">Priority</label>
            <select id="edit-priority" name="priority" value={form.priority} onChange={set("priority")}>
              <option value="high">High</option>
              <option value="medium">Medium</option>
              <option value="low">Low</option>
            </select>
          </div>
          <div class="field">
            <label for="edit-tags">Tags</label>
            <input id="edit-tags" name="tags" value={form.tags} onInput={set("tags")} aria-invalid={fe("tags") ? true : undefined} aria-describedby={described("tags", "edit-tags-hint")} autocomplete="off" />
            <p class="hint" id="edit-tags-hint">
              Separate with commas.
            </p>
            {fe("tags") && (
              <p class="field-error" id="edit-tags-error">
                {fe("tags")}
              </p>
            )}
          </div>
        </div>
        <fieldset class="field">
          <legend>Due</legend>
          <div class="row2">
            <div>
              <label for="edit-due-date">Date</label>
              <input id="edit-due-date" type="date" name="due_date" value={form.dueDate} onInput={set("dueDate")} aria-invalid={fe("due_at") ? true : undefined} aria-describedby={described("due_at")} />
            </div>
            <div>
              <label for="edit-due-time">Time (optional)</label>
              <input id="edit-due-time" type="time" name="due_time" value={form.dueTime} onInput={set("dueTime")} disabled={!form.dueDate} />
            </div>
          </div>
          {fe("due_at") && (
            <p class="field-error" id="edit-due_at-error">
              {fe("due_at")}
            </p>
          )}
        </fieldset>
        <fieldset class="field">
          <legend>Reminder</legend>
          <div class="row2">
            <div>
              <label for="edit-remind-date">Date</label>
              <input id="edit-remind-date" type="date" name="remind_date" value={form.remindDate} onInput={set("remindDate")} aria-invalid={fe("remind_at") ? true : undefined} aria-describedby={described("remind_at")} />
            </div>
            <div>
              <label for="edit-remind-time">Time</label>
              <input id="edit-remind-time" type="time" name="remind_time" value={form.remindTime} onInput={set("remindTime")} disabled={!form.remindDate} />
            </div>
          </div>
          {fe("remind_at") && (
            <p class="field-error" id="edit-remind_at-error">
              {fe("remind_at")}
            </p>
          )}
        </fieldset>
        <div class="row2">
          <div class="field">
            <label for="edit-recurrence">Repeat</label>
            <select id="edit-recurrence" name="recurrence" value={form.recurrence} onChange={set("recurrence")}>
              <option value="none">Does not repeat</option>
              <option value="daily">Daily</option>
              <option value="weekly">Weekly</option>
              <option value="monthly">Monthly</option>
              <option value="yearly">Yearly</option>
            </select>
          </div>
          {form.recurrence !== "none" && (
            <div class="field">
              <label for="edit-interval">Every how many</label>
              <input id="edit-interval" type="number" name="recurrence_interval" min={1} max={1000} value={form.interval} onInput={set("interval")} aria-invalid={fe("recurrence_interval") ? true : undefined} />
              {fe("recurrence_interval") && <p class="field-error">{fe("recurrence_interval")}</p>}
            </div>
          )}
        </div>
        <div class="dialog-actions">
          {task && onDelete && (
            <button
              type="button"
              class="danger"
              onClick={() => {
                dialog.current?.close();
                onDelete();
              }}
            >
              Delete
            </button>
          )}
          <span class="spacer" />
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Saving…" : task ? "Save" : "Add task"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
