import { defineConfig } from "vitest/config";

// Under CI (.ci/run sets CI=true) a JSON report is written too, from which .ci/run prints "N passed, N failed".
const ci = process.env.CI === "true";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["test/typings/**/*.test-d.ts"] },
    pool: "threads",
    testTimeout: 60_000,
    reporters: ci ? ["default", "json"] : ["default"],
    ...(ci ? { outputFile: { json: ".cache/vitest-report.json" } } : {}),
  },
});
