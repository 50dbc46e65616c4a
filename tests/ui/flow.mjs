// The main flow, as a person does it, at phone and desktop sizes in both themes: sign up, add
// tasks (quick add with shorthand and the full editor), filter by tag, complete a recurring task (its next
// occurrence shows), delete and undo, a second tab that sees changes without reloading,
// sign out and back in with the data still there. One server for the module, one user per
// run. Screenshots of each screen go to build/ui-test/screenshots.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { client, DESKTOP, newPage, PHONE, row, shot, startServer, T, titles, uiSignin, uiSignup, uniqueEmail, waitFor } from "./lib.mjs";

const RUNS = [
  ["phone-light", PHONE, "light"],
  ["phone-dark", PHONE, "dark"],
  ["desktop-light", DESKTOP, "light"],
  ["desktop-dark", DESKTOP, "dark"],
];

describe("main flow", () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  for (const [label, viewport, colorScheme] of RUNS) {
    test(`${label}: sign up, add, filter, complete, undo, second tab, sign in again`, { timeout: T(180000) }, async () => {
      const { ctx, page, problems } = await newPage({ viewport, colorScheme });
      try {
        await page.goto(`${srv.base}/`);
        await page.getByRole("heading", { name: "Sign in" }).waitFor();
        await shot(page, `${label}-signin`);
        const email = uniqueEmail(label);
        await uiSignup(page, { email });
        await page.getByText("No tasks yet.").waitFor();
        await shot(page, `${label}-empty`);

        // Quick add with shorthand, read by the server's parser.
        const quick = page.getByRole("textbox", { name: "Add a task" });
        await quick.fill("Buy milk tomorrow 9am #errands !low");
        await quick.press("Enter");
        await row(page, "Buy milk").waitFor();
        assert.equal(await quick.inputValue(), "", "quick add is cleared after adding");
        const milk = await row(page, "Buy milk").locator(".task-meta").innerText();
        assert.match(milk, /Due tomorrow 9:00 AM/);
        assert.match(milk, /Low priority/);
        assert.match(milk, /#errands/);

        // The full editor: a weekly, high-priority task with tags and a due date.
        await page.getByRole("button", { name: "Details…" }).click();
        const dlg = page.getByRole("dialog", { name: "New task" });
        await dlg.getByLabel("Title").fill("Water the plants");
        await dlg.getByLabel("Description").fill("Balcony and kitchen");
        await dlg.getByLabel("Priority").selectOption("high");
        await dlg.getByLabel("Tags").fill("home, garden");
        await dlg.getByRole("group", { name: "Due" }).getByLabel("Date").fill("2031-03-04");
        await dlg.getByRole("group", { name: "Due" }).getByLabel("Time (optional)").fill("17:00");
        await dlg.getByLabel("Repeat").selectOption("weekly");
        await shot(page, `${label}-editor`);
        await dlg.getByRole("button", { name: "Add task" }).click();
        await dlg.waitFor({ state: "detached" });
        const water = row(page, "Water the plants");
        await water.waitFor();
        const meta = await water.locator(".task-meta").innerText();
        assert.match(meta, /High priority/);
        assert.match(meta, /Repeats every week/);
        assert.match(meta, /#home/);
        await quick.fill("Call the bank");
        await quick.press("Enter");
        await row(page, "Call the bank").waitFor();
        await shot(page, `${label}-list`);

        // Filter by tag: a tag chip narrows the list; clearing brings everything back.
        await water.getByRole("button", { name: "Show tasks tagged home" }).click();
        await page.getByRole("heading", { name: /#home/ }).waitFor();
        await waitFor(async () => (await titles(page)).join("|") === "Water the plants", "only the #home task is listed");
        await shot(page, `${label}-filtered`);
        await page.getByRole("button", { name: "Clear filters" }).first().click();
        await waitFor(async () => (await titles(page)).length === 3, "all three tasks back");

        // Complete the recurring task: the next occurrence (a week later) takes its place.
        const firstId = await water.getAttribute("data-task-id");
        await water.getByRole("checkbox").click();
        await page.getByText(/Completed “Water the plants”\. Next one due/).waitFor();
        await waitFor(async () => {
          const ids = await page.locator("li.task", { has: page.getByRole("button", { name: "Water the plants", exact: true }) }).evaluateAll((els) => els.map((e) => e.getAttribute("data-task-id")));
          return ids.length === 1 && ids[0] !== firstId;
        }, "the next occurrence replaces the completed task");
        const nextMeta = await row(page, "Water the plants").locator(".due").innerText();
        assert.match(nextMeta, /11 Mar|Mar 11/, `next occurrence due a week later, got ${nextMeta}`);

        // Delete and undo: the same task comes back.
        const bank = row(page, "Call the bank");
        const bankId = await bank.getAttribute("data-task-id");
        await bank.getByRole("button", { name: "Delete “Call the bank”" }).click();
        await waitFor(async () => !(await titles(page)).includes("Call the bank"), "deleted task leaves the list");
        await shot(page, `${label}-undo`);
        await page.getByRole("button", { name: "Undo" }).click();
        await row(page, "Call the bank").waitFor();
        assert.equal(await row(page, "Call the bank").getAttribute("data-task-id"), bankId, "undo restores the same task");

        // A second tab of the same browser: signed in already, and sees changes from here,
        // from the other tab and from elsewhere (the API) without a reload.
        const tab2 = await ctx.newPage();
        await tab2.goto(`${srv.base}/`);
        await row(tab2, "Buy milk").waitFor();
        await quick.fill("Added in tab one");
        await quick.press("Enter");
        await row(tab2, "Added in tab one").waitFor({ timeout: T(15000) });
        const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("todo.session")).token);
        const api = client(srv.base, token);
        const made = await api("POST", "/api/me/tasks", { title: "Added by another device" });
        assert.equal(made.status, 201);
        await row(page, "Added by another device").waitFor({ timeout: T(20000) });
        await row(tab2, "Added by another device").waitFor({ timeout: T(20000) });

        // Sign out (every tab follows), sign in again: everything is still there.
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("heading", { name: "Sign in" }).waitFor();
        await tab2.getByRole("heading", { name: "Sign in" }).waitFor();
        await uiSignin(page, email);
        for (const title of ["Buy milk", "Water the plants", "Call the bank", "Added in tab one", "Added by another device"]) await row(page, title).waitFor();
        const stats = await api("GET", "/api/me/tasks/stats");
        assert.deepEqual({ total: stats.json.total, completed: stats.json.completed }, { total: 6, completed: 1 });
        assert.deepEqual(problems, [], "the pages met no errors");
      } finally {
        await ctx.close();
      }
    });
  }
});
