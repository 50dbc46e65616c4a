// Renders the /docs page in Debian's chromium (driven by playwright-core from the root
// package.json) and reports what a person would see: the operations swagger-ui lists, the
// problems the page hit (console errors, CSP violations, failed requests), and a screenshot.
//
//   node tests/openapi/render-docs.mjs BASE_URL SCREENSHOT.png
//
// Prints one JSON line: {"rendered", "expanded", "operations": [...], "problems": [...], "title"}. Exits 1
// when the page does not render the operation list in time. CHROMIUM overrides the browser.
import { chromium } from "playwright-core";

const TIMEOUT_MS = Number(process.env.TODO_RENDER_TIMEOUT_MS || 30000);
const [baseUrl, screenshot] = process.argv.slice(2);
if (!baseUrl || !screenshot) {
  console.error("usage: render-docs.mjs BASE_URL SCREENSHOT.png");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  timeout: TIMEOUT_MS,
});
let status = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 2400 } });
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });

  await page.goto(new URL("/docs", baseUrl).href, { waitUntil: "load", timeout: TIMEOUT_MS });
  const tasksPath = page.locator(".opblock-summary-path", { hasText: "/api/{user_id}/tasks" });
  let rendered = true;
  try {
    await tasksPath.first().waitFor({ state: "visible", timeout: TIMEOUT_MS });
  } catch (e) {
    rendered = false;
    problems.push(`operation list not rendered: ${e.message.split("\n")[0]}`);
  }
  const operations = await page
    .locator(".opblock-summary")
    .evaluateAll((els) =>
      els.map((el) => {
        const method = el.querySelector(".opblock-summary-method")?.textContent?.trim() ?? "";
        const path = el.querySelector(".opblock-summary-path")?.getAttribute("data-path") ??
          el.querySelector(".opblock-summary-path")?.textContent?.trim() ?? "";
        return `${method} ${path}`.trim();
      }),
    );
  // Open "GET /api/{user_id}/tasks": its parameters (resolved through $refs) must show.
  let expanded = false;
  if (rendered) {
    try {
      await page.locator("#operations-tasks-list_tasks .opblock-summary").click({ timeout: TIMEOUT_MS });
      await page
        .locator("#operations-tasks-list_tasks .parameters-col_name", { hasText: "limit" })
        .waitFor({ state: "visible", timeout: TIMEOUT_MS });
      expanded = true;
    } catch (e) {
      problems.push(`list_tasks did not expand: ${e.message.split("\n")[0]}`);
    }
  }
  const title = (await page.locator(".info .title").first().textContent({ timeout: 1000 }).catch(() => "")) || "";
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify({ rendered, expanded, operations, problems, title: title.trim() }));
  if (!rendered) status = 1;
} finally {
  await browser.close();
}
process.exit(status);
