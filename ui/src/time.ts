// Dates as people read them, in the browser's own time zone. The API speaks UTC RFC 3339;
// everything shown or typed here is local time.

const DAY_MS = 86_400_000;

export function startOfDay(d: Date): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

/** The local day's bounds as UTC RFC 3339 (for due_after / due_before). */
export function dayBounds(d: Date, days = 1): { after: string; before: string } {
  const start = startOfDay(d);
  const end = new Date(start.getFullYear(), start.getMonth(), start.getDate() + days, 0, 0, -1);
  return { after: iso(start), before: iso(end) };
}

/** RFC 3339 in UTC without milliseconds, as the API writes it. */
export function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export type DueState = "overdue" | "today" | "soon" | "later" | null;

export function dueState(dueAt: string | null, completed: boolean, now = new Date()): DueState {
  if (!dueAt || completed) return null;
  const due = new Date(dueAt);
  if (due.getTime() < now.getTime()) return "overdue";
  const days = Math.round((startOfDay(due).getTime() - startOfDay(now).getTime()) / DAY_MS);
  if (days === 0) return "today";
  return days <= 7 ? "soon" : "later";
}

/** True when the time is the last second of its local day: a due date without a time. */
function isEndOfDay(d: Date): boolean {
  return d.getHours() === 23 && d.getMinutes() === 59;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const dateFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const yearFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });

/** "today 5:00 PM", "tomorrow", "Fri 9:30 AM", "Tue 8 Dec", "8 Dec 2027". */
export function friendly(at: string, now = new Date()): string {
  const d = new Date(at);
  const days = Math.round((startOfDay(d).getTime() - startOfDay(now).getTime()) / DAY_MS);
  const time = isEndOfDay(d) ? "" : ` ${timeFmt.format(d)}`;
  if (days === 0) return `today${time}`;
  if (days === 1) return `tomorrow${time}`;
  if (days === -1) return `yesterday${time}`;
  if (days > 1 && days < 7) return `${weekdayFmt.format(d)}${time}`;
  if (d.getFullYear() === now.getFullYear()) return `${dateFmt.format(d)}${time}`;
  return `${yearFmt.format(d)}${time}`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** A stored time as the values of a date and a time input ("" when absent or end of day). */
export function toInputs(at: string | null): { date: string; time: string } {
  if (!at) return { date: "", time: "" };
  const d = new Date(at);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return { date, time: isEndOfDay(d) ? "" : `${pad(d.getHours())}:${pad(d.getMinutes())}` };
}

/** Date and time inputs back to UTC RFC 3339; a date alone is the end of that local day. */
export function fromInputs(date: string, time: string): string | null {
  if (!date) return null;
  const [y, m, d] = date.split("-").map(Number);
  if (!y || !m || !d) return null;
  let local: Date;
  if (time) {
    const [hh, mm] = time.split(":").map(Number);
    local = new Date(y, m - 1, d, hh ?? 0, mm ?? 0, 0);
  } else {
    local = new Date(y, m - 1, d, 23, 59, 59);
  }
  return Number.isNaN(local.getTime()) ? null : iso(local);
}
