// Lint rules for the web UI (ui/src, TypeScript) and its browser tests (tests/ui, Node ESM):
// ESLint's and typescript-eslint's recommended sets, nothing stylistic.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules/**", "build/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["ui/src/**/*.{ts,tsx}"],
    languageOptions: { globals: globals.browser },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { varsIgnorePattern: "^_", argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["tests/ui/**/*.mjs", "ui/*.mjs"],
    // Test code also runs in the page (page.evaluate): browser globals too.
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
);
