import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The names Chromium's executable goes by: Debian's `chromium` first. */
const NAMES = ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"];

/**
 * The Chromium the browser tests drive (through playwright-core, which downloads no browser): `$CHROMIUM_PATH`, else
 * the first of Chromium's usual names on `$PATH` (then `/usr/bin`). Throws, saying how to install it, when there is
 * none: a browser test fails rather than passing without a browser.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.CHROMIUM_PATH;
  if (given !== undefined && given !== "") {
    if (!isExecutable(given)) throw new Error(`CHROMIUM_PATH=${given} is not an executable file`);
    return given;
  }
  const dirs = [...(env.PATH ?? "").split(delimiter).filter((d) => d !== ""), "/usr/bin"];
  for (const name of NAMES) {
    for (const dir of dirs) {
      const path = join(dir, name);
      if (isExecutable(path)) return path;
    }
  }
  throw new Error(
    `no Chromium found (looked for ${NAMES.join(", ")} on PATH and in /usr/bin): install Debian's ` +
      "(`apt-get install -y --no-install-recommends chromium`) or set CHROMIUM_PATH",
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
