// The signed-in screen: counts, quick add, filters, the task list with paging, the editor,
// undo, reminders and the assistant beside the list. The list stays fresh without reloads: it
// refetches when the event stream says the user's tasks changed anywhere, on focus, on a short
// poll (a 304 from the list's ETag costs almost nothing; a fallback for a lost stream), when
// another tab says it changed something, and after every change made here.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Api, ApiError, type Stats, type TagCount, type Task, type TaskInput, type User } from "./api";
import { Assistant } from "./Assistant";
import { Editor } from "./Editor";
import { type AppNotification, listenEvents } from "./events";
import { DEFAULT_FILTERS, type Filters, loadFilters, narrowed, PAGE_SIZE, saveFilters, SORTS, type Status, toQuery } from "./filters";
import { Notifications } from "./Notifications";
import { QuickAdd } from "./QuickAdd";
import { Reminders } from "./Reminders";
import { tellTabs } from "./session";
import { TaskRow } from "./TaskRow";
import { friendly } from "./time";
import { type Toast, Toasts } from "./Toasts";

const POLL_MS = 5000;
const SEARCH_DELAY_MS = 250;

/** Where the assistant stops being a drawer and sits beside the list (styles.css). */
const WIDE = "(min-width: 1100px)";

interface Props {
  api: Api;
  user: User;
  hidden: boolean;
  tabChange: number;
  onSignOut: () => void;
}

// n numbers each opening: it keys the dialog and says whose close event a close is. A dialog's
// "close" event is queued, so it can arrive after the next opening (Esc then Enter at once).
type EditorState = { task: Task | null; draft?: TaskInput; n: number } | null;

function isTyping(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (el as HTMLInputElement).type;
  return !["checkbox", "radio", "button", "submit", "reset"].includes(type);
}

