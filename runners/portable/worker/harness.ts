import type { StepTimes } from "../../observe/step-time.ts";
import type { TranslationChoices } from "../runner-made.ts";
import { MonitoringShortIds } from "../user-metrics.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { PipelineGraph } from "../../../core/pipeline.ts";
import { ServiceClient } from "../grpc.ts";
import {
  BeamFnControl,
  BeamFnLogging,
  type InstructionRequest,
  type InstructionResponseSchema,
  LogEntry_Severity_Enum,
  type ProcessBundleDescriptor,
} from "../proto/generated/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.ts";
import { BundleProcessor } from "./bundle-processor.ts";
import { DataChannel } from "./data-channel.ts";
import { StateChannel } from "./state-channel.ts";

type Response = MessageInitShape<typeof InstructionResponseSchema>;

/** A runner's endpoint as the worker dials it (`localhost` as 127.0.0.1: the runners listen there, not on ::1). */
export function dialable(url: string): string {
  return url.replace(/^localhost:/, "127.0.0.1:");
}

export interface HarnessOptions {
  readonly workerId: string;
  readonly controlUrl: string;
  readonly loggingUrl?: string;
  /** The pipeline module's graph: the worker finds the DoFns the descriptors name here, by step name. */
  readonly graph: PipelineGraph;
  /** Called with the error of each instruction that failed (a bundle's error names the step). */
  readonly onFailure?: (message: string) => void;
  /** Per-step processing time, when wanted (a sampler this process runs): bundles report it as `process_bundle_msecs`. */
  readonly stepTimes?: () => StepTimes;
  /** What the launcher's translation left to the runner (default: none): where each PCollection is made and counted. */
  readonly choices?: TranslationChoices;
}

/**
 * Beam's Fn API SDK harness for Tidemark pipelines: connects to the runner's control service (every call with the
 * `worker_id` metadata), registers the bundle descriptors it is sent (or fetches them), runs bundles through
 * `BundleProcessor`s (one per descriptor, its bundles one at a time, different descriptors side by side), answers
 * progress (element counts so far), split (no split: bundles are not divided), finalization and monitoring requests,
 * and forwards its log lines to the runner's logging service.
 */
export class FnHarness {
  private readonly control: ServiceClient<(typeof BeamFnControl)["method"]>;
  private readonly call: ReturnType<ServiceClient<(typeof BeamFnControl)["method"]>["bidiStream"]>;
  private readonly logging: ReturnType<ServiceClient<(typeof BeamFnLogging)["method"]>["bidiStream"]> | undefined;
  private readonly loggingClient: ServiceClient<(typeof BeamFnLogging)["method"]> | undefined;
  private readonly descriptors = new Map<string, ProcessBundleDescriptor>();
  /** Short ids of the monitoring infos this worker reports (one registry for all its bundles). */
  private readonly shortIds = new MonitoringShortIds();
  private readonly processors = new Map<string, Promise<BundleProcessor>>();
  /** Per descriptor, the end of the last bundle queued (its bundles run one after another). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly active = new Map<string, BundleProcessor>();
  private readonly dataChannels = new Map<string, DataChannel>();
  private readonly stateChannels = new Map<string, StateChannel>();
  /** Resolves when the runner closes the control stream (the job ended, or the worker was stopped). */
  readonly done: Promise<void>;

  constructor(private readonly options: HarnessOptions) {
    const metadata = { worker_id: options.workerId };
    this.control = new ServiceClient(BeamFnControl, dialable(options.controlUrl), metadata);
    if (options.loggingUrl !== undefined && options.loggingUrl !== "") {
      this.loggingClient = new ServiceClient(BeamFnLogging, dialable(options.loggingUrl), metadata);
      this.logging = this.loggingClient.bidiStream("logging");
      void (async () => {
        try {
          for await (const _ of this.logging as AsyncIterable<unknown>) {
            // The runner's log control messages: nothing to change.
          }
        } catch {
          // The runner closed the stream.
        }
      })();
    }
    this.call = this.control.bidiStream("control");
    this.done = this.serve();
  }

  /** Sends a log line to the runner (Beam's LogEntry). */
  log(severity: "info" | "warn" | "error", message: string, instructionId = "", transformId = ""): void {
    const s = {
      info: LogEntry_Severity_Enum.INFO,
      warn: LogEntry_Severity_Enum.WARN,
      error: LogEntry_Severity_Enum.ERROR,
    };
    this.logging?.send({
      logEntries: [
        {
          severity: s[severity],
          timestamp: timestampFromMs(Date.now()),
          message,
          instructionId,
          transformId,
          logLocation: "tidemark.worker",
        },
      ],
    });
  }

