// The browser test layer in one process: one chromium, a fresh context per scenario; each
// module starts its own server(s) on free loopback ports with temporary SQLite databases.
// Run with `make ui-test` (see tests/ui/README.md).
import { after } from "node:test";
import { closeBrowser } from "./lib.mjs";
import "./units.mjs";
import "./flow.mjs";
import "./quickadd.mjs";
import "./keyboard.mjs";
import "./a11y.mjs";
import "./session.mjs";
import "./paging.mjs";
import "./split.mjs";
import "./assistant.mjs";
import "./events.mjs";
import "./notifications.mjs";
import "./budget.mjs";

after(closeBrowser);
