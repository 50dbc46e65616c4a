// The event stream in the browser (issue 14): the page listens to GET /api/me/events; a
// change made by another client reaches the list at once (well inside the 5 s fallback poll),
// and a reminder arrives as a banner whose dismissal marks its notification read. And the
// password reset: ask for the link, open it (from the log: EMAIL_PROVIDER=console), choose a
// new password, sign in with it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiSignup, DESKTOP, newPage, PHONE, row, sleep, startServer, T } from "./lib.mjs";

describe("event stream", () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { REMINDER_POLL_MS: "200", EVENTS_POLL_MS: "200", LOG_LEVEL: "INFO" } });
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

  test("forgot password: the link from the email sets a new password", { timeout: T(90000) }, async () => {
    const user = await apiSignup(srv.base);
    const { ctx, page, problems } = await newPage({ viewport: PHONE, allow: [{ status: [401], path: /^\/api\/auth\/login$/ }] });
    let link = null;
    try {
      await page.goto(`${srv.base}/`);
      await page.getByRole("button", { name: "Forgot your password?" }).click();
      await page.getByRole("heading", { name: "Reset your password" }).waitFor();
      await page.getByLabel("Email").fill(user.email);
      await page.getByRole("button", { name: "Send the link" }).click();
      await page.getByText("If an account uses this address").waitFor();
      for (let i = 0; i < 200 && !link; i++) {
        const line = srv.log.join("").split("\n").find((l) => l.includes('"kind":"password_reset"') && l.includes(user.email));
        if (line) link = JSON.parse(line).link;
        else await sleep(50);
      }
      assert.ok(link, "the reset email is in the log");
      await page.goto(link);
      await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
      await page.getByLabel("New password", { exact: true }).fill("a brand new password");
      await page.getByRole("button", { name: "Set the new password" }).click();
      await page.getByText("Your password is changed.").waitFor();
      assert.equal(new URL(page.url()).pathname, "/", "the token leaves the address bar");
      // The old token no longer works; the new password does.
      assert.equal((await user.api("GET", "/api/auth/me")).status, 401);
      await page.getByLabel("Email").fill(user.email);
      await page.getByLabel("Password").fill("a brand new password");
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.getByText("No tasks yet.").waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
    // A used link says so in words (another browser, signed out).
    const other = await newPage({ viewport: PHONE, allow: [{ status: [400], path: /^\/api\/auth\/reset-password$/ }] });
    try {
      await other.page.goto(link);
      await other.page.getByLabel("New password", { exact: true }).fill("yet another password");
      await other.page.getByRole("button", { name: "Set the new password" }).click();
      await other.page.getByText("This reset link is invalid, used or expired").waitFor();
      assert.deepEqual(other.problems, []);
    } finally {
      await other.ctx.close();
    }
  });
});
