import type { Storage } from "@google-cloud/storage";

/** A `gs://bucket/path` location split into its bucket and object name. */
export function parseGcs(location: string): { readonly bucket: string; readonly name: string } {
  const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (m === null) throw new Error(`not a gs:// location: ${location}`);
  return { bucket: m[1] as string, name: m[2] as string };
}

/**
 * Stages a file's bytes at `location` (gs://...) with `@google-cloud/storage`, once: an object already there with the
 * same MD5 is kept (a resubmission stages nothing new). Resolves with the object's gs:// URL.
 */
export async function stageBytes(storage: Storage, location: string, bytes: Uint8Array): Promise<string> {
  const { bucket, name } = parseGcs(location);
  const file = storage.bucket(bucket).file(name);
  const md5 = (await import("node:crypto")).createHash("md5").update(bytes).digest("base64");
  const [exists] = await file.exists();
  if (exists) {
    const [meta] = await file.getMetadata();
    if (meta.md5Hash === md5) return `gs://${bucket}/${name}`;
  }
  await file.save(Buffer.from(bytes), { resumable: false, contentType: "application/octet-stream", validation: "md5" });
  return `gs://${bucket}/${name}`;
}
