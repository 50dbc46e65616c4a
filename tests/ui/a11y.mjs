// Accessibility: axe-core finds no serious or critical violation on any screen, in either
// theme, at phone and desktop sizes: sign in, sign up, the expired-session notice, the empty
// list, a full list (overdue, due today, tags, priorities, a completed task), no matches,
// the editor with an error, toasts, a reminder, and the paged list.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiSignup, axeSerious, craftToken, DESKTOP, newPage, PHONE, row, shot, startServer, T } from "./lib.mjs";

function iso(msFromNow) {
  return new Date(Date.now() + msFromNow).toISOString().replace(/\.\d+Z$/, "Z");
}

async function seed(api) {
  // Due at the day's last second, so it reads "Due today" (not "Overdue") whenever the test
  // runs; 23:00 made every run between 23:00 and midnight fail.
  const today = new Date();
  today.setHours(23, 59, 59, 0);
  const tasks = [
    { title: "Renew passport", priority: "high", due_at: iso(-2 * 86400e3), tags: ["admin"] },
    { title: "Dentist appointment", due_at: today.toISOString(), tags: ["health"], remind_at: iso(3600e3) },
    { title: "Water the plants", priority: "high", recurrence: "weekly", due_at: iso(3 * 86400e3), tags: ["home", "garden"] },
    { title: "Read a book", priority: "low", description: "Something light" },
    { title: "Pay rent", due_at: iso(20 * 86400e3), tags: ["home"] },
  ];
  for (const t of tasks) assert.equal((await api("POST", "/api/me/tasks", t)).status, 201);
  const done = await api("POST", "/api/me/tasks", { title: "Book flights", tags: ["travel"] });
  await api("PATCH", `/api/me/tasks/${done.json.id}/complete`, { completed: true });
}

async function check(page, what) {
  const bad = await axeSerious(page);
  assert.deepEqual(bad, [], `${what}: serious or critical accessibility violations`);
}

describe("accessibility (axe-core)", () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  for (const [label, viewport, colorScheme] of [
    ["phone-light", PHONE, "light"],
    ["desktop-dark", DESKTOP, "dark"],
    ["phone-dark", PHONE, "dark"],
    ["desktop-light", DESKTOP, "light"],
  ]) {
    test(`every screen, ${label}`, { timeout: T(120000) }, async () => {
      const user = await apiSignup(srv.base);
      await seed(user.api);
      const { ctx, page, problems } = await newPage({ viewport, colorScheme, allow: [{ status: [401], path: /^\/api\/auth\/login$/ }] });
      try {
        await page.goto(`${srv.base}/`);
        await page.getByRole("heading", { name: "Sign in" }).waitFor();
        await check(page, "sign in");
        await page.getByRole("button", { name: "Sign in", exact: true }).click(); // empty: the browser's own validation
        await page.getByRole("button", { name: "Create an account" }).click();
        await check(page, "sign up");
        await page.getByRole("button", { name: "Sign in", exact: true }).click();
        await page.getByLabel("Email").fill(user.email);
        await page.getByLabel("Password").fill("wrong password!");
        await page.getByRole("button", { name: "Sign in", exact: true }).click();
        await page.getByText("That email and password don't match an account.").waitFor();
        await check(page, "sign-in error");

        // Signed in with a seeded account.
        await page.evaluate((s) => sessionStorage.setItem("todo.session", JSON.stringify(s)), { token: user.token, user: user.user });
        await page.reload();
        await row(page, "Renew passport").waitFor();
        assert.match(await row(page, "Renew passport").innerText(), /Overdue/);
        assert.match(await row(page, "Dentist appointment").innerText(), /Due today/);
        await check(page, "task list");
        await shot(page, `a11y-${label}-list`);
        if (viewport === PHONE) await page.getByRole("button", { name: /^Filters/ }).click();
        await page.getByLabel("Show", { exact: true }).selectOption("all");
        await row(page, "Book flights").waitFor();
        await check(page, "list with a completed task");
        await page.getByRole("searchbox", { name: "Search" }).fill("nothing like this");
        await page.getByText("Nothing matches these filters.").waitFor();
        await check(page, "no matches");
        await page.getByRole("button", { name: "Clear filters" }).first().click();
        await row(page, "Read a book").waitFor();

        // The editor, with a field error.
        await row(page, "Read a book").getByRole("button", { name: "Read a book", exact: true }).click();
        const dlg = page.getByRole("dialog", { name: "Edit task" });
        await dlg.getByLabel("Title").fill("   ");
        await dlg.getByRole("button", { name: "Save" }).click();
        await dlg.getByText("Give the task a title.").first().waitFor();
        await check(page, "editor with an error");
        await shot(page, `a11y-${label}-editor-error`);
        await page.keyboard.press("Escape");
        await dlg.waitFor({ state: "detached" });

        // A toast with Undo.
        await row(page, "Pay rent").getByRole("button", { name: "Delete “Pay rent”" }).click();
        await page.getByRole("button", { name: "Undo" }).waitFor();
        await check(page, "undo toast");
        await page.getByRole("button", { name: "Undo" }).click();
        await row(page, "Pay rent").waitFor();

        // An empty account and the expired-session screen.
        const empty = await apiSignup(srv.base);
        const soon = Math.floor(Date.now() / 1000) + 10;
        await page.evaluate((s) => sessionStorage.setItem("todo.session", JSON.stringify(s)), { token: craftToken(empty.user, soon), user: empty.user });
        await page.reload();
        await page.getByText("No tasks yet.").waitFor();
        await check(page, "empty list");
        await page.getByText("Your session has expired. Sign in again").waitFor({ timeout: T(30000) });
        await check(page, "session expired");
        await shot(page, `a11y-${label}-expired`);
        assert.deepEqual(problems, []);
      } finally {
        await ctx.close();
      }
    });
  }

  test("the check can fail: a planted violation is reported", { timeout: T(30000) }, async () => {
    const { ctx, page } = await newPage({ viewport: DESKTOP });
    try {
      await page.goto(`${srv.base}/`);
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await page.evaluate(() => document.querySelector("form")?.append(document.createElement("button")));
      const bad = await axeSerious(page);
      assert.ok(bad.some((v) => v.id === "button-name"), JSON.stringify(bad));
    } finally {
      await ctx.close();
    }
  });
});
