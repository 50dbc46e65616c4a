// Quick add: one line such as "Water plants tomorrow 5pm #home !high". The server reads the
// shorthand (POST /api/{user_id}/tasks/parse, the parser the offline assistant uses too), the
// line shows what it understood while typing, and Enter creates the task. A server without
// the parser gets the line as a plain title. What is typed survives errors and reloads.
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError, type TaskInput } from "./api";
import { repeatText } from "./TaskRow";
import { friendly } from "./time";

const DRAFT_KEY = "todo.draft.quick";
const PREVIEW_DELAY_MS = 300;

interface Props {
  api: Api;
  onCreate: (input: TaskInput) => Promise<void>;
  onDetails: (draft: TaskInput) => void;
}

function describe(p: TaskInput): string {
  const parts = [`“${p.title ?? ""}”`];
  if (p.due_at) parts.push(`due ${friendly(p.due_at)}`);
  if (p.remind_at) parts.push(`reminder ${friendly(p.remind_at)}`);
  if (p.priority && p.priority !== "medium") parts.push(`${p.priority} priority`);
  if (p.recurrence && p.recurrence !== "none") parts.push(`repeats ${repeatText({ recurrence: p.recurrence, recurrence_interval: p.recurrence_interval ?? 1 })}`);
  for (const t of p.tags ?? []) parts.push(`#${t}`);
  return parts.join(" · ");
}

function readDraft(): string {
  try {
    return sessionStorage.getItem(DRAFT_KEY) ?? "";
  } catch {
    return "";
  }
}

function writeDraft(v: string): void {
  try {
    if (v) sessionStorage.setItem(DRAFT_KEY, v);
    else sessionStorage.removeItem(DRAFT_KEY);
  } catch {
    /* storage disabled */
  }
}

export function QuickAdd({ api, onCreate, onDetails }: Props) {
  const [text, setText] = useState(readDraft);
  const [preview, setPreview] = useState<TaskInput | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const parserMissing = useRef(false);

  useEffect(() => writeDraft(text), [text]);

  // Show what the server understood, a moment after typing stops.
  useEffect(() => {
    const line = text.trim();
    setPreview(null);
    if (!line || parserMissing.current) return;
    const ctl = new AbortController();
    const timer = setTimeout(() => {
      api.parse(line, ctl.signal).then(
        (p) => setPreview(p),
        (e: unknown) => {
          if (e instanceof ApiError && (e.status === 404 || e.status === 405)) parserMissing.current = true;
        },
      );
    }, PREVIEW_DELAY_MS);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [api, text]);

  /** The task the line stands for, read by the server's parser when it has one. */
  const read = async (line: string): Promise<TaskInput> => {
    if (parserMissing.current) return { title: line };
    try {
      return await api.parse(line);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
        parserMissing.current = true;
        return { title: line };
      }
      throw e;
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const line = text.trim();
    if (!line || busy) return;
    setBusy(true);
    setError("");
    try {
      await onCreate(await read(line));
      setText("");
    } catch (err) {
      // A 401 sends the app to the sign-in screen, which says why; the line stays as typed.
      if (!(err instanceof ApiError && err.status === 401)) setError(err instanceof ApiError ? err.message : "Something went wrong. Try again.");
    } finally {
      setBusy(false);
    }
  };

  const details = async () => {
    const line = text.trim();
    let draft: TaskInput = {};
    if (line) {
      try {
        draft = await read(line);
      } catch {
        draft = { title: line };
      }
    }
    setText("");
    onDetails(draft);
  };

  return (
    <form class="quick-add" onSubmit={submit} aria-labelledby="quick-add-label">
      <label id="quick-add-label" for="quick-add" class="sr-only">
        Add a task
      </label>
      <div class="quick-row">
        <input
          id="quick-add"
          name="quick-add"
          autocomplete="off"
          enterKeyHint="done"
          maxLength={500}
          placeholder="Add a task: Water plants tomorrow 5pm #home !high"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          aria-describedby="quick-add-hint"
          aria-invalid={error ? true : undefined}
        />
        <button type="submit" class="primary" disabled={busy || !text.trim()}>
          Add
        </button>
        <button type="button" onClick={details} title="Add with all the details">
          Details…
        </button>
      </div>
      <p id="quick-add-hint" class="hint">
        {preview?.title ? `Will add ${describe(preview)}` : "Press n to start typing. Dates, times, #tags and !priority are understood."}
      </p>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
