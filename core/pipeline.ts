import { PipelineBuildError } from "./errors.ts";
import type { PCollection } from "./pcollection.ts";
import type { PCollectionId, PCollectionNode, Primitive, TransformId, TransformNode } from "./primitives.ts";
import type { PBegin, PTransform } from "./ptransform.ts";
import type { WindowingStrategy } from "./windowing-strategy.ts";

/** The output PCollections a primitive declares: per tag, its windowing and boundedness. */
export type OutputSpecs = Readonly<
  Record<string, { readonly windowing: WindowingStrategy; readonly bounded: boolean }>
>;

/** The frozen graph a runner executes. */
export interface PipelineGraph {
  readonly transforms: ReadonlyMap<TransformId, TransformNode>;
  readonly pcollections: ReadonlyMap<PCollectionId, PCollectionNode>;
  /** Primitive transforms in the order they were applied (a topological order). */
  readonly primitives: readonly TransformNode[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

class PCollectionImpl<T> implements PCollection<T> {
  constructor(
    readonly id: PCollectionId,
    readonly pipeline: Pipeline,
    readonly windowing: WindowingStrategy,
    readonly bounded: boolean,
  ) {}
  apply<O>(transform: PTransform<PCollection<T>, O>, name?: string): O {
    return this.pipeline.applyTransform(transform, this, name);
  }
}

/**
 * A pipeline: a graph of transforms and PCollections, built by applying transforms. Building checks the pipeline
 * (a wrong windowing, trigger or grouping fails here, naming the transform); running it is a runner's job.
 */
export class Pipeline {
  private readonly transforms = new Map<TransformId, TransformNode>();
  private readonly pcollections = new Map<PCollectionId, PCollectionNode>();
  private readonly primitiveOrder: TransformNode[] = [];
  private readonly scope: TransformNode[] = [];
  private readonly usedNames = new Set<string>();
  private nextId = 0;

  static create(): Pipeline {
    return new Pipeline();
  }

  /** The pipeline's root, to which reads are applied. */
  begin(): PBegin {
    return { kind: "begin", pipeline: this };
  }

  /** Applies a root transform (a read) to the pipeline. */
  apply<O>(transform: PTransform<PBegin, O>, name?: string): O {
    return this.applyTransform(transform, this.begin(), name);
  }

  /** The full name of the transform being expanded right now (for error messages of primitives). */
  currentName(): string {
    return this.scope.at(-1)?.fullName ?? "<root>";
  }

  applyTransform<I, O>(transform: PTransform<I, O>, input: I, name?: string): O {
    this.enter(name ?? transform.name, name !== undefined);
    try {
      return transform.expand(input);
    } finally {
      this.scope.pop();
    }
  }

  /**
   * Adds a primitive transform under the composite being expanded. Returns its outputs, by tag.
   */
  applyPrimitive(
    primitive: Primitive,
    inputs: readonly PCollection<unknown>[],
    outputs: OutputSpecs,
  ): Record<string, PCollection<unknown>> {
    const parent = this.scope.at(-1);
    if (!parent) throw new PipelineBuildError("<root>", "a primitive must be applied inside a transform");
    if (parent.primitive !== undefined || parent.children.length > 0) {
      throw new PipelineBuildError(
        parent.fullName,
        "a transform may add only one primitive; apply sub-transforms instead",
      );
    }
    for (const i of inputs) {
      if (i.pipeline !== this)
        throw new PipelineBuildError(parent.fullName, "input PCollection belongs to another pipeline");
    }
    const outIds: Record<string, PCollectionId> = {};
    const result: Record<string, PCollection<unknown>> = {};
    for (const [tag, spec] of Object.entries(outputs)) {
      const id = `pc${this.nextId++}` as PCollectionId;
      outIds[tag] = id;
      this.pcollections.set(id, {
        id,
        producer: parent.id,
        windowing: spec.windowing,
        bounded: spec.bounded,
        name: tag === "main" ? parent.fullName : `${parent.fullName}.${tag}`,
      });
      result[tag] = new PCollectionImpl<unknown>(id, this, spec.windowing, spec.bounded);
    }
    const primitiveNode = parent as Mutable<TransformNode>;
    primitiveNode.primitive = primitive;
    primitiveNode.inputs = inputs.map((i) => i.id);
    primitiveNode.outputs = outIds;
    this.primitiveOrder.push(primitiveNode);
    return result;
  }

  /** The graph as built so far, frozen for a runner. */
  graph(): PipelineGraph {
    return {
      transforms: new Map(this.transforms),
      pcollections: new Map(this.pcollections),
      primitives: [...this.primitiveOrder],
    };
  }

  pcollectionNode(id: PCollectionId): PCollectionNode {
    const n = this.pcollections.get(id);
    if (!n) throw new Error(`unknown PCollection ${id}`);
    return n;
  }

  private enter(name: string, explicit: boolean): TransformNode {
    if (name.length === 0 || name.includes("/")) {
      throw new PipelineBuildError(
        this.currentName(),
        `invalid transform name ${JSON.stringify(name)} (empty or contains '/')`,
      );
    }
    const parent = this.scope.at(-1);
    const prefix = parent ? `${parent.fullName}/` : "";
    let fullName = `${prefix}${name}`;
    if (this.usedNames.has(fullName)) {
      if (explicit) {
        throw new PipelineBuildError(
          fullName,
          "this transform name is already used at this level; names must be unique",
        );
      }
      let n = 2;
      while (this.usedNames.has(`${prefix}${name}#${n}`)) n++;
      fullName = `${prefix}${name}#${n}`;
    }
    this.usedNames.add(fullName);
    const node: TransformNode = {
      id: `t${this.nextId++}` as TransformId,
      fullName,
      primitive: undefined,
      inputs: [],
      outputs: {},
      parent: parent?.id,
      children: [],
    };
    this.transforms.set(node.id, node);
    if (parent) this.transforms.get(parent.id)?.children.push(node.id);
    this.scope.push(node);
    return node;
  }
}
