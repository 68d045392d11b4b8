/** Dataflow's options (Beam's `DataflowPipelineOptions`), declared once; `runners/runner.ts` adds them to its own. */
export const DATAFLOW_OPTIONS = {
  project: { type: "string", value: "PROJECT", help: "Dataflow: the Google Cloud project" },
  region: { type: "string", value: "REGION", help: "Dataflow: the region the job runs in (e.g. europe-west1)" },
  tempLocation: { type: "string", value: "gs://BUCKET/PATH", help: "Dataflow: where the job keeps temporary files" },
  stagingLocation: {
    type: "string",
    value: "gs://BUCKET/PATH",
    help: "Dataflow: where the pipeline is staged (default: TEMP-LOCATION/staging)",
  },
  sdkContainerImage: {
    type: "string",
    value: "IMAGE",
    help: "Dataflow: the worker image (deploy/container; default REGION-docker.pkg.dev/PROJECT/tidemark/worker:latest)",
  },
  serviceAccount: { type: "string", value: "EMAIL", help: "Dataflow: the workers' service account" },
  network: { type: "string", value: "NAME", help: "Dataflow: the workers' VPC network" },
  subnetwork: { type: "string", value: "URL", help: "Dataflow: the workers' subnetwork" },
  maxWorkers: { type: "number", range: "whole", value: "N", help: "Dataflow: the most workers autoscaling may use" },
  machineType: { type: "string", value: "TYPE", help: "Dataflow: the workers' machine type" },
  labels: { type: "string", value: "K=V,...", help: "Dataflow: the job's labels" },
  wait: {
    type: "boolean",
    default: false,
    help: "Dataflow: after submitting (or --drain, --cancel), follow the job until it ends, not only until it runs",
  },
  update: {
    type: "boolean",
    default: false,
    help: "Dataflow: replace the running job of the same --job-name with this one, keeping its state",
  },
  transformNameMapping: {
    type: "string",
    value: "JSON",
    help: 'Dataflow, with --update: renamed transforms, old name to new (\'{"Old/Step":"New/Step"}\')',
  },
  drain: {
    type: "boolean",
    default: false,
    help: "Dataflow: drain the running job named --job-name (it stops reading and fires its final panes)",
  },
  cancel: {
    type: "boolean",
    default: false,
    help: "Dataflow: cancel the running job named --job-name at once (what is in flight is dropped)",
  },
  dryRun: {
    type: "string",
    value: "DIR",
    help: "Dataflow: write the job request (job.json) and the pipeline (pipeline.pb) to DIR and submit nothing",
  },
} as const;

/** A running job's project and region, checked (for --drain and --cancel, which need nothing else). */
export function checkJobPlace(o: { readonly project?: string | undefined; readonly region?: string | undefined }): {
  readonly project: string;
  readonly region: string;
} {
  const problems = placeProblems(o);
  if (problems.length > 0) throw new Error(`--runner=dataflow: ${problems.join("; ")}`);
  return { project: o.project as string, region: o.region as string };
}

function placeProblems(o: { readonly project?: string | undefined; readonly region?: string | undefined }): string[] {
  const problems: string[] = [];
  if (o.project === undefined || o.project === "") problems.push("--project is required (the Google Cloud project)");
  if (o.region === undefined || o.region === "") problems.push("--region is required (e.g. --region=europe-west1)");
  return problems;
}

/** Dataflow's option values, once checked. */
export interface CheckedDataflowOptions {
  readonly project: string;
  readonly region: string;
  readonly tempLocation: string;
  readonly stagingLocation: string;
  readonly sdkContainerImage: string;
  readonly labels: Readonly<Record<string, string>>;
}

const GCS = /^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](\/.*)?$/;
/** Dataflow's label rule: lowercase keys and values of letters, digits, - and _, keys starting with a letter. */
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

/**
 * Checks Dataflow's options before anything is staged or submitted, naming what is wrong: a project and a region are
 * required, locations are `gs://` paths, labels follow Dataflow's rule.
 */
export function checkDataflowOptions(o: {
  readonly project?: string | undefined;
  readonly region?: string | undefined;
  readonly tempLocation?: string | undefined;
  readonly stagingLocation?: string | undefined;
  readonly sdkContainerImage?: string | undefined;
  readonly labels?: string | undefined;
}): CheckedDataflowOptions {
  const problems = placeProblems(o);
  const temp = o.tempLocation;
  if (temp === undefined || temp === "") problems.push("--temp-location is required (gs://BUCKET/PATH)");
  else if (!GCS.test(temp))
    problems.push(`--temp-location must be a gs://BUCKET/PATH location, got ${JSON.stringify(temp)}`);
  if (o.stagingLocation !== undefined && !GCS.test(o.stagingLocation)) {
    problems.push(`--staging-location must be a gs://BUCKET/PATH location, got ${JSON.stringify(o.stagingLocation)}`);
  }
  const labels: Record<string, string> = {};
  for (const pair of (o.labels ?? "").split(",").filter((p) => p !== "")) {
    const [k, v = ""] = pair.split("=") as [string, string?];
    if (!LABEL_KEY.test(k) || !LABEL_VALUE.test(v)) {
      problems.push(
        `--labels: ${JSON.stringify(pair)} is not a Dataflow label (lowercase key=value, letters, digits, - and _)`,
      );
    } else labels[k] = v;
  }
  if (problems.length > 0) throw new Error(`--runner=dataflow: ${problems.join("; ")}`);
  const project = o.project as string;
  const region = o.region as string;
  const tempLocation = (temp as string).replace(/\/$/, "");
  return {
    project,
    region,
    tempLocation,
    stagingLocation: (o.stagingLocation ?? `${tempLocation}/staging`).replace(/\/$/, ""),
    sdkContainerImage: o.sdkContainerImage ?? `${region}-docker.pkg.dev/${project}/tidemark/worker:latest`,
    labels,
  };
}
