// The assistant panel against the real chat API (issue 12): a request typed in the panel
// changes the list without a reload and shows what it did as chips (a chip opens its task);
// a model's reply streams into the panel as it is written; past conversations are listed,
// reopened, renamed and deleted; the browser's time zone becomes the account's, so
// "tomorrow" is the user's. One server uses the offline assistant, another a scripted
// OpenAI-compatible model served from this process.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { DESKTOP, PHONE, client, newPage, row, shot, sleep, startServer, T, uiSignup, waitFor } from "./lib.mjs";

/** A minimal OpenAI-compatible chat completions server: each request takes the next step of
 * the script ({calls: [[name, args]]} or {pieces: [...], delay}) and streams it. */
async function scriptedModel() {
  const script = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const step = script.shift() ?? { pieces: ["OK."] };
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
      const send = (delta, finish = null) =>
        res.write(`data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
      (step.calls ?? []).forEach(([name, args], i) => send({ tool_calls: [{ index: i, id: `call_${i}`, type: "function", function: { name, arguments: args } }] }));
      for (const p of step.pieces ?? []) {
        send({ content: p });
        if (step.delay) await sleep(step.delay);
      }
      send({}, step.calls ? "tool_calls" : "stop");
      res.end("data: [DONE]\n\n");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/v1`, script, close: () => new Promise((r) => server.close(r)) };
}

const panel = (page) => page.getByRole("complementary", { name: "Assistant" });

async function ask(page, text) {
  const box = panel(page).getByRole("textbox", { name: "Message the assistant" });
  await box.fill(text);
  await box.press("Enter");
}

/** The last assistant message's text (not the "Thinking…" placeholder). */
const lastReply = (page) => panel(page).locator(".msg.assistant .msg-text:not(.typing)").last();

