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
  const head = chunkHeadEncoder(base);
  return (chunk) => {
    const { data } = chunk;
    if (!(data instanceof Uint8Array) || data.byteLength === 0) return base(chunk);
    const prefix = head({ ...chunk, data });
    const out = Buffer.allocUnsafe(prefix.length + data.byteLength);
    prefix.copy(out, 0);
    out.set(data, prefix.length);
    return out;
  };
}

/**
 * The encoding of a RingChunk up to (not including) the bytes of `data`: its other fields, then the
 * tag and length of `data`. Followed by `data` it is the whole message; the TCP transport writes the
 * two as one writev, so `data` is never copied in JS. `data` must be non-empty.
 */
export function chunkHeadEncoder(base: (chunk: RingChunk) => Buffer): (chunk: RingChunk & { data: Uint8Array }) => Buffer {
  // A RingChunk with only `data` = [0xab] encodes as: tag of `data`, length 1, 0xab.
  const probe = base({ data: Buffer.of(PROBE_BYTE) });
  if (probe.length < 3 || probe[probe.length - 1] !== PROBE_BYTE || probe[probe.length - 2] !== 1)
    throw new Error(`unexpected encoding of a RingChunk with only data set: ${probe.toString('hex')}`);
  const tag = Buffer.from(probe.subarray(0, probe.length - 2));
  return (chunk) => {
    const { data, ...fields } = chunk;
    const head = base(fields); // without `data` (protobufjs writes a present bytes field even when empty)
    return Buffer.concat([head, tag, varint(data.byteLength)]);
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
