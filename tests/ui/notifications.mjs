// The phone drawer is modal, and the notifications screen. At phone width the assistant is a
// drawer over the page: while it is open it is a modal dialog — Tab and Shift+Tab stay inside,
// the rest of the page is inert and hidden from assistive technology, Esc closes it and focus
// goes back to the button that opened it; at desktop width it is a side panel and nothing is
// inert. Reminders that fired while no page was open are listed under the top bar's
// Notifications button, which shows the unread count; one or all can be marked read, and
// both the drawer and the list are axe clean in both themes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiSignup, axeSerious, DESKTOP, newPage, PHONE, shot, startServer, T, waitFor } from "./lib.mjs";

/** Where focus is: inside the assistant, and which button (by its class) when outside. */
const focusInfo = (page) =>
  page.evaluate(() => {
    const a = document.activeElement;
    return { inDrawer: !!a?.closest("#assistant"), cls: a?.className ?? "", tag: a?.tagName ?? "" };
  });

/** Whether the page behind the drawer (top bar, main) is inert and aria-hidden. */
const behind = (page) =>
  page.evaluate(() =>
    ["header.topbar", "main.tasks-pane"].map((sel) => {
      const el = document.querySelector(sel);
      return { sel, inert: !!el?.inert, hidden: el?.getAttribute("aria-hidden") === "true" };
    }),
  );

/** Opens the page signed in as user (the session as the app keeps it). */
async function signedIn(page, srv, user) {
  await page.goto(`${srv.base}/`);
  await page.evaluate((s) => sessionStorage.setItem("todo.session", JSON.stringify(s)), { token: user.token, user: user.user });
  await page.reload();
  await page.getByRole("heading", { name: /To do/ }).waitFor();
}

