import { afterAll, beforeAll } from "vitest";
import { type Prism, startPrism } from "../../../runners/portable/prism.ts";

/** Starts Prism for the file's tests (a free 127.0.0.1 port) and stops it after; call at the top of a test file. */
export function usePrism(): () => Prism {
  let prism: Prism | undefined;
  beforeAll(async () => {
    prism = await startPrism();
  }, 120_000);
  afterAll(async () => {
    await prism?.stop();
  });
  return () => {
    if (prism === undefined) throw new Error("Prism did not start");
    return prism;
  };
}
