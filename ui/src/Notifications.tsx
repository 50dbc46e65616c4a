// The notifications screen: every reminder that fired, newest first, including those that
// fired while no page was open (GET /api/{user_id}/notifications). The top bar's button shows
// the unread count and opens the list as a panel under it; each unread item can be marked
// read, or all at once (PATCH …/notifications/{id}, POST …/notifications/read-all), and a
// reminder of a task opens it. The count is read again when a reminder arrives on the event
// stream, when a banner marks one read, and when the panel opens. Escape or Close closes the
// panel and returns focus to its button.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError, type AppNotification } from "./api";
import { friendly } from "./time";

const PAGE = 50;
/** The count is read as one page of unread notifications: "200+" past it. */
const COUNT_MAX = 200;

interface Props {
  api: Api;
  /** Changes whenever the unread count may have changed elsewhere (a reminder arrived, a
   * banner marked one read). */
  version: number;
  onOpenTask: (id: number) => void;
}

export function Notifications({ api, version, onOpenTask }: Props) {
  const [open, setOpen] = useState(false);
  const [unread, setUnread] = useState<number | null>(null);
  const [items, setItems] = useState<AppNotification[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState("");
  // The panel hangs under the top bar's button (whose row differs with the screen's width).
  const [top, setTop] = useState(56);
  const button = useRef<HTMLButtonElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  const failed = (e: unknown, what: string) => {
    if (!(e instanceof ApiError)) throw e;
    setError(e.status === 0 ? e.message : what);
  };

  const count = useCallback(() => {
    api.notifications({ unread: true, limit: COUNT_MAX }).then(
      (n) => setUnread(n.length),
      (e: unknown) => {
        if (!(e instanceof ApiError)) throw e;
      },
    );
  }, [api]);

  const load = useCallback(() => {
    api.notifications({ limit: PAGE }).then(
      (n) => {
        setItems(n);
        setMore(n.length === PAGE);
        setError("");
      },
      (e: unknown) => failed(e, "Could not load the notifications."),
    );
  }, [api]);

  useEffect(count, [count, version]);
  useEffect(() => {
    if (open) load();
  }, [open, load, version]);

  const close = () => {
    setOpen(false);
    button.current?.focus();
  };

  const older = () => {
    const last = items?.[items.length - 1];
    if (!last) return;
    api.notifications({ before: last.id, limit: PAGE }).then(
      (n) => {
        setItems((cur) => [...(cur ?? []), ...n]);
        setMore(n.length === PAGE);
      },
      (e: unknown) => failed(e, "Could not load older notifications."),
    );
  };

  const markRead = (n: AppNotification) => {
    api.markNotification(n.id, true).then(
      () => {
        setItems((cur) => cur?.map((x) => (x.id === n.id ? { ...x, read: true, read_at: new Date().toISOString() } : x)) ?? null);
        setUnread((u) => (u === null ? u : Math.max(0, u - 1)));
        count();
      },
      (e: unknown) => failed(e, "Could not mark it read."),
    );
  };

  const readAll = () => {
    api.readAllNotifications().then(
      () => {
        setItems((cur) => cur?.map((x) => (x.read ? x : { ...x, read: true, read_at: new Date().toISOString() })) ?? null);
        setUnread(0);
      },
      (e: unknown) => failed(e, "Could not mark them read."),
    );
  };

  const shown = unread === null ? "" : unread >= COUNT_MAX ? `${COUNT_MAX}+` : String(unread);
  return (
    <div
      class="notif"
      onKeyDown={(e) => {
        if (e.key === "Escape" && open) {
          e.preventDefault();
          e.stopPropagation();
          close();
        }
      }}
    >
      <button
        type="button"
        ref={button}
        class="notif-toggle"
        aria-expanded={open}
        aria-controls="notifications"
        onClick={(e) => {
          if (!open) {
            setTop(Math.round(e.currentTarget.getBoundingClientRect().bottom) + 6);
            requestAnimationFrame(() => heading.current?.focus());
          }
          setOpen((o) => !o);
        }}
      >
        Notifications{" "}
        {unread !== null && unread > 0 && (
          <span class="badge">
            {shown}
            <span class="sr-only"> unread</span>
          </span>
        )}
      </button>
      {open && (
        <section id="notifications" class="notif-panel" aria-labelledby="notifications-heading" style={{ top: `${top}px`, maxHeight: `calc(100vh - ${top + 8}px)` }}>
          <div class="notif-head">
            <h2 id="notifications-heading" ref={heading} tabIndex={-1}>
              Notifications
            </h2>
            <button type="button" class="link" onClick={readAll} disabled={!unread}>
              Mark all read
            </button>
            <button type="button" class="icon" aria-label="Close notifications" onClick={close}>
              ×
            </button>
          </div>
          <p class="sr-only" aria-live="polite">
            {unread === null ? "" : unread === 0 ? "No unread notifications." : `${shown} unread.`}
          </p>
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
          {items === null ? (
            <p class="hint">Loading…</p>
          ) : items.length === 0 ? (
            <p class="hint">No notifications yet. A task’s reminder shows here once it fires, even when no page is open.</p>
          ) : (
            <ul class="notif-list" aria-labelledby="notifications-heading">
              {items.map((n) => (
                <li key={n.id} class={n.read ? "notif-item" : "notif-item unread"}>
                  <p class="notif-title">
                    <span class="notif-state">{n.read ? "Read" : "Unread"}</span> Reminder: <strong>{n.title}</strong>
                  </p>
                  <p class="notif-when">
                    {n.remind_at ? `for ${friendly(n.remind_at)} · ` : ""}
                    <time dateTime={n.created_at}>fired {friendly(n.created_at)}</time>
                  </p>
                  <p class="notif-actions">
                    {n.task_id !== null && (
                      <button
                        type="button"
                        class="link"
                        aria-label={`Open “${n.title}”`}
                        onClick={() => {
                          if (n.task_id === null) return;
                          if (!n.read) markRead(n);
                          setOpen(false);
                          onOpenTask(n.task_id);
                        }}
                      >
                        Open
                      </button>
                    )}
                    {!n.read && (
                      <button type="button" class="link" aria-label={`Mark read: “${n.title}”`} onClick={() => markRead(n)}>
                        Mark read
                      </button>
                    )}
                  </p>
                </li>
              ))}
            </ul>
          )}
          {more && (
            <button type="button" class="link" onClick={older}>
              Show older
            </button>
          )}
        </section>
      )}
    </div>
  );
}
