// What the list shows: the filters a person picks, kept in sessionStorage so a reload keeps
// them, and their translation into the API's listing query.
import type { ListQuery, Priority } from "./api";
import { dayBounds } from "./time";

export const PAGE_SIZE = 50;

export type Status = "all" | "pending" | "completed";
export type Due = "" | "overdue" | "today" | "week";
export type SortKey = "created-desc" | "created-asc" | "due_date-asc" | "priority-asc" | "title-asc" | "updated-desc";

export interface Filters {
  status: Status;
  priority: "" | Priority;
  tag: string;
  search: string;
  due: Due;
  sort: SortKey;
  page: number;
}

export const DEFAULT_FILTERS: Filters = { status: "pending", priority: "", tag: "", search: "", due: "", sort: "created-desc", page: 0 };

export const SORTS: { key: SortKey; label: string }[] = [
  { key: "created-desc", label: "Newest first" },
  { key: "created-asc", label: "Oldest first" },
  { key: "due_date-asc", label: "Due date" },
  { key: "priority-asc", label: "Priority" },
  { key: "title-asc", label: "Title (A–Z)" },
  { key: "updated-desc", label: "Recently changed" },
];

const KEY = "todo.filters";

export function loadFilters(): Filters {
  try {
    const f = JSON.parse(sessionStorage.getItem(KEY) || "null") as Partial<Filters> | null;
    return f ? { ...DEFAULT_FILTERS, ...f } : DEFAULT_FILTERS;
  } catch {
    return DEFAULT_FILTERS;
  }
}

export function saveFilters(f: Filters): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(f));
  } catch {
    /* storage disabled */
  }
}

/** True when something narrows the list beyond the status. */
export function narrowed(f: Filters): boolean {
  return Boolean(f.priority || f.tag || f.search.trim() || f.due);
}

export function toQuery(f: Filters, now = new Date()): ListQuery {
  const [sort, order] = f.sort.split("-") as [ListQuery["sort"], ListQuery["order"]];
  const q: ListQuery = { status: f.status, sort, order, limit: PAGE_SIZE, offset: f.page * PAGE_SIZE };
  if (f.priority) q.priority = f.priority;
  if (f.tag) q.tag = f.tag;
  if (f.search.trim()) q.search = f.search.trim();
  if (f.due === "overdue") q.overdue = true;
  if (f.due === "today" || f.due === "week") {
    const b = dayBounds(now, f.due === "today" ? 1 : 7);
    q.due_after = b.after;
    q.due_before = b.before;
  }
  return q;
}
