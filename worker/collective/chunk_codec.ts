/**
 * A faster serializer for RingChunk with the same bytes as proto-loader's. proto-loader encodes
 * through protobufjs (one copy of `data`) and then `Buffer.from`s the result (a second copy); here the
 * small header fields go through proto-loader's serializer and `data` is appended once, as the last
 * field (the .proto keeps it last: field 15). The receiving side uses proto-loader's deserializer,
 * which hands `data` out as a view of the received message, without a copy.
 */
import type { RingChunk } from '../../proto/gen/dsi/v1/RingChunk.js';

const PROBE_BYTE = 0xab;

/** Wraps `base` (proto-loader's RingChunk serializer); the tag of `data` is read from `base` itself. */
export function fastChunkSerializer(base: (chunk: RingChunk) => Buffer): (chunk: RingChunk) => Buffer {
  // A RingChunk with only `data` = [0xab] encodes as: tag of `data`, length 1, 0xab.
  const probe = base({ data: Buffer.of(PROBE_BYTE) });
  if (probe.length < 3 || probe[probe.length - 1] !== PROBE_BYTE || probe[probe.length - 2] !== 1)
    throw new Error(`unexpected encoding of a RingChunk with only data set: ${probe.toString('hex')}`);
  const tag = Buffer.from(probe.subarray(0, probe.length - 2));
  return (chunk) => {
    const { data, ...fields } = chunk;
    if (!(data instanceof Uint8Array) || data.byteLength === 0) return base(chunk);
    const head = base(fields); // without `data` (protobufjs writes a present bytes field even when empty)
    const length = varint(data.byteLength);
    const out = Buffer.allocUnsafe(head.length + tag.length + length.length + data.byteLength);
    let at = head.copy(out, 0);
    at += tag.copy(out, at);
    at += length.copy(out, at);
    out.set(data, at);
    return out;
  };
}

/** Protobuf base-128 varint of a non-negative integer. */
export function varint(n: number): Buffer {
  const bytes: number[] = [];
  let rest = n;
  while (rest > 0x7f) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
