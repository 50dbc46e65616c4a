// Builds the web UI (ui/) into build/ui (or $UI_OUT_DIR): index.html plus hashed files under
// assets/, which the binary embeds and serves as immutable (mk/ui.mk, scripts/embed-assets).
// Preact's JSX needs no plugin: esbuild compiles it against preact/jsx-runtime.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  publicDir: "public",
  logLevel: "warn",
  esbuild: { jsx: "automatic", jsxImportSource: "preact", legalComments: "none" },
  build: {
    outDir: process.env.UI_OUT_DIR || fileURLToPath(new URL("../build/ui", import.meta.url)),
    emptyOutDir: true,
    target: "es2020",
    // No inline data: URIs and no modulepreload polyfill: every byte is a same-origin file
    // (the server's CSP allows nothing else) and the app has one entry chunk.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    sourcemap: false,
  },
});
