import { afterAll, beforeAll } from "vitest";
import { type FakeGcs, startFakeGcs } from "../../../io/gcs/fake-gcs-server.ts";

/** Starts fake-gcs-server for the file's tests (a free 127.0.0.1 port) and stops it after; call at the top level. */
export function useFakeGcs(): () => FakeGcs {
  let gcs: FakeGcs | undefined;
  beforeAll(async () => {
    gcs = await startFakeGcs();
  }, 60_000);
  afterAll(async () => {
    await gcs?.stop();
  });
  return () => {
    if (gcs === undefined) throw new Error("fake-gcs-server did not start");
    return gcs;
  };
}
