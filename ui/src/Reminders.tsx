// Reminders while the page is open: the server fires each reminder once (whatever the number
// of tabs, devices and replicas) and sends it on the user's event stream (events.ts); it shows
// here as a banner and, if the person allowed it and the tab is in the background, a system
// notification. Dismissing, opening or completing it marks the notification read. Nothing is
// polled: the banner comes from the stream.
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError, type Task } from "./api";
import type { AppNotification } from "./events";

interface Props {
  api: Api;
  /** Reminders received on the event stream, oldest first (the parent appends). */
  incoming: AppNotification[];
  onOpen: (id: number) => void;
  onDone: (t: Task) => void;
  /** A banner marked its notification read. */
  onRead: () => void;
}

export function Reminders({ api, incoming, onOpen, onDone, onRead }: Props) {
  const [due, setDue] = useState<AppNotification[]>([]);
  const [permission, setPermission] = useState<NotificationPermission | "unsupported">(() => (typeof Notification === "function" ? Notification.permission : "unsupported"));
  const seen = useRef(new Set<number>());

  useEffect(() => {
    const fresh = incoming.filter((n) => !seen.current.has(n.id));
    if (!fresh.length) return;
    for (const n of fresh) {
      seen.current.add(n.id);
      if (typeof Notification === "function" && Notification.permission === "granted" && document.visibilityState !== "visible") {
        try {
          new Notification(`Reminder: ${n.title}`, { tag: `todo-${n.task_id ?? n.id}` });
        } catch {
          /* some platforms only allow notifications from a service worker: the banner stays */
        }
      }
    }
    setDue((d) => [...d.filter((x) => !fresh.some((f) => f.task_id !== null && f.task_id === x.task_id)), ...fresh]);
  }, [incoming]);

  const dismiss = (n: AppNotification) => {
    setDue((d) => d.filter((x) => x.id !== n.id));
    api.markNotification(n.id, true).then(onRead, (e: unknown) => {
      if (!(e instanceof ApiError)) throw e;
    });
  };
  const done = (n: AppNotification) => {
    dismiss(n);
    if (n.task_id === null) return;
    api.get(n.task_id).then(
      (t) => {
        if (!t.completed) onDone(t);
      },
      (e: unknown) => {
        if (!(e instanceof ApiError)) throw e;
      },
    );
  };
  if (!due.length) return null;
  return (
    <section class="reminders" aria-label="Reminders">
      <ul>
        {due.map((n) => (
          <li key={n.id}>
            <div class="reminder" role="alert">
              <span class="reminder-text">
                <strong>Reminder:</strong> {n.title}
              </span>
              <span class="reminder-actions">
                {n.task_id !== null && (
                  <button
                    type="button"
                    onClick={() => {
                      if (n.task_id !== null) onOpen(n.task_id);
                      dismiss(n);
                    }}
                  >
                    Open
                  </button>
                )}
                {n.task_id !== null && (
                  <button type="button" onClick={() => done(n)}>
                    Mark done
                  </button>
                )}
                <button type="button" onClick={() => dismiss(n)}>
                  Dismiss
                </button>
              </span>
            </div>
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
