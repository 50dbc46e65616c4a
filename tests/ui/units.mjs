// Unit tests of the UI's pure code, compiled from TypeScript with esbuild (Vite's own) and
// run in Node: the Server-Sent Events reader of the assistant client (ui/src/chat.ts), what
// its tool chips say, tag parsing, and the date helpers.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { build } from "esbuild";
import { ROOT } from "./lib.mjs";

async function load(entry) {
  const out = await build({ entryPoints: [join(ROOT, "ui", "src", entry)], bundle: true, format: "esm", write: false, platform: "neutral", logLevel: "silent", jsx: "automatic", jsxImportSource: "preact", mainFields: ["module", "main"] });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
}

describe("UI units", () => {
  test("the SSE reader splits events, joins data lines, keeps a partial event for later", async () => {
    const { parseSse } = await load("chat.ts");
    const seen = [];
    const emit = (e, d) => seen.push([e, d]);
    let rest = parseSse('event: start\ndata: {"conversation_id":7}\n\nevent: delta\ndata: {"text":"Hel', emit);
    assert.deepEqual(seen, [["start", '{"conversation_id":7}']]);
    rest = parseSse(rest + 'lo"}\r\n\r\n: a comment\n\ndata: a\ndata: b\n\nevent: done\n', emit);
    assert.deepEqual(seen.slice(1), [["delta", '{"text":"Hello"}'], ["message", "a\nb"]]);
    assert.equal(rest, "event: done\n");
  });

  test("tool chips say what changed and point at the task", async () => {
    const { describeTool, changesTasks } = await load("chat.ts");
    assert.deepEqual(describeTool({ tool: "add_task", arguments: { title: "buy milk" }, result: { task_id: 5, status: "created", title: "buy milk" } }), { text: "Added “buy milk”", taskId: 5 });
    assert.deepEqual(describeTool({ tool: "complete_task", arguments: { task_id: 3 }, result: { task_id: 3, status: "completed", title: "x" } }), { text: "Completed “x”", taskId: 3 });
    assert.equal(describeTool({ tool: "delete_task", arguments: { task_id: 3 }, result: { task_id: 3, title: "x" } }).taskId, null);
    assert.equal(describeTool({ tool: "list_tasks", arguments: {}, result: [{}, {}] }).text, "Found 2 tasks");
    assert.equal(describeTool({ tool: "add_task", arguments: {}, result: { detail: "bad" }, is_error: true }).text, "add task failed");
    assert.equal(describeTool({ tool: "add_task", arguments: { title: "t" } }).text, "add task…");
    assert.ok(changesTasks("update_task") && !changesTasks("list_tasks"));
  });

  test("tags typed in the editor", async () => {
    const { parseTags } = await load("Editor.tsx");
    assert.deepEqual(parseTags(" home, #Errands ,, HOME, garden "), ["home", "Errands", "garden"]);
    assert.deepEqual(parseTags(""), []);
  });

  test("dates: inputs round-trip, a date alone is the end of the local day", async () => {
    const { fromInputs, toInputs, dueState } = await load("time.ts");
    const at = fromInputs("2031-03-04", "17:05");
    assert.deepEqual(toInputs(at), { date: "2031-03-04", time: "17:05" });
    const endOfDay = fromInputs("2031-03-04", "");
    assert.deepEqual(toInputs(endOfDay), { date: "2031-03-04", time: "" });
    assert.equal(new Date(endOfDay).getHours(), 23);
    assert.equal(fromInputs("", "10:00"), null);
    const now = new Date(2031, 2, 4, 12, 0, 0);
    assert.equal(dueState(new Date(2031, 2, 4, 9).toISOString(), false, now), "overdue");
    assert.equal(dueState(new Date(2031, 2, 4, 18).toISOString(), false, now), "today");
    assert.equal(dueState(new Date(2031, 2, 4, 9).toISOString(), true, now), null);
  });
});
