import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A server listening on a local address: where it listens, and how to stop it (cutting the connections it holds). */
export interface Listening {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Makes `server` listen on `port` (0: a free one) at `host`, without keeping the process alive (a job that ends or
 * fails exits without closing it); rejects with the listen error (a port in use) instead of throwing later.
 */
export async function listen(server: Server, port: number, host: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.unref();
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://${host}:${bound}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
