// The split deployment: the browser talks only to a `--role web` process, which serves the
// UI and proxies /api to a separate `--role api` process. The main flow works through it,
// including undo, a second tab and signing in again; the web process has no database.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DESKTOP, newPage, row, startServer, T, titles, uiSignin, uiSignup, uniqueEmail, waitFor } from "./lib.mjs";

describe("web role proxying to a separate api role", () => {
  let api;
  let web;
  before(async () => {
    api = await startServer({ role: "api" });
    web = await startServer({ role: "web", env: { API_URL: api.base, DATABASE_URL: "sqlite:////nonexistent/never-opened.db" } });
  });
  after(async () => {
    try {
      await web?.stop();
    } finally {
      await api?.stop(); /* even when the web role's stop failed: a live child hangs the run */
    }
  });

  test("the main flow through the web role", { timeout: T(120000) }, async () => {
    const apiOwnPage = await fetch(`${api.base}/`, { headers: { Accept: "text/html" } });
    assert.equal(apiOwnPage.status, 404, "the api role serves no UI");
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP, colorScheme: "dark" });
    try {
      await page.goto(`${web.base}/`);
      const email = uniqueEmail("split");
      await uiSignup(page, { email });
      const quick = page.getByRole("textbox", { name: "Add a task" });
      await quick.fill("Through the proxy");
      await quick.press("Enter");
      await row(page, "Through the proxy").waitFor();
      await page.getByRole("button", { name: "Details…" }).click();
      const dlg = page.getByRole("dialog", { name: "New task" });
      await dlg.getByLabel("Title").fill("Daily stretch");
      await dlg.getByLabel("Tags").fill("health");
      await dlg.getByRole("group", { name: "Due" }).getByLabel("Date").fill("2031-06-01");
      await dlg.getByLabel("Repeat").selectOption("daily");
      await dlg.getByRole("button", { name: "Add task" }).click();
      await row(page, "Daily stretch").waitFor();
      await row(page, "Daily stretch").getByRole("button", { name: "Show tasks tagged health" }).click();
      await waitFor(async () => (await titles(page)).join("|") === "Daily stretch", "tag filter through the proxy");
      await row(page, "Daily stretch").getByRole("checkbox").click();
      await page.getByText(/Completed “Daily stretch”\. Next one due/).waitFor();
      await page.getByRole("button", { name: "Clear filters" }).first().click();
      const victim = row(page, "Through the proxy");
      await victim.getByRole("button", { name: "Delete “Through the proxy”" }).click();
      await page.getByRole("button", { name: "Undo" }).click();
      await row(page, "Through the proxy").waitFor();
      const tab2 = await ctx.newPage();
      await tab2.goto(`${web.base}/`);
      await row(tab2, "Through the proxy").waitFor();
      await page.getByRole("button", { name: "Sign out" }).click();
      await tab2.getByRole("heading", { name: "Sign in" }).waitFor();
      await uiSignin(page, email);
      await row(page, "Daily stretch").waitFor();
      assert.deepEqual((await titles(page)).sort(), ["Daily stretch", "Through the proxy"]);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
