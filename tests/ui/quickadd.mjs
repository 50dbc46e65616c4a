// Quick add with the shorthand the offline assistant understands: the server's parser
// (POST /api/{user_id}/tasks/parse) reads the line, the hint shows what it understood while
// typing, Enter creates exactly that task, and a line the parser refuses shows why and is kept.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiSignup, DESKTOP, newPage, row, startServer, T } from "./lib.mjs";

describe("quick add shorthand", () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  test("“tomorrow 5pm #home !high” becomes a due, tagged, high-priority task", { timeout: T(60000) }, async () => {
    const user = await apiSignup(srv.base);
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP, allow: [{ status: [422], path: /^\/api\/me\/tasks\/parse$/ }] });
    try {
      await page.goto(`${srv.base}/`);
      await page.evaluate((s) => sessionStorage.setItem("todo.session", JSON.stringify(s)), { token: user.token, user: user.user });
      await page.reload();
      await page.getByText("No tasks yet.").waitFor();
      const quick = page.getByRole("textbox", { name: "Add a task" });
      await quick.fill("Water plants tomorrow 5pm #home !high");
      await page.getByText("Will add “Water plants” · due tomorrow 5:00 PM · high priority · #home").waitFor();
      await quick.press("Enter");
      const r = row(page, "Water plants");
      await r.waitFor();
      const meta = await r.locator(".task-meta").innerText();
      assert.match(meta, /Due tomorrow 5:00 PM/);
      assert.match(meta, /High priority/);
      assert.match(meta, /#home/);
      const [task] = (await user.api("GET", "/api/me/tasks")).json;
      const due = new Date(task.due_at);
      const expected = new Date();
      expected.setDate(expected.getDate() + 1);
      expected.setHours(17, 0, 0, 0);
      assert.equal(due.getTime(), expected.getTime(), `due_at ${task.due_at} is tomorrow 5 pm here`);
      assert.deepEqual([task.title, task.priority, task.tags], ["Water plants", "high", ["home"]]);

      // Only shorthand, no title: the parser's reason is shown and the line is kept.
      await quick.fill("tomorrow 5pm #home");
      await quick.press("Enter");
      await page.getByRole("alert").filter({ hasText: "No task title found" }).waitFor();
      assert.equal(await quick.inputValue(), "tomorrow 5pm #home");
      assert.equal((await user.api("GET", "/api/me/tasks")).json.length, 1, "nothing else was created");
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
