import { v1beta3 } from "@google-cloud/dataflow";

/** How long the credentials and network check may take before the command gives up, naming what is missing. */
const ACCESS_TIMEOUT_MS = 20_000;

/** The auth side of a Google Cloud client (`GoogleAuth`): what `requireGoogleAccess` needs of it. */
export interface GoogleAuthLike {
  getClient(): Promise<unknown>;
  getAccessToken(): Promise<string | null | undefined>;
}

/**
 * Checks, before anything is staged or sent, that Google Cloud can be reached with Application Default
 * Credentials: first that credentials exist (no network needed), then that they give an access token (which needs
 * the network and valid credentials). Each failure says which of the two is missing, at once: the clients would
 * otherwise retry for minutes.
 */
export async function requireGoogleAccess(auth: GoogleAuthLike, command: string): Promise<void> {
  try {
    await auth.getClient();
  } catch (e) {
    throw new Error(
      `${command} needs Google Cloud credentials (Application Default Credentials): run ` +
        "`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key; " +
        `the lookup said: ${(e as Error).message}`,
    );
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      auth.getAccessToken(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${ACCESS_TIMEOUT_MS / 1000} s`)), ACCESS_TIMEOUT_MS);
      }),
    ]);
  } catch (e) {
    throw new Error(
      `${command} cannot reach Google Cloud: the credentials gave no access token (no network, or the credentials ` +
        `are not valid); it said: ${(e as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** The Dataflow API's clients a command uses (created on demand: their constructors read no credentials). */
export interface DataflowClients {
  readonly jobs: Pick<v1beta3.JobsV1Beta3Client, "createJob" | "getJob" | "updateJob" | "listJobsAsync" | "close"> & {
    readonly auth: GoogleAuthLike;
  };
  readonly messages: Pick<v1beta3.MessagesV1Beta3Client, "listJobMessages" | "close">;
}

/** Closes the clients' channels (a command ends once its calls are done). */
export async function closeClients(clients: DataflowClients): Promise<void> {
  await clients.jobs.close();
  await clients.messages.close();
}

export function dataflowClients(): DataflowClients {
  return { jobs: new v1beta3.JobsV1Beta3Client(), messages: new v1beta3.MessagesV1Beta3Client() };
}

/** A job's console page. */
export function consoleLink(project: string, region: string, jobId: string | null | undefined): string {
  return `https://console.cloud.google.com/dataflow/jobs/${region}/${jobId ?? "?"}?project=${project}`;
}
