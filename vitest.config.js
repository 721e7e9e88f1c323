import { defineConfig } from "vitest/config";

// Pure-logic tests (decode, colormap, layout, cache) need no DOM: plain Node is enough.
export default defineConfig({
  test: {
    environment: "node",
    include: ["tests/js/**/*.test.js"],
  },
});
