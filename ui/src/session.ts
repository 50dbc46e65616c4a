// The signed-in session: the token and the user, kept in memory and in sessionStorage (so a
// reload keeps it, closing the browser forgets it; never localStorage, never a cookie).
// Tabs of the same origin talk over a BroadcastChannel: a new tab asks an open one for the
// session, a sign-in or sign-out reaches every tab, and a change to the tasks makes the
// others refresh at once.
import type { User } from "./api";

export interface Session {
  token: string;
  user: User;
}

const KEY = "todo.session";
const ASK_TIMEOUT_MS = 250;

type Message =
  | { t: "ask" }
  | { t: "share"; s: Session }
  | { t: "signout" }
  | { t: "changed" };

const channel: BroadcastChannel | null = typeof BroadcastChannel === "function" ? new BroadcastChannel("todo") : null;

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return s && typeof s.token === "string" && s.user && typeof s.user.id === "string" ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  try {
    if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
    else sessionStorage.removeItem(KEY);
  } catch {
    /* storage disabled: the session lives in memory only */
  }
}

/** Signing out forgets what this tab kept for the user: drafts and filters (everything under
 * "todo." in sessionStorage). An expiry keeps them, so the same user can carry on. */
export function forgetTabState(): void {
  try {
    for (const k of Object.keys(sessionStorage)) if (k.startsWith("todo.")) sessionStorage.removeItem(k);
  } catch {
    /* storage disabled */
  }
}

/** Asks the other open tabs for their session; null when none answers in time. */
export function askOtherTabs(): Promise<Session | null> {
  const ch = channel;
  if (!ch) return Promise.resolve(null);
  return new Promise((resolve) => {
    const done = (s: Session | null) => {
      ch.removeEventListener("message", onMessage);
      clearTimeout(timer);
      resolve(s);
    };
    const onMessage = (e: MessageEvent<Message>) => {
      if (e.data?.t === "share") done(e.data.s);
    };
    const timer = setTimeout(() => done(null), ASK_TIMEOUT_MS);
    ch.addEventListener("message", onMessage);
    ch.postMessage({ t: "ask" } satisfies Message);
  });
}

export interface TabEvents {
  /** Another tab asks for the session: return it to share it. */
  current: () => Session | null;
  signedIn: (s: Session) => void;
  signedOut: () => void;
  changed: () => void;
}

/** Subscribes to the other tabs; returns the unsubscribe function. */
export function listenToTabs(ev: TabEvents): () => void {
  const ch = channel;
  if (!ch) return () => undefined;
  const onMessage = (e: MessageEvent<Message>) => {
    const m = e.data;
    if (m?.t === "ask") {
      const s = ev.current();
      if (s) ch.postMessage({ t: "share", s } satisfies Message);
    } else if (m?.t === "share") ev.signedIn(m.s);
    else if (m?.t === "signout") ev.signedOut();
    else if (m?.t === "changed") ev.changed();
  };
  ch.addEventListener("message", onMessage);
  return () => ch.removeEventListener("message", onMessage);
}

export function tellTabs(m: Message): void {
  channel?.postMessage(m);
}

/** The token's expiry in epoch milliseconds, or null when it cannot be read. */
export function tokenExpiry(token: string): number | null {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}
