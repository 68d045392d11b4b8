import type { Coder as CoderProto } from "../proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import {
  BOOL,
  BYTES,
  type Coder,
  DOUBLE,
  GLOBAL_WINDOW_CODER,
  INTERVAL_WINDOW_CODER,
  iterableCoder,
  KEY,
  kvCoder,
  lengthPrefixCoder,
  STRING_UTF8,
  timerCoder,
  VALUE,
  VARINT,
  windowedValueCoder,
} from "../coders/standard-coders.ts";
import type { BoundedWindow } from "../../../core/windows/window.ts";
import { URNS } from "../urns.ts";

/**
 * The coders of a bundle descriptor, resolved by id to Tidemark's implementations: Beam's standard coders and
 * Tidemark's value coder. A length prefix around a coder the worker does not know reads the bytes as they are (a
 * runner may wrap coders it does not know; the worker never needs one it does not know). An unknown coder elsewhere
 * is an error naming its id and URN.
 */
export class CoderTable {
  private readonly resolved = new Map<string, Coder<unknown>>();

  constructor(private readonly protos: { readonly [id: string]: CoderProto }) {}

  get(id: string): Coder<unknown> {
    let c = this.resolved.get(id);
    if (c === undefined) {
      c = this.build(id);
      this.resolved.set(id, c);
    }
    return c;
  }

  /** The window coder of a windowed-value coder (its second component). */
  windowCoderOf(windowedValueId: string): Coder<BoundedWindow> {
    const p = this.proto(windowedValueId);
    const w = p.componentCoderIds[1];
    if (w === undefined) throw new Error(`coder ${windowedValueId} (${p.spec?.urn}) has no window coder`);
    return this.get(w) as Coder<BoundedWindow>;
  }

  private proto(id: string): CoderProto {
    const p = this.protos[id];
    if (p === undefined) throw new Error(`the bundle descriptor has no coder "${id}"`);
    return p;
  }

  private build(id: string): Coder<unknown> {
    const p = this.proto(id);
    const urn = p.spec?.urn ?? "";
    const part = (i: number) => {
      const cid = p.componentCoderIds[i];
      if (cid === undefined) throw new Error(`coder ${id} (${urn}) lacks component ${i}`);
      return this.get(cid);
    };
    const c = URNS.coders;
    switch (urn) {
      case c.BYTES:
        return BYTES as Coder<unknown>;
      case c.STRING_UTF8:
        return STRING_UTF8 as Coder<unknown>;
      case c.VARINT:
        return VARINT as Coder<unknown>;
      case c.DOUBLE:
        return DOUBLE as Coder<unknown>;
      case c.BOOL:
        return BOOL as Coder<unknown>;
      case c.KV:
        return kvCoder(part(0), part(1)) as Coder<unknown>;
      case c.ITERABLE:
        return iterableCoder(part(0)) as Coder<unknown>;
      case c.GLOBAL_WINDOW:
        return GLOBAL_WINDOW_CODER as Coder<unknown>;
      case c.INTERVAL_WINDOW:
        return INTERVAL_WINDOW_CODER as Coder<unknown>;
      case c.WINDOWED_VALUE:
        return windowedValueCoder(part(0), part(1) as Coder<BoundedWindow>) as Coder<unknown>;
      case c.TIMER:
        return timerCoder(part(0), part(1) as Coder<BoundedWindow>) as Coder<unknown>;
      case c.LENGTH_PREFIX: {
        const inner = this.proto(p.componentCoderIds[0] ?? "");
        if (inner.spec?.urn === VALUE.urn) return lengthPrefixCoder(VALUE);
        if (inner.spec?.urn === KEY.urn) return lengthPrefixCoder(KEY);
        const known = KNOWN.has(inner.spec?.urn ?? "");
        return known ? lengthPrefixCoder(part(0)) : BYTES;
      }
      case VALUE.urn:
        return VALUE;
      case KEY.urn:
        return KEY;
      default:
        throw new Error(`coder ${id} has URN ${JSON.stringify(urn)}, which the Tidemark worker does not implement`);
    }
  }
}

/** The coders this table implements (a length prefix around any other reads raw bytes). */
const KNOWN = new Set<string>([
  ...["BYTES", "STRING_UTF8", "VARINT", "DOUBLE", "BOOL", "KV", "ITERABLE", "GLOBAL_WINDOW", "INTERVAL_WINDOW"].map(
    (k) => URNS.coders[k] as string,
  ),
  ...["WINDOWED_VALUE", "TIMER", "LENGTH_PREFIX"].map((k) => URNS.coders[k] as string),
  VALUE.urn,
  KEY.urn,
]);
