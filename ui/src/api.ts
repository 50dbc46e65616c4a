// The todo API as the UI uses it: typed requests to its own origin, errors turned into
// sentences a person understands, and conditional listing (ETag / 304) for cheap polling.
// The contract is docs/api.md and docs/openapi.json; the assistant's part is issue 12's.

export type Priority = "high" | "medium" | "low";
export type Recurrence = "none" | "daily" | "weekly" | "monthly" | "yearly";

export interface Task {
  id: number;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  completed_at: string | null;
  priority: Priority;
  tags: string[];
  due_at: string | null;
  remind_at: string | null;
  recurrence: Recurrence;
  recurrence_interval: number;
  created_at: string;
  updated_at: string;
}

/** What create and patch take (every field optional for a patch). */
export interface TaskInput {
  title?: string;
  description?: string | null;
  completed?: boolean;
  priority?: Priority;
  tags?: string[];
  due_at?: string | null;
  remind_at?: string | null;
  recurrence?: Recurrence;
  recurrence_interval?: number;
}

export interface User {
  id: string;
  email: string;
  name: string | null;
  created_at: string;
  /** The user's IANA time zone ("UTC" until set): the assistant's "today" and "tomorrow". */
  timezone?: string;
}

/** The browser's IANA time zone ("Europe/Paris"), or null when it cannot tell. */
export function browserTimeZone(): string | null {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

export interface AuthAnswer {
  user: User;
  token: string;
}

export interface Stats {
  total: number;
  completed: number;
  pending: number;
  overdue: number;
  due_today: number;
}

export interface TagCount {
  name: string;
  count: number;
}

/** The listing query, as GET /api/{user_id}/tasks takes it. */
export interface ListQuery {
  status?: "all" | "pending" | "completed";
  priority?: Priority;
  tag?: string;
  search?: string;
  overdue?: boolean;
  due_after?: string;
  due_before?: string;
  sort?: "created" | "updated" | "title" | "due_date" | "priority";
  order?: "asc" | "desc";
  limit: number;
  offset: number;
}

export type ListResult =
  | { changed: false }
  | { changed: true; tasks: Task[]; total: number; etag: string | null };

/** An API failure: `message` is ready to show; `fields` maps a field name to its problem. */
export class ApiError extends Error {
  readonly status: number;
  readonly fields: Record<string, string>;
  constructor(status: number, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

interface ValidationItem {
  loc?: unknown[];
  msg?: string;
  type?: string;
}

const FIELD_NAMES: Record<string, string> = {
  title: "Title",
  description: "Description",
  tags: "Tags",
  due_at: "Due date",
  remind_at: "Reminder",
  recurrence_interval: "Repeat interval",
  email: "Email",
  password: "Password",
  name: "Name",
  message: "Message",
};

/** One 422 item in plain words. */
function fieldMessage(field: string, item: ValidationItem): string {
  // The quick-add parser explains its 422s in full sentences already.
  if (field === "text" && item.msg) return item.msg.endsWith(".") ? item.msg : `${item.msg}.`;
  const label = FIELD_NAMES[field] ?? "This field";
  switch (item.type) {
    case "missing":
      return `${label} is required.`;
    case "string_too_short":
      return field === "title" ? "Give the task a title." : `${label} is too short.`;
    case "string_too_long":
      return `${label} is too long.`;
    case "datetime_parsing":
      return `${label} is not a valid date.`;
    default:
      return item.msg ? `${label}: ${item.msg.replace(/\.$/, "")}.` : `${label} is not valid.`;
  }
}

/** Turns an error answer into an ApiError with words a person understands. */
async function toError(res: Response): Promise<ApiError> {
  let detail: unknown = null;
  try {
    detail = ((await res.json()) as { detail?: unknown }).detail;
  } catch {
    /* not JSON: fall back to the status */
  }
  const text = typeof detail === "string" ? detail : "";
  switch (res.status) {
    case 401:
      return new ApiError(401, text === "Invalid email or password" ? "That email and password don't match an account." : "Your session has expired. Please sign in again.");
    case 403:
      return new ApiError(403, "That belongs to another account.");
    case 404:
      return new ApiError(404, text || "That no longer exists. It may have been deleted in another tab.");
    case 409:
      return new ApiError(409, text || "That conflicts with a change made elsewhere. Try again.");
    case 413:
      return new ApiError(413, "That is too long to save.");
    case 415:
    case 400:
      return new ApiError(res.status, text || "The server could not read that request.");
    case 422: {
      const fields: Record<string, string> = {};
      const items = Array.isArray(detail) ? (detail as ValidationItem[]) : [];
      for (const item of items) {
        const loc = Array.isArray(item.loc) ? item.loc : [];
        const field = String(loc[loc.length - 1] ?? "");
        if (!(field in fields)) fields[field] = fieldMessage(field, item);
      }
      const first = Object.values(fields)[0];
      return new ApiError(422, first ?? "Some of that is not valid.", fields);
    }
    case 429: {
      const wait = Number(res.headers.get("Retry-After") || "0");
      return new ApiError(429, wait > 0 ? `Too many attempts. Try again in ${wait} seconds.` : "Too many attempts. Try again in a moment.");
    }
    case 502:
    case 503:
    case 504:
      return new ApiError(res.status, text || "The server is busy or unavailable. Try again in a moment.");
    default:
      return new ApiError(res.status, "Something went wrong on the server. Try again in a moment.");
  }
}

export const OFFLINE_MESSAGE = "Can't reach the server. Check your connection and try again; nothing you typed is lost.";

function queryString(q: ListQuery): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === "" || v === null) continue;
    p.append(k, String(v));
  }
  return p.toString();
}

