// The assistant's API (issue 12): POST /api/{user_id}/chat streamed as Server-Sent Events
// (start, delta, tool_call, tool_result, done, error) and the conversations routes. The
// stream is read with fetch, because EventSource can neither POST nor send a bearer token.
import { type Api, ApiError } from "./api";

export interface ToolCall {
  id: string;
  tool: string;
  arguments: Record<string, unknown>;
  result?: unknown;
  is_error?: boolean;
}

export interface ChatDone {
  conversation_id: number;
  response: string;
  tool_calls: { tool: string; arguments: Record<string, unknown>; result: unknown }[];
}

export interface ChatHandlers {
  start: (conversationId: number) => void;
  delta: (text: string) => void;
  toolCall: (c: ToolCall) => void;
  toolResult: (id: string, result: unknown, isError: boolean) => void;
  done: (d: ChatDone) => void;
}

export interface Conversation {
  id: number;
  title: string | null;
  created_at?: string;
  updated_at?: string;
}

export interface StoredMessage {
  role: string;
  content: string;
  tool_calls?: { tool: string; arguments?: Record<string, unknown>; result?: unknown }[];
}

/** Splits an SSE byte stream into (event, data) pairs; returns the unparsed rest. */
export function parseSse(buffer: string, emit: (event: string, data: string) => void): string {
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) emit(event, data.join("\n"));
  }
  return rest;
}

/** Sends one message and streams the answer into the handlers; throws ApiError on failure. */
export async function sendChat(api: Api, message: string, conversationId: number | null, h: ChatHandlers, signal: AbortSignal): Promise<void> {
  const body = conversationId === null ? { message } : { conversation_id: conversationId, message };
  const res = await api.send("POST", "/api/me/chat", body, { Accept: "text/event-stream" }, signal);
  const type = res.headers.get("Content-Type") ?? "";
  if (!type.includes("text/event-stream") || !res.body) {
    const d = (await res.json()) as ChatDone;
    h.start(d.conversation_id);
    if (d.response) h.delta(d.response);
    d.tool_calls.forEach((c, i) => {
      h.toolCall({ id: String(i), tool: c.tool, arguments: c.arguments });
      h.toolResult(String(i), c.result, false);
    });
    h.done(d);
    return;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let finished = false;
  let failure: ApiError | null = null;
  const emit = (event: string, data: string) => {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (event) {
      case "start":
        h.start(Number(v.conversation_id));
        break;
      case "delta":
        h.delta(String(v.text ?? ""));
        break;
      case "tool_call":
        h.toolCall({ id: String(v.id), tool: String(v.tool), arguments: (v.arguments as Record<string, unknown>) ?? {} });
        break;
      case "tool_result":
        h.toolResult(String(v.id), v.result, Boolean(v.is_error));
        break;
      case "done":
        finished = true;
        h.done(v as unknown as ChatDone);
        break;
      case "error":
        failure = new ApiError(502, typeof v.detail === "string" ? v.detail : "The assistant could not answer.");
        break;
      default:
    }
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer = parseSse(buffer + value, emit);
    if (done) break;
  }
  parseSse(buffer + "\n\n", emit);
  if (failure) throw failure;
  if (!finished) throw new ApiError(502, "The answer was cut off. Try again.");
}

/** The conversations, newest first. The list may come as an array or wrapped in an object. */
export async function listConversations(api: Api): Promise<Conversation[]> {
  const res = await api.send("GET", "/api/me/conversations?limit=50");
  const body = (await res.json()) as unknown;
  if (Array.isArray(body)) return body as Conversation[];
  const o = body as { conversations?: Conversation[]; items?: Conversation[] };
  return o.conversations ?? o.items ?? [];
}

export async function loadConversation(api: Api, id: number): Promise<StoredMessage[]> {
  const res = await api.send("GET", `/api/me/conversations/${id}`);
  const body = (await res.json()) as { messages?: StoredMessage[] } | StoredMessage[];
  return Array.isArray(body) ? body : (body.messages ?? []);
}

export async function renameConversation(api: Api, id: number, title: string): Promise<void> {
  await api.send("PATCH", `/api/me/conversations/${id}`, { title });
}

export async function deleteConversation(api: Api, id: number): Promise<void> {
  await api.send("DELETE", `/api/me/conversations/${id}`);
}

const CHANGING_TOOLS = new Set(["add_task", "complete_task", "delete_task", "update_task"]);

export function changesTasks(tool: string): boolean {
  return CHANGING_TOOLS.has(tool);
}

/** What a tool call did, in words, and the task it points at (if any). */
export function describeTool(c: { tool: string; arguments: Record<string, unknown>; result?: unknown; is_error?: boolean }): { text: string; taskId: number | null } {
  const r = (c.result && typeof c.result === "object" ? c.result : {}) as Record<string, unknown>;
  const id = Number(r.task_id ?? c.arguments.task_id ?? NaN);
  const taskId = Number.isFinite(id) ? id : null;
  const title = typeof r.title === "string" ? r.title : typeof c.arguments.title === "string" ? c.arguments.title : "";
  const named = title ? ` “${title}”` : taskId !== null ? ` #${taskId}` : "";
  if (c.is_error) return { text: `${c.tool.replace(/_/g, " ")} failed`, taskId };
  if (c.result === undefined) return { text: `${c.tool.replace(/_/g, " ")}…`, taskId };
  switch (c.tool) {
    case "add_task":
      return { text: `Added${named}`, taskId };
    case "complete_task":
      return { text: `Completed${named}`, taskId };
    case "delete_task":
      return { text: `Deleted${named}`, taskId: null };
    case "update_task":
      return { text: `Updated${named}`, taskId };
    case "list_tasks": {
      const n = Array.isArray(c.result) ? c.result.length : Array.isArray(r.tasks) ? r.tasks.length : null;
      return { text: n === null ? "Looked at your tasks" : `Found ${n} task${n === 1 ? "" : "s"}`, taskId: null };
    }
    default:
      return { text: c.tool.replace(/_/g, " "), taskId };
  }
}
