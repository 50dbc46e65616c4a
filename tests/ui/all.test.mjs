// The browser test layer in one process: one chromium, a context per scenario. Each module
// starts its own server(s). Run with `make ui-test` (see tests/ui/README.md).
import { after } from "node:test";
import { closeBrowser } from "./lib.mjs";
import "./flow.mjs";
import "./a11y.mjs";
import "./keyboard.mjs";

after(closeBrowser);
