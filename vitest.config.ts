import { defineConfig } from "vitest/config";

// Under CI (.ci/run sets CI=true) a JSON report is written too, from which .ci/run prints "N passed, N failed".
const ci = process.env.CI === "true";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["test/typings/**/*.test-d.ts"] },
    pool: "threads",
    // Two test files at a time, whatever the core count: on these 2-core machines Vitest's default (cores - 1) runs
    // the files one by one, while most of the slow ones wait on emulators and child processes (measured: the suite
    // 1,008 s serial, 648 s with two, all passing).
    maxWorkers: 2,
    testTimeout: 60_000,
    reporters: ci ? ["default", "json"] : ["default"],
    ...(ci ? { outputFile: { json: ".cache/vitest-report.json" } } : {}),
  },
});
