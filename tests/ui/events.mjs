// The event stream in the browser (issue 14): the page listens to GET /api/me/events; a
// change made by another client reaches the list at once (well inside the 5 s fallback poll),
// and a reminder arrives as a banner whose dismissal marks its notification read.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiSignup, DESKTOP, newPage, row, startServer, T } from "./lib.mjs";

describe("event stream", () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { REMINDER_POLL_MS: "200", EVENTS_POLL_MS: "200" } });
  });
  after(async () => {
    await srv?.stop();
  });

  test("changes made elsewhere and reminders arrive on the stream", { timeout: T(90000) }, async () => {
    const user = await apiSignup(srv.base);
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP });
    try {
      const stream = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/me/events", { timeout: T(15000) });
      await page.goto(`${srv.base}/`);
      await page.evaluate((s) => sessionStorage.setItem("todo.session", JSON.stringify(s)), { token: user.token, user: user.user });
      await page.reload();
      await page.getByText("No tasks yet.").waitFor();
      const res = await stream;
      assert.equal(res.status(), 200);
      assert.match(res.headers()["content-type"], /^text\/event-stream/);
      // Three changes by another client: each shows within 2 s, which the 5 s poll alone
      // would miss most of the time.
      for (const title of ["From my phone", "From the assistant", "From a script"]) {
        const t0 = Date.now();
        assert.equal((await user.api("POST", "/api/me/tasks", { title })).status, 201);
        await row(page, title).waitFor({ timeout: T(10000) });
        assert.ok(Date.now() - t0 < T(2000), `"${title}" took ${Date.now() - t0} ms`);
      }
      // A reminder: the banner, no list polling for it; dismissing marks it read.
      const made = await user.api("POST", "/api/me/tasks", { title: "Call the plumber", remind_at: new Date(Date.now() + 1500).toISOString() });
      assert.equal(made.status, 201);
      const banner = page.getByRole("alert").filter({ hasText: "Call the plumber" });
      await banner.waitFor({ timeout: T(15000) });
      const marked = page.waitForResponse((r) => r.request().method() === "PATCH" && /^\/api\/me\/notifications\/\d+$/.test(new URL(r.url()).pathname), { timeout: T(10000) });
      await banner.getByRole("button", { name: "Dismiss" }).click();
      await banner.waitFor({ state: "detached" });
      assert.equal((await marked).status(), 200);
      const notes = (await user.api("GET", "/api/me/notifications")).json;
      assert.equal(notes.length, 1);
      assert.equal(notes[0].task_id, made.json.id);
      assert.equal(notes[0].read, true);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
