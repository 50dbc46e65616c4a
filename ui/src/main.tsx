// Entry point: mounts the app into #app. Everything the page runs is in this bundle.
import { render } from "preact";
import { App } from "./App";

const root = document.getElementById("app");
if (root) render(<App />, root);
