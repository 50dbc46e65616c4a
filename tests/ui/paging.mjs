// 10,000 tasks: the list pages through them 50 at a time (the page never holds more rows),
// the counts and the pager say how many there are, and search finds one among them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiSignup, bulkInsert, DESKTOP, newPage, row, startServer, T, titles, waitFor } from "./lib.mjs";

describe("ten thousand tasks", () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  test("paging, counts and search over 10,000 tasks", { timeout: T(120000) }, async () => {
    const user = await apiSignup(srv.base);
    bulkInsert(srv.db, user.user.id, 10000);
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP });
    try {
      await page.goto(`${srv.base}/`);
      await page.evaluate((s) => sessionStorage.setItem("todo.session", JSON.stringify(s)), { token: user.token, user: user.user });
      await page.reload();
      await page.getByText("10,000 tasks").waitFor();
      await page.getByText("1–50 of 10,000 · page 1 of 200").waitFor();
      assert.equal(await page.locator("li.task").count(), 50);
      await page.getByRole("button", { name: /10000 to do/ }).waitFor();
      await page.getByRole("navigation", { name: "Pages" }).getByRole("button", { name: "Next" }).click();
      await page.getByText("51–100 of 10,000 · page 2 of 200").waitFor();
      assert.equal(await page.locator("li.task").count(), 50);
      assert.equal((await titles(page))[0], "Bulk task 09949", "the pager speaks of the rows on screen");
      await page.keyboard.press("j");
      await page.keyboard.press("j");
      const second = (await titles(page))[1];
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), second);
      await page.getByRole("searchbox", { name: "Search" }).fill("Bulk task 09999");
      await waitFor(async () => (await titles(page)).join("|") === "Bulk task 09999", "search finds the one task");
      await row(page, "Bulk task 09999").waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
