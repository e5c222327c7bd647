/**
 * The safetensors file format (Hugging Face): 8-byte little-endian header length N, then N bytes of JSON
 *   {"__metadata__": {string: string}, NAME: {"dtype", "shape": [...], "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the tensor bytes (little-endian, row-major); offsets count
 * from the first byte after the header.
 *
 * Reading gives F32, F16 and BF16 as Float32Array, I32 and I64 as Int32Array (I64 values must fit),
 * U8 as Uint8Array. Writing converts a Float32Array to F16 or BF16 by rounding to nearest, ties to even
 * (as numpy and PyTorch do), lays tensors out in the order given, and replaces the file atomically.
 */
import { endianness } from 'node:os';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelFormatError } from '../runtime/errors.js';

export type FloatDtype = 'F32' | 'F16' | 'BF16';
export type IntDtype = 'I32' | 'I64';
export type SafetensorsDtype = FloatDtype | IntDtype | 'U8';

/** One tensor: its stored dtype, shape, and values in the JS array type of that dtype. */
export type SafeTensor =
  | { dtype: FloatDtype; shape: number[]; data: Float32Array }
  | { dtype: IntDtype; shape: number[]; data: Int32Array }
  | { dtype: 'U8'; shape: number[]; data: Uint8Array };

export interface SafetensorsFile {
  /** In file layout order. */
  tensors: Map<string, SafeTensor>;
  /** The header's "__metadata__" (empty when absent). */
  metadata: Record<string, string>;
}

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };
/** Headers larger than this are refused, as Hugging Face's reader does (a corrupt length would allocate gigabytes). */
const MAX_HEADER_BYTES = 100_000_000;
const HEADER_LENGTH_BYTES = 8;
const HEADER_ALIGN = 8;
const METADATA_KEY = '__metadata__';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function isDtype(v: unknown): v is SafetensorsDtype {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, v);
}

function requireLittleEndianHost(): void {
  // typed arrays use the host's byte order; the format is little-endian
  if (endianness() !== 'LE') throw new Error('safetensors: this reader/writer needs a little-endian host');
}

// ---- float conversions (bit patterns as unsigned integers) ----

/** float32 bits -> float16 bits, round to nearest, ties to even; overflow -> Inf, NaN stays NaN. */
export function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) { // Inf or NaN: keep NaN's top payload bits, and make sure the result is still a NaN
    if (mant === 0) return sign | 0x7c00;
    const m = mant >>> 13;
    return sign | 0x7c00 | (m === 0 ? 0x200 : m);
  }
  const e = exp - 127 + 15; // float16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // beyond 65504 even before rounding
  let value: number; // float16 magnitude bits before rounding
  let dropped: number; // low bits that rounding removes
  if (e <= 0) { // float16 subnormal (or zero): value = M × 2^-24 with M the 24-bit significand shifted
    if (e < -10) return sign; // below 2^-25: rounds to zero
    const full = mant | 0x800000;
    dropped = 14 - e; // 14..24
    value = full >>> dropped;
    const rem = full & ((1 << dropped) - 1), half = 1 << (dropped - 1);
    if (rem > half || (rem === half && (value & 1) === 1)) value++;
    return sign | value; // value may carry to 0x400, the smallest normal: still the right bits
  }
  dropped = 13;
  value = (e << 10) | (mant >>> dropped);
  const rem = mant & 0x1fff, half = 0x1000;
  if (rem > half || (rem === half && (value & 1) === 1)) value++; // a carry may reach 0x7c00 = Inf: correct
  return sign | value;
}

/** float32 bits -> bfloat16 bits (the top half), round to nearest, ties to even; NaN stays NaN. */
export function f32BitsToBf16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff; // NaN: set the quiet bit so it cannot become Inf
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff; // at most 0xff807fff: no 32-bit overflow
}

