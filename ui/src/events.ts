// The user's event stream (GET /api/me/events, Server-Sent Events): reminders as they fire and
// "your tasks changed" when any client — another tab or device, the assistant, an MCP client —
// changes them. Read with fetch rather than EventSource, which cannot send the Authorization
// header. The stream reconnects by itself (after the server's `retry`, 3 s) until stopped, and
// stops for good when the session ends (401: the app returns to sign-in).
import { type Api, ApiError, type AppNotification } from "./api";

export type { AppNotification };

export interface EventHandlers {
  /** A reminder fired. */
  onReminder: (n: AppNotification) => void;
  /** The user's tasks are at this version (on connect, and after every change). */
  onTasks: (version: number) => void;
}

const BUFFER_MAX = 1 << 20;

/** Splits one event block into its name and data and hands it on. */
function dispatch(block: string, h: EventHandlers, setRetry: (ms: number) => void): void {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "retry" && /^\d+$/.test(value)) setRetry(Number(value));
  }
  if (!data.length) return;
  try {
    const body = JSON.parse(data.join("\n")) as unknown;
    if (event === "reminder") h.onReminder(body as AppNotification);
    else if (event === "tasks" || event === "ready") h.onTasks((body as { version: number }).version);
  } catch {
    /* a malformed event is skipped; the next one is read */
  }
}

/** Listens until the returned function is called. */
export function listenEvents(api: Api, h: EventHandlers): () => void {
  const ctl = new AbortController();
  let retry = 3000;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      ctl.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const run = async () => {
    while (!ctl.signal.aborted) {
      try {
        const res = await api.send("GET", "/api/me/events", undefined, { Accept: "text/event-stream" }, ctl.signal);
        if (!res.body) throw new Error("no body");
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf = (buf + value).replace(/\r\n?/g, "\n");
          let i: number;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            dispatch(buf.slice(0, i), h, (ms) => (retry = ms));
            buf = buf.slice(i + 2);
          }
          if (buf.length > BUFFER_MAX) break;
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return;
      }
      await pause(retry);
    }
  };
  void run();
  return () => ctl.abort();
}
