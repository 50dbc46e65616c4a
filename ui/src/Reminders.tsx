// Reminders while the page is open: when a pending task's remind_at passes, a banner appears
// in the page and, if the person allowed it, a system notification. Each reminder fires once
// (remembered in localStorage), and only for times that pass while the page is open.
//
// The candidates are the next pending tasks by due date (up to 200), refetched when the
// task data changes; the notifications/events endpoints of a later issue will replace this.
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError, type Task } from "./api";
import { friendly } from "./time";

const FIRED_KEY = "todo.reminders.fired";
const TICK_MS = 5000;
const FIRED_MAX = 500;

interface Props {
  api: Api;
  dataVersion: number;
  onOpen: (id: number) => void;
  onDone: (t: Task) => void;
}

function firedSet(): Set<string> {
  try {
    return new Set(JSON.parse(localStorage.getItem(FIRED_KEY) || "[]") as string[]);
  } catch {
    return new Set();
  }
}

function remember(key: string): void {
  const s = [...firedSet(), key].slice(-FIRED_MAX);
  try {
    localStorage.setItem(FIRED_KEY, JSON.stringify(s));
  } catch {
    /* storage disabled: may fire again after a reload */
  }
}

export function Reminders({ api, dataVersion, onOpen, onDone }: Props) {
  const [due, setDue] = useState<Task[]>([]);
  const [permission, setPermission] = useState<NotificationPermission | "unsupported">(() => (typeof Notification === "function" ? Notification.permission : "unsupported"));
  const candidates = useRef<Task[]>([]);
  const since = useRef(Date.now());
  const etag = useRef<string | null>(null);

  useEffect(() => {
    let stop = false;
    api.list({ status: "pending", sort: "due_date", order: "asc", limit: 200, offset: 0 }, etag.current).then(
      (r) => {
        if (stop || !r.changed) return;
        etag.current = r.etag;
        candidates.current = r.tasks.filter((t) => t.remind_at);
      },
      (e: unknown) => {
        if (!(e instanceof ApiError)) throw e;
      },
    );
    return () => {
      stop = true;
    };
  }, [api, dataVersion]);

  useEffect(() => {
    const tick = () => {
      const now = Date.now();
      const fired = firedSet();
      const hits = candidates.current.filter((t) => {
        const at = t.remind_at ? Date.parse(t.remind_at) : NaN;
        return at > since.current - TICK_MS && at <= now && !fired.has(`${t.id}@${t.remind_at}`);
      });
      for (const t of hits) {
        remember(`${t.id}@${t.remind_at}`);
        if (typeof Notification === "function" && Notification.permission === "granted" && document.visibilityState !== "visible") {
          try {
            new Notification(`Reminder: ${t.title}`, { body: t.due_at ? `Due ${friendly(t.due_at)}` : "", tag: `todo-${t.id}` });
          } catch {
            /* some platforms only allow notifications from a service worker: the banner stays */
          }
        }
      }
      if (hits.length) setDue((d) => [...d.filter((x) => !hits.some((h) => h.id === x.id)), ...hits]);
    };
    const timer = setInterval(tick, TICK_MS);
    return () => clearInterval(timer);
  }, []);

  const dismiss = (id: number) => setDue((d) => d.filter((t) => t.id !== id));
  if (!due.length) return null;
  return (
    <section class="reminders" aria-label="Reminders">
      <ul>
        {due.map((t) => (
          <li key={t.id} class="reminder" role="alert">
            <span class="reminder-text">
              <strong>Reminder:</strong> {t.title}
              {t.due_at ? ` (due ${friendly(t.due_at)})` : ""}
            </span>
            <span class="reminder-actions">
              <button type="button" onClick={() => onOpen(t.id)}>
                Open
              </button>
              <button
                type="button"
                onClick={() => {
                  onDone(t);
                  dismiss(t.id);
                }}
              >
                Mark done
              </button>
              <button type="button" onClick={() => dismiss(t.id)}>
                Dismiss
              </button>
            </span>
          </li>
        ))}
      </ul>
      {permission === "default" && (
        <p class="hint">
          <button
            type="button"
            class="link"
            onClick={() => {
              void Notification.requestPermission().then(setPermission);
            }}
          >
            Also notify me when this tab is in the background
          </button>
        </p>
      )}
    </section>
  );
}
