// The assistant panel: beside the list on wide screens, a drawer on phones. Replies stream in
// (the panel's size never changes while they do), each tool call shows as a chip saying what
// changed (a click opens the task), the list refreshes when a tool changed tasks, and past
// conversations can be opened, renamed and deleted. Screen readers hear each finished reply
// through a live region. A server without the chat API (issue 12) hides the panel.
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError } from "./api";
import { changesTasks, type Conversation, deleteConversation, describeTool, listConversations, loadConversation, renameConversation, sendChat, type ToolCall } from "./chat";

interface Props {
  api: Api;
  open: boolean;
  /** A drawer over the page (phones, tablets): the panel is a modal dialog that keeps Tab
   * inside (the parent makes the rest of the page inert and handles Esc). */
  modal: boolean;
  onClose: () => void;
  onTasksChanged: () => void;
  onOpenTask: (id: number) => void;
  onAvailability?: (available: boolean) => void;
}

interface Message {
  role: "user" | "assistant";
  text: string;
  tools: ToolCall[];
  error?: string;
  pending?: boolean;
}

const SUGGESTIONS = ["Add buy milk tomorrow at 5pm", "What's due today?", "Show my high priority tasks", "What's overdue?"];
const DRAFT_KEY = "todo.draft.chat";

/** Keeps Tab and Shift+Tab inside the element whose keydown this is (a modal dialog). */
function trapTab(e: KeyboardEvent) {
  if (e.key !== "Tab") return;
  const box = e.currentTarget as HTMLElement;
  const all = [...box.querySelectorAll<HTMLElement>("a[href], button, input, select, textarea, [tabindex]")].filter(
    (el) => !(el as HTMLButtonElement).disabled && el.tabIndex >= 0 && el.getClientRects().length > 0,
  );
  if (!all.length) return;
  const first = all[0];
  const last = all[all.length - 1];
  const at = document.activeElement;
  if (e.shiftKey && (at === first || !box.contains(at))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (at === last || !box.contains(at))) {
    e.preventDefault();
    first.focus();
  }
}

