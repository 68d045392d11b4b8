import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["test/typings/**/*.test-d.ts"] },
    pool: "threads",
    testTimeout: 60_000,
  },
});