/** A notification: a reminder that fired (GET /api/{user_id}/notifications, the event stream). */
export interface AppNotification {
  id: number;
  kind: "reminder";
  task_id: number | null;
  title: string;
  remind_at: string | null;
  created_at: string;
  read_at: string | null;
  read: boolean;
}

export interface ApiOptions {
  token: () => string | null;
  /** Called when an authenticated call gets 401: the token expired or was revoked. */
  onUnauthorized: () => void;
}

/** The HTTP client. Every path is on the page's own origin. */
export class Api {
  constructor(private readonly opts: ApiOptions) {}

  /** Sends one request; resolves with the Response when it is 2xx or 304, else throws ApiError. */
  async send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    const h: Record<string, string> = { Accept: "application/json", ...headers };
    const token = this.opts.token();
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "same-origin",
        signal,
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError(0, OFFLINE_MESSAGE);
    }
    if (res.ok || res.status === 304) return res;
    const err = await toError(res);
    if (res.status === 401 && token) this.opts.onUnauthorized();
    throw err;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    return (await res.json()) as T;
  }

  signup(email: string, password: string, name: string): Promise<AuthAnswer> {
    return this.json("POST", "/api/auth/signup", name ? { email, password, name } : { email, password });
  }

  /** Gives an account still on the default zone (UTC) the browser's zone, so that the
   * assistant's "tomorrow" is the user's. Best effort: a zone the server does not know, or a
   * failure, changes nothing. */
  async adoptTimeZone(a: AuthAnswer): Promise<void> {
    const tz = browserTimeZone();
    if (!tz || tz === "UTC" || tz === "Etc/UTC" || (a.user.timezone && a.user.timezone !== "UTC")) return;
    try {
      await fetch("/api/auth/me", {
        method: "PATCH",
        headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${a.token}` },
        body: JSON.stringify({ timezone: tz }),
        cache: "no-store",
        credentials: "same-origin",
      });
    } catch {
      /* offline: the next sign-in tries again */
    }
  }

  /** Asks for a password reset link by email (always accepted: no account enumeration). */
  async forgotPassword(email: string): Promise<void> {
    await this.send("POST", "/api/auth/forgot-password", { email });
  }

  /** Sets a new password with the token of a reset link; every other session ends. */
  async resetPassword(token: string, password: string): Promise<void> {
    await this.send("POST", "/api/auth/reset-password", { token, password });
  }

  login(email: string, password: string): Promise<AuthAnswer> {
    return this.json("POST", "/api/auth/login", { email, password });
  }

  /** One page of tasks; `changed: false` when the server says the copy tagged etag is current. */
  async list(q: ListQuery, etag: string | null): Promise<ListResult> {
    const res = await this.send("GET", `/api/me/tasks?${queryString(q)}`, undefined, etag ? { "If-None-Match": etag } : {});
    if (res.status === 304) return { changed: false };
    const tasks = (await res.json()) as Task[];
    const total = Number(res.headers.get("X-Total-Count") ?? tasks.length);
    return { changed: true, tasks, total, etag: res.headers.get("ETag") };
  }

  get(id: number): Promise<Task> {
    return this.json("GET", `/api/me/tasks/${id}`);
  }

  create(t: TaskInput): Promise<Task> {
    return this.json("POST", "/api/me/tasks", t);
  }

  patch(id: number, t: TaskInput): Promise<Task> {
    return this.json("PATCH", `/api/me/tasks/${id}`, t);
  }

  async remove(id: number): Promise<void> {
    await this.send("DELETE", `/api/me/tasks/${id}`);
  }

  restore(id: number): Promise<Task> {
    return this.json("POST", `/api/me/tasks/${id}/restore`);
  }

  complete(id: number, completed: boolean): Promise<Task & { next_task: Task | null }> {
    return this.json("PATCH", `/api/me/tasks/${id}/complete`, { completed });
  }

  stats(): Promise<Stats> {
    return this.json("GET", "/api/me/tasks/stats");
  }

  tags(): Promise<TagCount[]> {
    return this.json("GET", "/api/me/tags");
  }

  /** The user's notifications, newest first: a page of at most limit, older than the id
   * before when given; only the unread ones when unread is set. */
  notifications(q: { unread?: boolean; before?: number; limit?: number } = {}): Promise<AppNotification[]> {
    const p = new URLSearchParams();
    if (q.unread) p.set("unread", "true");
    if (q.before) p.set("before", String(q.before));
    if (q.limit) p.set("limit", String(q.limit));
    const qs = p.toString();
    return this.json("GET", `/api/me/notifications${qs ? `?${qs}` : ""}`);
  }

  /** Marks every notification read; resolves with how many changed. */
  async readAllNotifications(): Promise<number> {
    return (await this.json<{ updated: number }>("POST", "/api/me/notifications/read-all")).updated;
  }

  /** Marks a reminder's notification read (dismissed, opened or done in this or another tab). */
  async markNotification(id: number, read: boolean): Promise<void> {
    await this.send("PATCH", `/api/me/notifications/${id}`, { read });
  }

  /** The server's reading of quick-add shorthand ("tomorrow 5pm #home !high"): a TaskCreate
   * object, nothing created. The one parser lives on the server, shared with the assistant. */
  parse(text: string, signal?: AbortSignal): Promise<TaskInput> {
    const utc_offset_minutes = -new Date().getTimezoneOffset();
    return this.send("POST", "/api/me/tasks/parse", { text, utc_offset_minutes }, {}, signal).then((r) => r.json() as Promise<TaskInput>);
  }
}
