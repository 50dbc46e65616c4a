// Sessions and time: an expired token returns to sign-in with a message and everything typed
// (the quick-add line, an open editor) is still there after signing in again; a token the
// server stops accepting (its secret changed) does the same through the API's 401; a
// reminder whose time passes while the page is open shows a banner.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { apiSignup, craftToken, DESKTOP, newPage, PASSWORD, PHONE, row, shot, startServer, T } from "./lib.mjs";

describe("sessions and reminders", () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  test("an expired token returns to sign-in and keeps what was typed", { timeout: T(90000) }, async () => {
    const user = await apiSignup(srv.base);
    await user.api("POST", "/api/me/tasks", { title: "Existing task" });
    const { ctx, page, problems } = await newPage({ viewport: PHONE });
    try {
      const exp = Math.floor(Date.now() / 1000) + 12;
      await ctx.addInitScript((s) => {
        if (!sessionStorage.getItem("todo.session")) sessionStorage.setItem("todo.session", s);
      }, JSON.stringify({ token: craftToken(user.user, exp), user: user.user }));
      await page.goto(`${srv.base}/`);
      await row(page, "Existing task").waitFor();
      await page.getByRole("textbox", { name: "Add a task" }).fill("Half-typed idea");
      await row(page, "Existing task").getByRole("button", { name: "Existing task", exact: true }).click();
      const dlg = page.getByRole("dialog", { name: "Edit task" });
      await dlg.getByLabel("Description").fill("Notes I do not want to lose");
      await page.getByText("Your session has expired. Sign in again").waitFor({ timeout: T(30000) });
      assert.equal(await page.getByLabel("Email").inputValue(), user.email, "the email is offered again");
      await shot(page, "session-expired-phone");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await dlg.waitFor();
      assert.equal(await dlg.getByLabel("Description").inputValue(), "Notes I do not want to lose");
      await dlg.getByRole("button", { name: "Save" }).click();
      await dlg.waitFor({ state: "detached" });
      assert.equal(await page.getByRole("textbox", { name: "Add a task" }).inputValue(), "Half-typed idea");
      const t = (await user.api("GET", "/api/me/tasks")).json.find((x) => x.title === "Existing task");
      assert.equal(t.description, "Notes I do not want to lose", "the save went through with the new token");
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  test("a token the server refuses (secret rotated) does the same through the 401", { timeout: T(90000) }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "todo-ui-rotate-"));
    let own = await startServer({ dir });
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP, allow: [{ status: [401], path: /^\/api\/me\// }] });
    try {
      const user = await apiSignup(own.base);
      await page.goto(`${own.base}/`);
      await page.evaluate((s) => sessionStorage.setItem("todo.session", JSON.stringify(s)), { token: user.token, user: user.user });
      await page.reload();
      await page.getByText("No tasks yet.").waitFor();
      const port = own.port;
      await own.stop();
      own = await startServer({ dir, port, env: { JWT_SECRET: "a-different-secret-0123456789abcdef0123456789" } });
      const quick = page.getByRole("textbox", { name: "Add a task" });
      await quick.fill("Typed before the 401");
      await quick.press("Enter");
      await page.getByText("Your session has expired. Sign in again").waitFor({ timeout: T(15000) });
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.getByRole("heading", { name: /To do/ }).waitFor();
      assert.equal(await quick.inputValue(), "Typed before the 401", "nothing typed is lost");
      await quick.press("Enter");
      await row(page, "Typed before the 401").waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
      await own.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a reminder that comes due while the page is open shows a banner", { timeout: T(90000) }, async () => {
    const user = await apiSignup(srv.base);
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP });
    try {
      await page.goto(`${srv.base}/`);
      await page.evaluate((s) => sessionStorage.setItem("todo.session", JSON.stringify(s)), { token: user.token, user: user.user });
      await page.reload();
      await page.getByText("No tasks yet.").waitFor();
      const at = new Date(Date.now() + 8000).toISOString().replace(/\.\d+Z$/, "Z");
      const made = await user.api("POST", "/api/me/tasks", { title: "Take the cake out", remind_at: at });
      assert.equal(made.status, 201);
      const banner = page.getByRole("alert").filter({ hasText: "Take the cake out" });
      await banner.waitFor({ timeout: T(30000) });
      assert.ok(Date.now() >= Date.parse(at), "not before its time");
      await shot(page, "reminder-banner");
      // The banner goes at once; the completion is a request that ends later: wait for its
      // answer (and the toast that reports it) before reading the task back.
      const completed = page.waitForResponse((r) => r.request().method() === "PATCH" && new URL(r.url()).pathname === `/api/me/tasks/${made.json.id}/complete`, { timeout: T(15000) });
      await banner.getByRole("button", { name: "Mark done" }).click();
      await banner.waitFor({ state: "detached" });
      assert.equal((await completed).status(), 200);
      await page.getByText("Completed “Take the cake out”.").waitFor();
      const t = (await user.api("GET", `/api/me/tasks/${made.json.id}`)).json;
      assert.equal(t.completed, true);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