describe("the assistant panel", () => {
  let offline;
  let model;
  let withModel;
  before(async () => {
    offline = await startServer({ env: { CHAT_RATE_LIMIT_PER_MINUTE: "1000" } });
    model = await scriptedModel();
    withModel = await startServer({
      env: { LLM_PROVIDER: "custom", LLM_BASE_URL: model.url, LLM_MODEL: "scripted", LLM_TIMEOUT_SECONDS: "10", CHAT_RATE_LIMIT_PER_MINUTE: "1000" },
    });
  });
  after(async () => {
    await withModel?.stop();
    await offline?.stop();
    await model?.close();
  });

  test("add buy milk tomorrow: the list shows it without a reload, and its chip opens it", { timeout: T(90000) }, async () => {
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP });
    try {
      await page.goto(`${offline.base}/`);
      await uiSignup(page);
      await panel(page).waitFor();
      await ask(page, "add buy milk tomorrow");
      await row(page, "Buy milk").waitFor();
      await waitFor(async () => /Added/.test(await lastReply(page).innerText()), "the reply");
      const chip = panel(page).getByRole("button", { name: "Added “Buy milk”" });
      await chip.waitFor();
      await shot(page, "assistant-added");
      await chip.click();
      const dlg = page.getByRole("dialog", { name: "Edit task" });
      await dlg.waitFor();
      assert.equal(await dlg.getByLabel("Title").inputValue(), "Buy milk");
      await page.keyboard.press("Escape");
      // a question answered from the list, with a chip that says what was looked at
      await ask(page, "what's due tomorrow?");
      await waitFor(async () => /Buy milk/.test(await lastReply(page).innerText()), "the answer lists the task");
      await panel(page).getByText(/Found 1 task/).waitFor();
      // completing through the assistant updates the list in place: the default view shows
      // pending tasks, so the completed one leaves it
      await ask(page, "complete buy milk");
      await waitFor(async () => (await row(page, "Buy milk").count()) === 0, "the completed task leaves the pending list");
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  test("a model's reply streams into the panel and its tool calls show as chips", { timeout: T(90000) }, async () => {
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP });
    try {
      await page.goto(`${withModel.base}/`);
      await uiSignup(page);
      await panel(page).waitFor();
      model.script.push({ calls: [["add_task", '{"title":"Streamed task"}']] });
      model.script.push({ pieces: ["I added ", "Streamed task ", "to your list, ", "due whenever ", "you like."], delay: 400 });
      await ask(page, "add streamed task");
      const full = "I added Streamed task to your list, due whenever you like.";
      // seen while it is still being written: a part of the reply, then all of it
      let partial = "";
      await waitFor(async () => {
        const t = (await lastReply(page).count()) ? await lastReply(page).innerText() : "";
        if (t && t !== full) partial = t;
        return partial !== "";
      }, "a partial reply", T(15000));
      assert.ok(full.startsWith(partial) && partial.length < full.length, partial);
      await waitFor(async () => (await lastReply(page).innerText()) === full, "the whole reply", T(15000));
      await panel(page).getByRole("button", { name: "Added “Streamed task”" }).waitFor();
      await row(page, "Streamed task").waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  test("conversations: listed, reopened, renamed, deleted", { timeout: T(90000) }, async () => {
    const { ctx, page, problems } = await newPage({ viewport: PHONE });
    try {
      await page.goto(`${offline.base}/`);
      await uiSignup(page);
      await page.getByRole("button", { name: "Assistant" }).click();
      await panel(page).waitFor();
      await ask(page, "add alpha");
      await waitFor(async () => /Added/.test(await lastReply(page).innerText()), "the first reply");
      await panel(page).getByRole("button", { name: "New chat" }).click();
      await ask(page, "add beta");
      await waitFor(async () => /beta/i.test(await lastReply(page).innerText()), "the second reply");
      await panel(page).getByRole("button", { name: "History" }).click();
      const list = panel(page).getByRole("navigation", { name: "Conversations" });
      await waitFor(async () => (await list.getByRole("listitem").count()) === 2, "two conversations");
      const convTitles = await list.locator(".conv-title").allInnerTexts();
      assert.deepEqual(convTitles, ["add beta", "add alpha"]);
      await list.getByRole("button", { name: "add alpha", exact: true }).click();
      await waitFor(async () => (await panel(page).locator(".msg.user").allInnerTexts()).some((t) => /add alpha/.test(t)), "the old conversation");
      await panel(page).getByRole("button", { name: "Added “Alpha”" }).waitFor();
      await panel(page).getByRole("button", { name: "History" }).click();
      await list.getByRole("button", { name: "Rename “add alpha”" }).click();
      await list.getByLabel("New name").fill("Greek letters");
      await list.getByRole("button", { name: "Save" }).click();
      await list.getByRole("button", { name: "Greek letters", exact: true }).waitFor();
      await list.getByRole("button", { name: "Delete “add beta”" }).click();
      await waitFor(async () => (await list.locator(".conv-title").allInnerTexts()).join("|") === "Greek letters", "one conversation left");
      await shot(page, "assistant-history-phone");
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  test("the browser's time zone becomes the account's: tomorrow is the user's", { timeout: T(60000) }, async () => {
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP, timezoneId: "Pacific/Kiritimati" });
    try {
      await page.goto(`${offline.base}/`);
      await uiSignup(page);
      const token = await page.evaluate(() => {
        for (const s of [sessionStorage, localStorage])
          for (let i = 0; i < s.length; i++) {
            const v = s.getItem(s.key(i) ?? "") ?? "";
            const m = /"token":"([^"]+)"/.exec(v);
            if (m) return m[1];
          }
        return null;
      });
      assert.ok(token, "the session's token");
      const api = client(offline.base, token);
      await waitFor(async () => (await api("GET", "/api/auth/me")).json?.timezone === "Pacific/Kiritimati", "the zone adopted");
      await ask(page, "add call mom tomorrow at 9am");
      await row(page, "Call mom").waitFor();
      const tasks = (await api("GET", "/api/me/tasks")).json;
      const due = new Date(tasks[0].due_at);
      const local = new Intl.DateTimeFormat("en-CA", { timeZone: "Pacific/Kiritimati", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", hour12: false }).format(due);
      const tomorrow = new Intl.DateTimeFormat("en-CA", { timeZone: "Pacific/Kiritimati", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(Date.now() + 86400000));
      assert.equal(local, `${tomorrow}, 09`);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