  private async serve(): Promise<void> {
    try {
      for await (const req of this.call) void this.handle(req);
    } catch {
      // The runner ended the stream (the job is over or the worker was stopped).
    }
    this.close();
  }

  private async handle(req: InstructionRequest): Promise<void> {
    const id = req.instructionId;

    let response: Response;
    try {
      response = { instructionId: id, ...(await this.answer(req)) };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.log("error", message, id);
      this.options.onFailure?.(message);
      response = { instructionId: id, error: message };
    }
    this.call.send(response);
  }

  private async answer(req: InstructionRequest): Promise<Pick<Response, "response">> {
    const r = req.request;
    switch (r.case) {
      case "register":
        for (const d of r.value.processBundleDescriptor) this.descriptors.set(d.id, d);
        return { response: { case: "register", value: {} } };
      case "processBundle": {
        const descriptorId = r.value.processBundleDescriptorId;
        const processor = await this.processor(descriptorId);
        const previous = this.queues.get(descriptorId) ?? Promise.resolve();
        const run = previous.then(async () => {
          this.active.set(req.instructionId, processor);
          try {
            return await processor.process(req.instructionId);
          } finally {
            this.active.delete(req.instructionId);
          }
        });
        this.queues.set(
          descriptorId,
          run.catch(() => {}),
        );
        return { response: { case: "processBundle", value: await run } };
      }
      case "processBundleProgress": {
        const p = this.active.get(r.value.instructionId);
        return {
          response: { case: "processBundleProgress", value: { monitoringInfos: p?.monitoringInfos() ?? [] } },
        };
      }
      case "processBundleSplit":
        // Bundles are not divided: an empty answer keeps the whole bundle here.
        return { response: { case: "processBundleSplit", value: {} } };
      case "finalizeBundle": {
        // The processor that ran the bundle finalizes what its reads took (it kept the marks by instruction id).
        // A runner may ask to finalize a bundle that had nothing to finalize (Prism v2.77.0 asks for every bundle of a
        // stage whose step requests finalization): that is done at once.
        const processors = await Promise.all([...this.processors.values()].map((p) => p.catch(() => undefined)));
        for (const p of processors) if (p !== undefined && (await p.finalize(r.value.instructionId))) break;
        return { response: { case: "finalizeBundle", value: {} } };
      }
      case "monitoringInfos":
        return {
          response: {
            case: "monitoringInfos",
            value: { monitoringInfo: this.shortIds.metadata(r.value.monitoringInfoId) },
          },
        };
      case "harnessMonitoringInfos":
        return { response: { case: "harnessMonitoringInfos", value: {} } };
      case "sampleData":
        return { response: { case: "sampleData", value: {} } };
      default:
        throw new Error(`the Tidemark worker does not handle ${r.case ?? "an empty"} instruction`);
    }
  }

  private processor(descriptorId: string): Promise<BundleProcessor> {
    let p = this.processors.get(descriptorId);
    if (p === undefined) {
      p = (async () => {
        const d =
          this.descriptors.get(descriptorId) ??
          (await this.control.unary("getProcessBundleDescriptor", { processBundleDescriptorId: descriptorId }));
        return new BundleProcessor(d, {
          graph: this.options.graph,
          shortIds: this.shortIds,
          data: (url) => this.dataChannel(url),
          state: (url) => this.stateChannel(url),
          ...(this.options.stepTimes === undefined ? {} : { stepTimes: this.options.stepTimes }),
          ...(this.options.choices === undefined ? {} : { choices: this.options.choices }),
        });
      })();
      // A descriptor that fails to build fails each of its bundles with the reason.
      this.processors.set(descriptorId, p);
    }
    return p;
  }

  private dataChannel(url: string): DataChannel {
    let c = this.dataChannels.get(url);
    if (c === undefined) {
      c = new DataChannel(dialable(url), this.options.workerId);
      this.dataChannels.set(url, c);
    }
    return c;
  }

  private stateChannel(url: string): StateChannel {
    let c = this.stateChannels.get(url);
    if (c === undefined) {
      c = new StateChannel(dialable(url), this.options.workerId);
      this.stateChannels.set(url, c);
    }
    return c;
  }

  /** Tears the DoFns down and closes every channel. */
  close(): void {
    for (const p of this.processors.values()) void p.then((b) => b.teardown()).catch(() => {});
    for (const c of this.dataChannels.values()) c.close();
    for (const c of this.stateChannels.values()) c.close();
    this.logging?.end();
    this.loggingClient?.close();
    this.call.end();
    this.control.close();
  }
}
