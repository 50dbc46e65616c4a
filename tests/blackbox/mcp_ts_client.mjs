// The official TypeScript MCP SDK (@modelcontextprotocol/sdk, what MCP Inspector, Claude
// Code and VS Code are built on) as a client of todo, for test_mcp_ts_sdk.py.
//
//   node mcp_ts_client.mjs http URL        (TODO_TOKEN: the bearer token)
//   node mcp_ts_client.mjs stdio BINARY    (the environment is passed to `BINARY mcp --stdio`)
//
// Connects, lists the tools and calls every one of them (the SDK checks each result's
// structuredContent against the tool's outputSchema), then an unknown tool and a tool error;
// prints one JSON object with what it saw. Any failure exits 1 with the error on stderr.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, where] = process.argv.slice(2);
const token = process.env.TODO_TOKEN;
const transport =
  mode === "http"
    ? new StreamableHTTPClientTransport(new URL(where), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      })
    : new StdioClientTransport({ command: where, args: ["mcp", "--stdio"], env: process.env, stderr: "inherit" });

const client = new Client({ name: "todo-ts-sdk-test", version: "1.0.0" });
const timer = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, Number(process.env.TS_CLIENT_TIMEOUT_MS || 60000));

try {
  await client.connect(transport);
  const out = { server: client.getServerVersion(), instructions: client.getInstructions() };
  if (mode === "http") out.protocolVersion = transport.protocolVersion;
  out.tools = (await client.listTools()).tools.map((t) => t.name);
  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content)}`);
    if (JSON.stringify(JSON.parse(r.content[0].text)) !== JSON.stringify(r.structuredContent))
      throw new Error(`${name}: the text block is not the structured content`);
    return r.structuredContent;
  };
  const added = await call("add_task", {
    title: "from the TypeScript SDK",
    priority: "high",
    tags: ["ts"],
    due_at: "2030-01-07",
    recurrence: "weekly",
  });
  const id = added.task_id;
  out.results = {
    add_task: added,
    list_tasks: await call("list_tasks", { tag: "ts", status: "pending" }),
    get_task: await call("get_task", { task_id: id }),
    update_task: await call("update_task", { task_id: id, title: "renamed by TS" }),
    list_tags: await call("list_tags", {}),
    task_stats: await call("task_stats", {}),
    complete_task: await call("complete_task", { task_id: id }),
    delete_task: await call("delete_task", { task_id: id }),
  };
  const missing = await client.callTool({ name: "get_task", arguments: { task_id: id } });
  out.toolError = { isError: missing.isError, text: missing.content[0].text };
  try {
    await client.callTool({ name: "no_such_tool", arguments: {} });
    out.unknownTool = null;
  } catch (e) {
    out.unknownTool = { code: e.code, message: e.message };
  }
  if (mode === "http") await transport.terminateSession();
  await client.close();
  process.stdout.write(JSON.stringify(out) + "\n");
  clearTimeout(timer);
} catch (e) {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
}