export function TasksApp({ api, user, hidden, tabChange, onSignOut }: Props) {
  const [filters, setFiltersState] = useState<Filters>(loadFilters);
  const [searchText, setSearchText] = useState(filters.search);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [total, setTotal] = useState(0);
  const [shownOffset, setShownOffset] = useState(0); // the offset of the rows on screen
  const [loaded, setLoaded] = useState(false);
  const [listError, setListError] = useState("");
  const [stats, setStats] = useState<Stats | null>(null);
  const [tags, setTags] = useState<TagCount[]>([]);
  const [selected, setSelectedState] = useState(-1);
  // The key handler reads the selection and the rows from refs: keys can arrive faster than
  // re-renders, and between a render and the effect that re-binds the handler its closure
  // still holds the previous rows (x would complete the task that used to be in that place).
  const tasksRef = useRef(tasks);
  tasksRef.current = tasks;
  const selectedRef = useRef(-1);
  const setSelected = useCallback((i: number) => {
    selectedRef.current = i;
    setSelectedState(i);
  }, []);
  const [rowErrors, setRowErrors] = useState<Record<number, string>>({});
  const [editor, setEditor] = useState<EditorState>(null);
  const editorSeq = useRef(0);
  const editorOpen = useRef(false);
  editorOpen.current = editor !== null;
  const openEditor = useCallback((task: Task | null, draft?: TaskInput) => setEditor({ task, draft, n: ++editorSeq.current }), []);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [assistantOpen, setAssistantOpen] = useState(false);
  // Below 1100 px the assistant is a drawer over the page: a modal dialog while it is open
  // (the rest of the page inert and hidden from assistive technology, Tab kept inside, Esc
  // closes it and focus goes back to the button that opened it). Wider, it is a side panel.
  const [drawer, setDrawer] = useState(() => !window.matchMedia(WIDE).matches);
  const opener = useRef<HTMLElement | null>(null);
  const restoreFocus = useRef(false);
  const [assistantAvailable, setAssistantAvailable] = useState(false);
  const [filtersOpen, setFiltersOpen] = useState(false);

  useEffect(() => {
    const mq = window.matchMedia(WIDE);
    const on = () => setDrawer(!mq.matches);
    mq.addEventListener("change", on);
    return () => mq.removeEventListener("change", on);
  }, []);

  const openAssistant = useCallback((from: HTMLElement | null) => {
    opener.current = from;
    setAssistantOpen(true);
  }, []);
  /** Closes the assistant; focus returns to its opener once the page is no longer inert. */
  const closeAssistant = useCallback(() => {
    restoreFocus.current = true;
    setAssistantOpen(false);
  }, []);
  useEffect(() => {
    if (assistantOpen || !restoreFocus.current) return;
    restoreFocus.current = false;
    (opener.current?.isConnected ? opener.current : document.querySelector<HTMLElement>(".assistant-toggle"))?.focus();
  }, [assistantOpen]);
  const [now, setNow] = useState(() => new Date());
  const [announce, setAnnounce] = useState("");

  const listRef = useRef<HTMLUListElement>(null);
  const etag = useRef<string | null>(null);
  const etagKey = useRef("");
  const seq = useRef(0);
  // The load whose page is on screen: its counts still apply when a newer load only heard 304.
  const applied = useRef(0);
  const mutating = useRef(0);
  const toastId = useRef(0);
  const focusAfterLoad = useRef<number | null>(null);

  const setFilters = useCallback((f: Partial<Filters>, keepPage = false) => {
    setFiltersState((cur) => {
      const next = { ...cur, ...f, page: keepPage ? (f.page ?? cur.page) : (f.page ?? 0) };
      saveFilters(next);
      return next;
    });
    setSelected(-1);
  }, []);

  // The day boundaries of "due today" move at midnight; re-render the relative dates too.
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), 60_000);
    return () => clearInterval(timer);
  }, []);

  const query = useMemo(() => toQuery(filters, now), [filters, now]);

  const toast = useCallback((t: Omit<Toast, "id">) => {
    const id = ++toastId.current;
    setToasts((ts) => [...ts.slice(-2), { ...t, id }]);
  }, []);

  /** Fetches the page (conditionally when the query is unchanged), then counts and tags. */
  const load = useCallback(
    async (force = false) => {
      if (hidden) return;
      const key = JSON.stringify(query);
      const my = ++seq.current;
      try {
        const r = await api.list(query, !force && key === etagKey.current ? etag.current : null);
        if (my !== seq.current || (!force && mutating.current > 0)) return;
        if (!r.changed) return;
        etagKey.current = key;
        etag.current = r.etag;
        if (r.tasks.length === 0 && r.total > 0 && query.offset > 0) {
          setFilters({ page: Math.max(0, Math.ceil(r.total / PAGE_SIZE) - 1) }, true);
          return;
        }
        applied.current = my;
        setTasks(r.tasks);
        setTotal(r.total);
        setShownOffset(query.offset);
        setLoaded(true);
        setListError("");
        const [s, t] = await Promise.all([api.stats(), api.tags()]);
        if (applied.current !== my) return;
        setStats(s);
        setTags(t);
      } catch (e) {
        if (e instanceof ApiError && e.status !== 401 && my === seq.current) setListError(e.message);
      }
    },
    [api, query, hidden, setFilters],
  );

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (tabChange) void load();
  }, [tabChange, load]);

  // The event stream (events.ts): a change made anywhere — another tab or device, the
  // assistant, an MCP client — refreshes the list at once; reminders go to the banner.
  const loadRef = useRef(load);
  loadRef.current = load;
  const [incoming, setIncoming] = useState<AppNotification[]>([]);
  // Moves whenever the unread notifications may have changed (Notifications reads it again).
  const [notifVersion, setNotifVersion] = useState(0);
  const bumpNotifications = useCallback(() => setNotifVersion((v) => v + 1), []);
  useEffect(() => {
    // The stream opens with the current version, which the first load has just read: only a
    // version that moves (a change, or one missed while reconnecting) calls for a load.
    let known: number | null = null;
    return listenEvents(api, {
      onReminder: (n) => {
        setIncoming((x) => [...x.slice(-49), n]);
        bumpNotifications();
      },
      onTasks: (v) => {
        if (known !== null && v !== known) void loadRef.current();
        known = v;
      },
    });
  }, [api]);

  // Fresh on focus and on a short poll while visible.
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === "visible") void load();
    };
    const timer = setInterval(onVisible, POLL_MS);
    window.addEventListener("focus", onVisible);
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(timer);
      window.removeEventListener("focus", onVisible);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [load]);

  // Debounced search.
  useEffect(() => {
    if (searchText === filters.search) return;
    const timer = setTimeout(() => setFilters({ search: searchText }), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [searchText, filters.search, setFilters]);

  // After a load, put focus where a keyboard user expects it (the task just saved or
  // restored), unless they have already moved on to a field or a control outside the list.
  useEffect(() => {
    const id = focusAfterLoad.current;
    if (id === null) return;
    const i = tasks.findIndex((t) => t.id === id);
    if (i < 0) return;
    focusAfterLoad.current = null;
    const active = document.activeElement;
    const movedOn = active && active !== document.body && !listRef.current?.contains(active) && !active.closest(".toasts");
    if (movedOn) return;
    setSelected(i);
    listRef.current?.querySelectorAll<HTMLButtonElement>(".task-title")[i]?.focus();
  }, [tasks, setSelected]);

  /** Runs a change, then reloads and tells the other tabs. */
  const mutate = useCallback(
    async <T,>(run: () => Promise<T>): Promise<T> => {
      mutating.current++;
      try {
        return await run();
      } finally {
        mutating.current--;
        tellTabs({ t: "changed" });
        void load(true);
      }
    },
    [load],
  );

  const setRowError = (id: number, e: unknown, fallback: string) => {
    if (e instanceof ApiError && e.status === 401) return; // the sign-in screen explains
    setRowErrors((m) => ({ ...m, [id]: e instanceof ApiError ? e.message : fallback }));
  };
  const clearRowError = (id: number) =>
    setRowErrors((m) => {
      if (!(id in m)) return m;
      const { [id]: _gone, ...rest } = m;
      return rest;
    });

  const create = useCallback(
    async (input: TaskInput) => {
      const t = await mutate(() => api.create(input));
      setAnnounce(`Added “${t.title}”.`);
    },
    [api, mutate],
  );

  const toggle = useCallback(
    async (task: Task) => {
      const done = !task.completed;
      clearRowError(task.id);
      setTasks((ts) => ts.map((t) => (t.id === task.id ? { ...t, completed: done } : t)));
      try {
        const r = await mutate(() => api.complete(task.id, done));
        if (done && r.next_task) {
          const next = r.next_task;
          toast({ text: `Completed “${task.title}”. Next one ${next.due_at ? `due ${friendly(next.due_at)}` : "added"}.` });
        } else if (done) {
          toast({ text: `Completed “${task.title}”.`, action: { label: "Undo", run: () => void mutate(() => api.complete(task.id, false)) } });
        }
      } catch (e) {
        setTasks((ts) => ts.map((t) => (t.id === task.id ? { ...t, completed: task.completed } : t)));
        setRowError(task.id, e, "Could not save that. Try again.");
      }
    },
    [api, mutate, toast],
  );

  const remove = useCallback(
    async (task: Task) => {
      clearRowError(task.id);
      setTasks((ts) => ts.filter((t) => t.id !== task.id));
      try {
        await mutate(() => api.remove(task.id));
        toast({
          text: `Deleted “${task.title}”.`,
          action: {
            label: "Undo",
            run: () => {
              focusAfterLoad.current = task.id;
              mutate(() => api.restore(task.id)).then(
                () => setAnnounce(`Restored “${task.title}”.`),
                (e: unknown) => toast({ text: e instanceof ApiError && e.status === 404 ? `Too late to undo: “${task.title}” is gone.` : `Could not restore “${task.title}”. ${e instanceof ApiError ? e.message : ""}`, error: true }),
              );
            },
          },
        });
      } catch (e) {
        setTasks((ts) => (ts.some((t) => t.id === task.id) ? ts : [...ts, task]));
        setRowError(task.id, e, "Could not delete that. Try again.");
      }
    },
    [api, mutate, toast],
  );

  const save = useCallback(
    async (task: Task | null, input: TaskInput) => {
      if (task) {
        const t = await mutate(() => api.patch(task.id, input));
        focusAfterLoad.current = t.id;
        setAnnounce(`Saved “${t.title}”.`);
      } else {
        await create(input);
      }
    },
    [api, mutate, create],
  );

  const openTask = useCallback(
    async (id: number) => {
      const local = tasks.find((t) => t.id === id);
      if (local) {
        openEditor(local);
        return;
      }
      try {
        openEditor(await api.get(id));
      } catch (e) {
        toast({ text: e instanceof ApiError ? e.message : "Could not open that task.", error: true });
      }
    },
    [api, tasks, toast, openEditor],
  );

  // Keyboard: n new task, / search, j/k move, x complete, Enter open, Esc close.
  useEffect(() => {
    const focusRow = (i: number) => {
      setSelected(i);
      listRef.current?.querySelectorAll<HTMLButtonElement>(".task-title")[i]?.focus();
    };
    const onKey = (e: KeyboardEvent) => {
      if (hidden || editorOpen.current || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "Escape") {
        if (assistantOpen) closeAssistant();
        else if (isTyping(e.target)) (e.target as HTMLElement).blur();
        return;
      }
      if (isTyping(e.target)) return;
      const inAssistant = e.target instanceof HTMLElement && e.target.closest(".assistant, .notif");
      if (inAssistant) return;
      const rows = tasksRef.current;
      switch (e.key) {
        case "n":
          e.preventDefault();
          document.getElementById("quick-add")?.focus();
          break;
        case "/":
          e.preventDefault();
          document.getElementById("search")?.focus();
          break;
        case "j":
          e.preventDefault();
          if (rows.length) focusRow(Math.min(rows.length - 1, selectedRef.current + 1));
          break;
        case "k":
          e.preventDefault();
          if (rows.length) focusRow(Math.max(0, selectedRef.current - 1));
          break;
        case "x": {
          const t = rows[selectedRef.current];
          if (t) {
            e.preventDefault();
            void toggle(t);
          }
          break;
        }
        case "Enter": {
          const t = rows[selectedRef.current];
          const onControl = e.target instanceof HTMLElement && e.target.closest("button, a, input, select, textarea");
          if (t && !onControl) {
            e.preventDefault();
            openEditor(t);
          }
          break;
        }
        default:
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [hidden, toggle, assistantOpen, closeAssistant, setSelected, openEditor]);

  const statusButton = (label: string, count: number | undefined, active: boolean, apply: Partial<Filters>, cls = "") => (
    <li>
      <button type="button" class={`count ${cls}`} aria-pressed={active} onClick={() => setFilters({ ...DEFAULT_FILTERS, sort: filters.sort, ...apply })}>
        <span class="count-num">{count ?? "–"}</span> <span class="count-label">{label}</span>
      </button>
    </li>
  );

  // The pager describes the rows on screen, not a page still loading.
  const from = total === 0 ? 0 : shownOffset + 1;
  const to = Math.min(total, shownOffset + tasks.length);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const onlyStatus = !narrowed(filters);
  const statusLabel: Record<Status, string> = { all: "All", pending: "To do", completed: "Done" };
  const modal = assistantOpen && assistantAvailable && drawer;
  // What a modal drawer puts behind it.
  const behind = { inert: modal, "aria-hidden": modal ? ("true" as const) : undefined };

  return (
    <div class={["shell", assistantAvailable ? "with-assistant" : "", assistantOpen ? "assistant-open" : ""].filter(Boolean).join(" ")} hidden={hidden} inert={hidden}>
      <a class="skip-link" href="#tasks-heading" {...behind}>
        Skip to tasks
      </a>
      <header class="topbar" {...behind}>
        <div class="brand">
          <span class="logo" aria-hidden="true" />
          <span class="brand-name">todo</span>
        </div>
        <nav aria-label="Counts">
          <ul class="counts">
            {statusButton("to do", stats?.pending, onlyStatus && filters.status === "pending", { status: "pending" })}
            {statusButton("overdue", stats?.overdue, filters.due === "overdue" && !filters.priority && !filters.tag && !filters.search, { status: "pending", due: "overdue" }, stats?.overdue ? "warn" : "")}
            {statusButton("due today", stats?.due_today, filters.due === "today" && !filters.priority && !filters.tag && !filters.search, { status: "pending", due: "today" })}
            {statusButton("done", stats?.completed, onlyStatus && filters.status === "completed", { status: "completed" })}
          </ul>
        </nav>
        <div class="top-actions">
          {assistantAvailable && (
            <button type="button" class="assistant-toggle" aria-expanded={assistantOpen} aria-controls="assistant" onClick={(e) => (assistantOpen ? closeAssistant() : openAssistant(e.currentTarget))}>
              Assistant
            </button>
          )}
          <Notifications api={api} version={notifVersion} onOpenTask={(id) => void openTask(id)} />
          <span class="who" title={user.email}>
            {user.name || user.email}
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <div class="layout">
        <main class="tasks-pane" aria-labelledby="tasks-heading" {...behind}>
          <h1 id="tasks-heading" class="sr-only" tabIndex={-1}>
            Tasks
          </h1>
          <QuickAdd api={api} onCreate={create} onDetails={(draft) => openEditor(null, draft)} />
          <search class={filtersOpen ? "filters expanded" : "filters"} aria-label="Filter tasks">
            <div class="filter search-filter">
              <label for="search">Search</label>
              <input id="search" type="search" value={searchText} placeholder="Search titles and descriptions" maxLength={200} onInput={(e) => setSearchText(e.currentTarget.value)} />
            </div>
            <button type="button" class="filters-toggle" aria-expanded={filtersOpen} onClick={() => setFiltersOpen((o) => !o)}>
              Filters{narrowed(filters) || filters.status !== "pending" ? " •" : ""}
            </button>
            <div class="filter">
              <label for="filter-status">Show</label>
              <select id="filter-status" value={filters.status} onChange={(e) => setFilters({ status: e.currentTarget.value as Status })}>
                <option value="pending">To do</option>
                <option value="completed">Done</option>
                <option value="all">All</option>
              </select>
            </div>
            <div class="filter">
              <label for="filter-priority">Priority</label>
              <select id="filter-priority" value={filters.priority} onChange={(e) => setFilters({ priority: e.currentTarget.value as Filters["priority"] })}>
                <option value="">Any</option>
                <option value="high">High</option>
                <option value="medium">Medium</option>
                <option value="low">Low</option>
              </select>
            </div>
            <div class="filter">
              <label for="filter-tag">Tag</label>
              <select id="filter-tag" value={filters.tag} onChange={(e) => setFilters({ tag: e.currentTarget.value })}>
                <option value="">Any</option>
                {filters.tag && !tags.some((t) => t.name.toLowerCase() === filters.tag.toLowerCase()) && <option value={filters.tag}>{filters.tag}</option>}
                {tags.map((t) => (
                  <option key={t.name} value={t.name}>
                    {t.name} ({t.count})
                  </option>
                ))}
              </select>
            </div>
            <div class="filter">
              <label for="filter-due">When</label>
              <select id="filter-due" value={filters.due} onChange={(e) => setFilters({ due: e.currentTarget.value as Filters["due"] })}>
                <option value="">Any time</option>
                <option value="overdue">Overdue</option>
                <option value="today">Due today</option>
                <option value="week">Next 7 days</option>
              </select>
            </div>
            <div class="filter">
              <label for="filter-sort">Sort</label>
              <select id="filter-sort" value={filters.sort} onChange={(e) => setFilters({ sort: e.currentTarget.value as Filters["sort"] })}>
                {SORTS.map((s) => (
                  <option key={s.key} value={s.key}>
                    {s.label}
                  </option>
                ))}
              </select>
            </div>
            {narrowed(filters) && (
              <button
                type="button"
                class="link clear"
                onClick={() => {
                  setSearchText("");
                  setFilters({ priority: "", tag: "", search: "", due: "" });
                }}
              >
                Clear filters
              </button>
            )}
          </search>
          <section class="list-section" aria-labelledby="list-heading">
            <h2 id="list-heading" class="list-heading">
              {statusLabel[filters.status]}
              {filters.tag ? ` · #${filters.tag}` : ""}
              {loaded && <span class="list-count"> {total === 1 ? "1 task" : `${total.toLocaleString()} tasks`}</span>}
            </h2>
            {listError && (
              <p class="form-error" role="alert">
                {listError}{" "}
                <button type="button" class="link" onClick={() => void load(true)}>
                  Try again
                </button>
              </p>
            )}
            {loaded && stats && tasks.length === 0 && !listError && (
              <div class="empty">
                {stats && stats.total === 0 ? (
                  <>
                    <p class="empty-title">No tasks yet.</p>
                    <p>Type one above and press Enter, for example “Call mom tomorrow 6pm #family”.</p>
                  </>
                ) : narrowed(filters) ? (
                  <>
                    <p class="empty-title">Nothing matches these filters.</p>
                    <button
                      type="button"
                      class="link"
                      onClick={() => {
                        setSearchText("");
                        setFilters({ priority: "", tag: "", search: "", due: "" });
                      }}
                    >
                      Clear filters
                    </button>
                  </>
                ) : filters.status === "pending" ? (
                  <p class="empty-title">All done. Nothing left to do.</p>
                ) : (
                  <p class="empty-title">Nothing here yet.</p>
                )}
              </div>
            )}
            <ul class="task-list" ref={listRef} aria-labelledby="list-heading">
              {tasks.map((t, i) => (
                <TaskRow
                  key={t.id}
                  task={t}
                  now={now}
                  selected={i === selected}
                  error={rowErrors[t.id]}
                  onFocus={() => setSelected(i)}
                  onToggle={() => void toggle(t)}
                  onOpen={() => openEditor(t)}
                  onDelete={() => void remove(t)}
                  onTag={(tag) => setFilters({ tag })}
                />
              ))}
            </ul>
            {total > PAGE_SIZE && (
              <nav class="pager" aria-label="Pages">
                <button type="button" disabled={filters.page === 0} onClick={() => setFilters({ page: filters.page - 1 }, true)}>
                  Previous
                </button>
                <span>
                  {from.toLocaleString()}–{to.toLocaleString()} of {total.toLocaleString()} · page {Math.floor(shownOffset / PAGE_SIZE) + 1} of {pages.toLocaleString()}
                </span>
                <button type="button" disabled={filters.page + 1 >= pages} onClick={() => setFilters({ page: filters.page + 1 }, true)}>
                  Next
                </button>
              </nav>
            )}
          </section>
          <p class="shortcuts" aria-hidden="true">
            <kbd>n</kbd> new · <kbd>/</kbd> search · <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>x</kbd> done · <kbd>Enter</kbd> open · <kbd>Esc</kbd> close
          </p>
        </main>
        <Assistant
          api={api}
          open={assistantOpen}
          modal={modal}
          onClose={closeAssistant}
          onTasksChanged={() => void load(true)} onOpenTask={(id) => void openTask(id)} onAvailability={setAssistantAvailable} />
      </div>
      <div class="overlays" {...behind}>
        <Reminders api={api} incoming={incoming} onOpen={(id) => void openTask(id)} onDone={(t) => void toggle(t)} onRead={bumpNotifications} />
        <Toasts toasts={toasts} onClose={(id) => setToasts((ts) => ts.filter((t) => t.id !== id))} />
      </div>
      <div class="sr-only" aria-live="polite">
        {announce}
      </div>
      {editor && (
        <Editor
          key={editor.n}
          task={editor.task}
          draft={editor.draft}
          suspended={hidden}
          onSave={(input) => save(editor.task, input)}
          onDelete={editor.task ? () => void remove(editor.task as Task) : undefined}
          onClose={() => {
            // Only this opening's close: a newer one may already be open.
            if (editorSeq.current !== editor.n) return;
            setEditor(null);
            // Back to the task the editor was opened from (the dialog's own restore can land
            // on an element a re-render replaced).
            const i = editor.task ? tasks.findIndex((t) => t.id === editor.task?.id) : -1;
            if (i >= 0) requestAnimationFrame(() => listRef.current?.querySelectorAll<HTMLButtonElement>(".task-title")[i]?.focus());
          }}
        />
      )}
    </div>
  );
}