describe("the modal drawer and the notifications screen", () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { REMINDER_POLL_MS: "200", EVENTS_POLL_MS: "200" } });
  });
  after(async () => {
    await srv?.stop();
  });

  test("the phone drawer traps focus, makes the page inert, and Esc returns focus to its button", { timeout: T(90000) }, async () => {
    const user = await apiSignup(srv.base);
    for (const colorScheme of ["light", "dark"]) {
      const { ctx, page, problems } = await newPage({ viewport: PHONE, colorScheme });
      try {
        await signedIn(page, srv, user);
        const toggle = page.getByRole("button", { name: "Assistant" });
        await toggle.click();
        const dialog = page.getByRole("dialog", { name: "Assistant" });
        await dialog.waitFor();
        assert.equal(await dialog.getAttribute("aria-modal"), "true");
        await waitFor(async () => (await focusInfo(page)).inDrawer, "focus moves into the drawer");
        for (const b of await behind(page)) assert.deepEqual(b, { sel: b.sel, inert: true, hidden: true }, `${b.sel} behind the open drawer`);
        // The page behind is out of reach: its controls are not in the accessibility tree.
        assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 0);
        for (const key of ["Tab", "Shift+Tab"])
          for (let i = 0; i < 14; i++) {
            await page.keyboard.press(key);
            const f = await focusInfo(page);
            assert.ok(f.inDrawer, `${key} ×${i + 1} left the drawer for ${f.tag}.${f.cls}`);
          }
        assert.deepEqual(await axeSerious(page), [], `the open drawer (${colorScheme})`);
        await shot(page, `drawer-modal-phone-${colorScheme}`);
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "hidden" });
        await waitFor(async () => (await focusInfo(page)).cls.includes("assistant-toggle"), "focus back on the Assistant button");
        for (const b of await behind(page)) assert.deepEqual(b, { sel: b.sel, inert: false, hidden: false }, `${b.sel} after closing`);
        // The close button returns focus the same way.
        await toggle.click();
        await dialog.getByRole("button", { name: "Close the assistant" }).click();
        await waitFor(async () => (await focusInfo(page)).cls.includes("assistant-toggle"), "focus back after Close");
        assert.deepEqual(problems, []);
      } finally {
        await ctx.close();
      }
    }
    // On a desktop the assistant is a side panel: no dialog, nothing inert.
    const { ctx, page, problems } = await newPage({ viewport: DESKTOP });
    try {
      await signedIn(page, srv, user);
      await page.getByRole("complementary", { name: "Assistant" }).waitFor();
      assert.equal(await page.getByRole("dialog", { name: "Assistant" }).count(), 0);
      for (const b of await behind(page)) assert.deepEqual(b, { sel: b.sel, inert: false, hidden: false }, `${b.sel} on a desktop`);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  test("reminders that fired while no page was open are listed, counted and marked read", { timeout: T(90000) }, async () => {
    const user = await apiSignup(srv.base);
    const soon = new Date(Date.now() + 300).toISOString();
    for (const title of ["Water the plants", "Pay the rent"]) assert.equal((await user.api("POST", "/api/me/tasks", { title, remind_at: soon })).status, 201);
    await waitFor(async () => (await user.api("GET", "/api/me/notifications")).json?.length === 2, "two reminders fired with no page open", T(15000));
    for (const colorScheme of ["light", "dark"]) {
      const { ctx, page, problems } = await newPage({ viewport: colorScheme === "light" ? DESKTOP : PHONE, colorScheme });
      try {
        await signedIn(page, srv, user);
        if (colorScheme === "light") {
          const button = page.getByRole("button", { name: "Notifications 2 unread" });
          await button.waitFor();
          await button.click();
          const panel = page.getByRole("region", { name: "Notifications" });
          await panel.waitFor();
          const items = panel.getByRole("listitem");
          await waitFor(async () => (await items.count()) === 2, "two notifications listed");
          assert.match(await items.nth(0).textContent(), /Unread Reminder: Pay the rent/); // in words, not only colour
          assert.deepEqual(await axeSerious(page), [], "the notifications list (light)");
          await shot(page, "notifications-desktop-light");
          await panel.getByRole("button", { name: "Mark read: “Pay the rent”" }).click();
          await page.getByRole("button", { name: "Notifications 1 unread" }).waitFor();
          await waitFor(async () => (await user.api("GET", "/api/me/notifications?unread=true")).json?.length === 1, "one marked read on the server");
          await panel.getByRole("button", { name: "Mark all read" }).click();
          await page.getByRole("button", { name: "Notifications", exact: true }).waitFor();
          await waitFor(async () => (await user.api("GET", "/api/me/notifications?unread=true")).json?.length === 0, "all read on the server");
          assert.deepEqual(await items.evaluateAll((li) => li.map((x) => x.textContent.match(/^(Unread|Read) /)?.[1])), ["Read", "Read"]);
          // Esc closes the list and focus returns to its button.
          await panel.getByRole("button", { name: "Open “Water the plants”" }).focus();
          await page.keyboard.press("Escape");
          await panel.waitFor({ state: "detached" });
          assert.equal(await page.evaluate(() => document.activeElement?.className), "notif-toggle");
          // A reminder's Open shows its task in the editor.
          await page.getByRole("button", { name: "Notifications", exact: true }).click();
          await panel.getByRole("button", { name: "Open “Water the plants”" }).click();
          await waitFor(async () => (await page.getByLabel("Title", { exact: true }).inputValue().catch(() => "")) === "Water the plants", "the task opened");
        } else {
          // Dark, on a phone: the list of read notifications, axe clean.
          await page.getByRole("button", { name: "Notifications", exact: true }).click();
          const panel = page.getByRole("region", { name: "Notifications" });
          await waitFor(async () => (await panel.getByRole("listitem").count()) === 2, "two notifications listed");
          assert.deepEqual(await axeSerious(page), [], "the notifications list (dark, phone)");
          await shot(page, "notifications-phone-dark");
        }
        assert.deepEqual(problems, []);
      } finally {
        await ctx.close();
      }
    }
  });
});