export function Assistant({ api, open, modal, onClose, onTasksChanged, onOpenTask, onAvailability }: Props) {
  const [available, setAvailable] = useState<boolean | null>(null);
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [current, setCurrent] = useState<number | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [input, setInput] = useState(() => sessionStorage.getItem(DRAFT_KEY) ?? "");
  const [busy, setBusy] = useState(false);
  const [announce, setAnnounce] = useState("");
  const [historyOpen, setHistoryOpen] = useState(false);
  const [renaming, setRenaming] = useState<number | null>(null);
  const [renameText, setRenameText] = useState("");
  const [panelError, setPanelError] = useState("");
  const scroller = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const abort = useRef<AbortController | null>(null);

  const refreshList = () =>
    listConversations(api).then(
      (c) => {
        setConversations(c);
        setAvailable(true);
      },
      (e: unknown) => {
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) setAvailable(false);
      },
    );

  useEffect(() => {
    void refreshList();
    return () => abort.current?.abort();
  }, []); // once: the panel's own first look


  useEffect(() => {
    if (available !== null) onAvailability?.(available);
  }, [available, onAvailability]);

  useEffect(() => {
    try {
      if (input) sessionStorage.setItem(DRAFT_KEY, input);
      else sessionStorage.removeItem(DRAFT_KEY);
    } catch {
      /* storage disabled */
    }
  }, [input]);

  useEffect(() => {
    if (open) inputRef.current?.focus();
  }, [open]);

  useEffect(() => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages]);

  const updateLast = (f: (m: Message) => Message) => setMessages((ms) => (ms.length ? [...ms.slice(0, -1), f(ms[ms.length - 1] as Message)] : ms));

  const send = async (text: string) => {
    const message = text.trim();
    if (!message || busy) return;
    setBusy(true);
    setPanelError("");
    setMessages((ms) => [...ms, { role: "user", text: message, tools: [] }, { role: "assistant", text: "", tools: [], pending: true }]);
    setInput("");
    const ctl = new AbortController();
    abort.current = ctl;
    let changed = false;
    try {
      await sendChat(
        api,
        message,
        current,
        {
          start: (id) => setCurrent(id),
          delta: (t) => updateLast((m) => ({ ...m, text: m.text + t })),
          toolCall: (c) => updateLast((m) => ({ ...m, tools: [...m.tools, c] })),
          toolResult: (id, result, isError) => {
            updateLast((m) => ({ ...m, tools: m.tools.map((c) => (c.id === id ? { ...c, result, is_error: isError } : c)) }));
            setMessages((ms) => {
              const tool = ms[ms.length - 1]?.tools.find((c) => c.id === id);
              if (tool && changesTasks(tool.tool) && !isError) {
                changed = true;
                onTasksChanged();
              }
              return ms;
            });
          },
          done: (d) => {
            setCurrent(d.conversation_id);
            updateLast((m) => ({ ...m, text: m.text || d.response, pending: false }));
            setAnnounce(d.response);
            if (!changed && d.tool_calls.some((c) => changesTasks(c.tool))) onTasksChanged();
          },
        },
        ctl.signal,
      );
      void refreshList();
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") return;
      const msg = e instanceof ApiError ? (e.status === 404 && !current ? "The assistant is not available on this server." : e.message) : "The assistant could not answer. Try again.";
      updateLast((m) => ({ ...m, pending: false, error: msg }));
      setAnnounce(msg);
      setInput((cur) => cur || message);
    } finally {
      setBusy(false);
    }
  };

  const openConversation = async (id: number) => {
    setPanelError("");
    try {
      const stored = await loadConversation(api, id);
      setMessages(
        stored
          .filter((m) => m.role === "user" || m.role === "assistant")
          .map((m) => ({
            role: m.role as "user" | "assistant",
            text: m.content,
            tools: (m.tool_calls ?? []).map((c, i) => ({ id: String(i), tool: c.tool, arguments: c.arguments ?? {}, result: c.result ?? null })),
          })),
      );
      setCurrent(id);
      setHistoryOpen(false);
    } catch (e) {
      setPanelError(e instanceof ApiError ? e.message : "Could not open that conversation.");
    }
  };

  const newConversation = () => {
    abort.current?.abort();
    setCurrent(null);
    setMessages([]);
    setHistoryOpen(false);
    inputRef.current?.focus();
  };

  const rename = async (id: number) => {
    const title = renameText.trim();
    setRenaming(null);
    if (!title) return;
    try {
      await renameConversation(api, id, title);
      void refreshList();
    } catch (e) {
      setPanelError(e instanceof ApiError ? e.message : "Could not rename that conversation.");
    }
  };

  const remove = async (id: number) => {
    try {
      await deleteConversation(api, id);
      if (id === current) newConversation();
      void refreshList();
    } catch (e) {
      setPanelError(e instanceof ApiError ? e.message : "Could not delete that conversation.");
    }
  };

  if (available === false) return null;
  return (
    <aside id="assistant" class={open ? "assistant open" : "assistant"} aria-labelledby="assistant-heading">
      <div
        class="assistant-body"
        role={modal ? "dialog" : undefined}
        aria-modal={modal ? "true" : undefined}
        aria-labelledby={modal ? "assistant-heading" : undefined}
        onKeyDown={modal ? trapTab : undefined}
      >
        <div class="assistant-head">
          <h2 id="assistant-heading">Assistant</h2>
          <button type="button" aria-expanded={historyOpen} aria-controls="conversations" onClick={() => setHistoryOpen((o) => !o)}>
            History
          </button>
          <button type="button" onClick={newConversation}>
            New chat
          </button>
          <button type="button" class="icon close-drawer" aria-label="Close the assistant" onClick={onClose}>
            ×
          </button>
        </div>
        {historyOpen && (
          <nav id="conversations" class="conversations" aria-label="Conversations">
            {conversations.length === 0 ? (
              <p class="hint">No conversations yet.</p>
            ) : (
              <ul>
                {conversations.map((c) => (
                  <li key={c.id} class={c.id === current ? "current" : ""}>
                    {renaming === c.id ? (
                      <form
                        onSubmit={(e) => {
                          e.preventDefault();
                          void rename(c.id);
                        }}
                      >
                        <label class="sr-only" for={`rename-${c.id}`}>
                          New name
                        </label>
                        <input id={`rename-${c.id}`} value={renameText} maxLength={200} onInput={(e) => setRenameText(e.currentTarget.value)} />
                        <button type="submit">Save</button>
                      </form>
                    ) : (
                      <>
                        <button type="button" class="conv-title" aria-current={c.id === current ? "true" : undefined} onClick={() => void openConversation(c.id)}>
                          {c.title || `Conversation ${c.id}`}
                        </button>
                        <button
                          type="button"
                          class="link"
                          onClick={() => {
                            setRenaming(c.id);
                            setRenameText(c.title ?? "");
                          }}
                          aria-label={`Rename “${c.title || `Conversation ${c.id}`}”`}
                        >
                          Rename
                        </button>
                        <button type="button" class="link" onClick={() => void remove(c.id)} aria-label={`Delete “${c.title || `Conversation ${c.id}`}”`}>
                          Delete
                        </button>
                      </>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </nav>
        )}
        {panelError && (
          <p class="form-error" role="alert">
            {panelError}
          </p>
        )}
        <div class="messages" ref={scroller}>
          {messages.length === 0 && (
            <div class="suggestions">
              <p>Ask me to add, find, change or complete tasks. For example:</p>
              <ul>
                {SUGGESTIONS.map((s) => (
                  <li key={s}>
                    <button type="button" class="suggestion" onClick={() => void send(s)} disabled={busy}>
                      {s}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          )}
          {messages.map((m, i) => (
            <div key={i} class={`msg ${m.role}`}>
              <span class="sr-only">{m.role === "user" ? "You:" : "Assistant:"}</span>
              {m.text && <p class="msg-text">{m.text}</p>}
              {m.pending && !m.text && <p class="msg-text typing">Thinking…</p>}
              {m.tools.length > 0 && (
                <ul class="chips" aria-label="What the assistant did">
                  {m.tools.map((c) => {
                    const d = describeTool(c);
                    return (
                      <li key={c.id}>
                        {d.taskId !== null && !c.is_error ? (
                          <button type="button" class="chip" onClick={() => onOpenTask(d.taskId as number)}>
                            {d.text}
                          </button>
                        ) : (
                          <span class={c.is_error ? "chip error" : "chip"}>{d.text}</span>
                        )}
                      </li>
                    );
                  })}
                </ul>
              )}
              {m.error && (
                <p class="msg-error">
                  {m.error}
                </p>
              )}
            </div>
          ))}
        </div>
        <div class="sr-only" aria-live="polite" aria-atomic="true">
          {announce}
        </div>
        <form
          class="composer"
          onSubmit={(e) => {
            e.preventDefault();
            void send(input);
          }}
        >
          <label for="chat-input" class="sr-only">
            Message the assistant
          </label>
          <textarea
            id="chat-input"
            ref={inputRef}
            rows={2}
            maxLength={4000}
            placeholder="Message the assistant (Enter to send)"
            value={input}
            onInput={(e) => setInput(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                void send(input);
              }
            }}
          />
          <button type="submit" class="primary" disabled={busy || !input.trim()}>
            Send
          </button>
        </form>
      </div>
    </aside>
  );
}