/** float16 bits -> float32, exact: every float16 value is a float32 value. */
const F16_TO_F32: Float32Array = (() => {
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16, exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
    if (exp === 0) table[h] = (sign ? -1 : 1) * mant * 2 ** -24; // zero or subnormal: exact in float32
    else if (exp === 0x1f) bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf / NaN with its payload
    else bits[h] = (sign | ((exp + 127 - 15) << 23) | (mant << 13)) >>> 0;
  }
  return table;
})();

export function f16BitsToF32(bits: number): number {
  return F16_TO_F32[bits & 0xffff] ?? NaN;
}

function f32ToHalf(data: Float32Array, dtype: 'F16' | 'BF16'): Uint16Array {
  const src = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const convert = dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
  for (let i = 0; i < src.length; i++) out[i] = convert(src[i] ?? 0);
  return out;
}

function halfToF32(src: Uint16Array, dtype: 'F16' | 'BF16'): Float32Array {
  const out = new Float32Array(src.length);
  if (dtype === 'F16') {
    for (let i = 0; i < src.length; i++) out[i] = F16_TO_F32[src[i] ?? 0] ?? NaN;
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) bits[i] = (src[i] ?? 0) << 16 >>> 0;
  }
  return out;
}

// ---- reading ----

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Checks the parsed header; returns the entries sorted by offset and the metadata. */
function parseHeader(file: string, json: unknown, dataBytes: number): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ModelFormatError(file, 'header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    const bad = (problem: string): never => { throw new ModelFormatError(file, `tensor '${name}': ${problem}`); };
    if (name === METADATA_KEY) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ModelFormatError(file, `'${METADATA_KEY}' is not an object`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new ModelFormatError(file, `'${METADATA_KEY}.${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('header entry is not an object');
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDtype(dtype)) return bad(`unknown dtype ${JSON.stringify(dtype)} (this reader knows ${Object.keys(DTYPE_BYTES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) return bad(`shape ${JSON.stringify(shape)} is not a list of integers >= 0`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      return bad(`data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataBytes) bad(`data_offsets [${begin}, ${end}] fall outside the ${dataBytes} data bytes of the file`);
    const expected = elementCount(shape as number[]) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) bad(`holds ${end - begin} bytes, shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1], cur = entries[i];
    if (prev !== undefined && cur !== undefined && cur.begin < prev.end) {
      throw new ModelFormatError(file, `tensor '${cur.name}': data_offsets [${cur.begin}, ${cur.end}] overlap tensor '${prev.name}' [${prev.begin}, ${prev.end}]`);
    }
  }
  return { entries, metadata };
}

/** Converts one tensor's raw little-endian bytes (in their own ArrayBuffer) to its JS array. */
function decodeTensor(file: string, e: HeaderEntry, raw: ArrayBuffer): SafeTensor {
  switch (e.dtype) {
    case 'F32': return { dtype: e.dtype, shape: e.shape, data: new Float32Array(raw) };
    case 'F16':
    case 'BF16': return { dtype: e.dtype, shape: e.shape, data: halfToF32(new Uint16Array(raw), e.dtype) };
    case 'I32': return { dtype: e.dtype, shape: e.shape, data: new Int32Array(raw) };
    case 'U8': return { dtype: e.dtype, shape: e.shape, data: new Uint8Array(raw) };
    case 'I64': {
      const wide = new BigInt64Array(raw);
      const data = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) {
        const v = wide[i] ?? 0n;
        if (v < BigInt(INT32_MIN) || v > BigInt(INT32_MAX)) {
          throw new ModelFormatError(file, `tensor '${e.name}': I64 value ${v} at index ${i} does not fit in int32`);
        }
        data[i] = Number(v);
      }
      return { dtype: e.dtype, shape: e.shape, data };
    }
  }
}

/** Reads every tensor of `file`. Throws ModelFormatError naming the file (and tensor) for any inconsistency. */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  requireLittleEndianHost();
  const handle = await open(file, 'r').catch((err: unknown) => {
    throw new ModelFormatError(file, 'cannot open the safetensors file', { cause: err });
  });
  try {
    const size = (await handle.stat()).size;
    if (size < HEADER_LENGTH_BYTES) throw new ModelFormatError(file, `is ${size} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(HEADER_LENGTH_BYTES);
    await handle.read(lenBuf, 0, HEADER_LENGTH_BYTES, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(size - HEADER_LENGTH_BYTES)) {
      throw new ModelFormatError(file, `header length ${headerLen} goes beyond the end of the file (${size} bytes)`);
    }
    if (headerLen > BigInt(MAX_HEADER_BYTES)) throw new ModelFormatError(file, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    const n = Number(headerLen);
    const headerBuf = Buffer.alloc(n);
    await handle.read(headerBuf, 0, n, HEADER_LENGTH_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(headerBuf.toString('utf8'));
    } catch (err) {
      throw new ModelFormatError(file, `header is not valid JSON (${(err as Error).message})`, { cause: err });
    }
    const dataStart = HEADER_LENGTH_BYTES + n;
    const { entries, metadata } = parseHeader(file, json, size - dataStart);
    const tensors = new Map<string, SafeTensor>();
    for (const e of entries) {
      const raw = new ArrayBuffer(e.end - e.begin); // its own buffer: aligned for any typed array
      const { bytesRead } = await handle.read(new Uint8Array(raw), 0, raw.byteLength, dataStart + e.begin);
      if (bytesRead !== raw.byteLength) throw new ModelFormatError(file, `tensor '${e.name}': short read (${bytesRead} of ${raw.byteLength} bytes)`);
      tensors.set(e.name, decodeTensor(file, e, raw));
    }
    return { tensors, metadata };
  } finally {
    await handle.close();
  }
}

// ---- writing ----

/** The bytes of one tensor as stored under its dtype. */
function encodeTensor(file: string, name: string, t: SafeTensor): Uint8Array {
  const count = elementCount(t.shape);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ModelFormatError(file, `tensor '${name}': shape [${t.shape.join(', ')}] is not a list of integers >= 0`);
  if (t.data.length !== count) throw new ModelFormatError(file, `tensor '${name}': ${t.data.length} values for shape [${t.shape.join(', ')}] (${count})`);
  const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (t.dtype) {
    case 'F32':
    case 'I32':
    case 'U8': return bytesOf(t.data);
    case 'F16':
    case 'BF16': return bytesOf(f32ToHalf(t.data, t.dtype));
    case 'I64': return bytesOf(BigInt64Array.from(t.data, (v) => BigInt(v)));
    default: throw new ModelFormatError(file, `tensor '${name}': unknown dtype ${JSON.stringify((t as { dtype: unknown }).dtype)}`);
  }
}

/** Writes all of `bytes` at the handle's position (one write(2) may write less than asked). */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
    done += bytesWritten;
  }
}

/**
 * Writes `tensors` (laid out in map order) and `metadata` to `file`: into a temporary file in the same
 * folder, fsynced, then renamed over `file`, so a crash leaves the old file or the new one, never a mix.
 */
export async function writeSafetensors(file: string, tensors: ReadonlyMap<string, SafeTensor>, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
  requireLittleEndianHost();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = { ...metadata };
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === METADATA_KEY) throw new ModelFormatError(file, `tensor name '${METADATA_KEY}' is reserved for metadata`);
    const bytes = encodeTensor(file, name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (HEADER_ALIGN - (json.length % HEADER_ALIGN)) % HEADER_ALIGN;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]); // spaces, as Hugging Face pads
  const lenBuf = Buffer.alloc(HEADER_LENGTH_BYTES);
  lenBuf.writeBigUInt64LE(BigInt(json.length), 0);

  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  const handle = await open(tmp, 'wx');
  try {
    await writeAll(handle, lenBuf);
    await writeAll(handle, json);
    for (const b of blobs) await writeAll(handle, b);
    await handle.sync();
    await handle.close();
    await rename(tmp, file);
  } catch (err) {
    await handle.close().catch(() => undefined); // already closed when the failure came after close()
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(dirname(file), 'r');
  try { await dir.sync(); } finally { await dir.close(); } // make the rename itself durable
}
