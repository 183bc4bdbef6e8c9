/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// The app serves the bundle: `/` -> index.html, `/assets/*` -> hashed assets.
export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../server/static",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
  },
  server: {
    proxy: {
      "/chatkit": "http://127.0.0.1:8000",
      "/api": "http://127.0.0.1:8000",
    },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts", "tests/**/*.test.tsx"],
  },
});
