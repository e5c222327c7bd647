import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFormatError } from '../shared/runtime/errors.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../shared/model/safetensors.js';

const dir = await mkdtemp(join(tmpdir(), 'dsi-safetensors-'));
test.after(() => rm(dir, { recursive: true, force: true }));

/** float32 values with exactly the given bit patterns. */
const fromBits = (bits: number[]): Float32Array => new Float32Array(Uint32Array.from(bits).buffer);
const bitsOf = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** The stored uint16 values of the first tensor in a file written by writeSafetensors. */
async function storedU16(file: string): Promise<number[]> {
  const buf = await readFile(file);
  const start = 8 + Number(buf.readBigUInt64LE(0));
  return Array.from({ length: (buf.length - start) / 2 }, (_, i) => buf.readUInt16LE(start + 2 * i));
}

/** A file from a hand-written header object and data bytes; `headerLength` overrides the stored length. */
async function handBuilt(name: string, header: object, data: Uint8Array, headerLength?: number): Promise<string> {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLength ?? json.length));
  const file = join(dir, name);
  await writeFile(file, Buffer.concat([len, Buffer.from(json), data]));
  return file;
}

test('F32 round trip is exact to the bit: -0, NaN payloads, subnormals, infinities', async () => {
  const bits = [
    0x00000000, 0x80000000, // +0, -0
    0x7fc00001, 0xffc12345, 0x7f800001, // quiet NaNs with payloads, a signalling NaN
    0x00000001, 0x007fffff, 0x80000001, // smallest and largest subnormal, negative subnormal
    0x7f800000, 0xff800000, 0x7f7fffff, 0x3f800000, 0x3eaaaaab, // ±Inf, max float, 1, 1/3
  ];
  const file = join(dir, 'f32.safetensors');
  await writeSafetensors(file, new Map<string, SafeTensor>([
    ['x', { dtype: 'F32', shape: [13], data: fromBits(bits) }],
    ['scalar', { dtype: 'F32', shape: [], data: Float32Array.of(2.5) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
  ]), { format: 'pt', step: '7' });
  const { tensors, metadata } = await readSafetensors(file);
  assert.deepEqual(metadata, { format: 'pt', step: '7' });
  assert.deepEqual([...tensors.keys()], ['x', 'scalar', 'empty']);
  const x = tensors.get('x');
  assert.ok(x?.data instanceof Float32Array);
  assert.deepEqual(bitsOf(x.data), bits);
  assert.deepEqual(x.shape, [13]);
  assert.deepEqual(tensors.get('scalar'), { dtype: 'F32', shape: [], data: Float32Array.of(2.5) });
  assert.deepEqual(tensors.get('empty'), { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) });
  // the header is padded with spaces to a multiple of 8
  const buf = await readFile(file);
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  assert.equal(buf.length, 8 + n + 13 * 4 + 4);
  assert.match(buf.toString('utf8', 8, 8 + n), /^\{"__metadata__":\{"format":"pt","step":"7"\},"x":\{"dtype":"F32","shape":\[13\],"data_offsets":\[0,52\]\}.* *$/);
});

test('F16: round to nearest even, overflow to Inf, subnormals, NaN', async () => {
  const cases: [number, number][] = [
    [1.0, 0x3c00], [-2.0, 0xc000], [0.5, 0x3800], [1 / 3, 0x3555],
    [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [-1e6, 0xfc00], // 65520: tie between 65504 (odd) and 65536 = Inf
    [Infinity, 0x7c00], [-Infinity, 0xfc00], [NaN, 0x7e00], [-0, 0x8000], [0, 0x0000],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01], // half-ulp ties go to even
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [2 ** -25 + 2 ** -35, 0x0001], // subnormal ties
    [2 ** -14, 0x0400], [2 ** -14 - 2 ** -25, 0x0400], [1e-8, 0x0000], // carry into the smallest normal; underflow
  ];
  const file = join(dir, 'f16.safetensors');
  await writeSafetensors(file, new Map<string, SafeTensor>([
    ['h', { dtype: 'F16', shape: [cases.length], data: Float32Array.from(cases, ([v]) => v) }],
  ]));
  assert.deepEqual((await storedU16(file)).map((b) => b.toString(16)), cases.map(([, b]) => b.toString(16)));
  const back = (await readSafetensors(file)).tensors.get('h')?.data;
  assert.ok(back instanceof Float32Array);
  assert.deepEqual(Array.from(back.slice(0, 7)), [1, -2, 0.5, 0.333251953125, 65504, 65504, Infinity]);
  assert.ok(Number.isNaN(back[11]));
  assert.ok(Object.is(back[12], -0));
  assert.equal(back[17], 2 ** -24);
});

test('BF16: round to nearest even on the low 16 bits, NaN kept a NaN', async () => {
  const cases: [number, number][] = [
    [0x3f800000, 0x3f80], [0xc0000000, 0xc000], [0x3eaaaaab, 0x3eab], // 1, -2, 1/3
    [0x3f808000, 0x3f80], [0x3f818000, 0x3f82], [0x3f808001, 0x3f81], [0x3f80ffff, 0x3f81], // ties to even
    [0x7f7fffff, 0x7f80], [0x7f800000, 0x7f80], [0xff800000, 0xff80], // max float rounds to Inf
    [0x7fc00000, 0x7fc0], [0x7f800001, 0x7fc0], [0xff800001, 0xffc0], // low-payload NaNs must not become Inf
    [0x00000001, 0x0000], [0x80000000, 0x8000],
  ];
  const file = join(dir, 'bf16.safetensors');
  await writeSafetensors(file, new Map<string, SafeTensor>([
    ['b', { dtype: 'BF16', shape: [cases.length], data: fromBits(cases.map(([f]) => f)) }],
  ]));
  assert.deepEqual((await storedU16(file)).map((b) => b.toString(16)), cases.map(([, b]) => b.toString(16)));
  const back = (await readSafetensors(file)).tensors.get('b')?.data;
  assert.ok(back instanceof Float32Array);
  assert.deepEqual(bitsOf(back).slice(0, 3), [0x3f800000, 0xc0000000, 0x3eab0000]);
  assert.equal(back[2], 0.333984375);
});

test('integer dtypes: I32, I64 (range-checked) and U8 round trip', async () => {
  const file = join(dir, 'ints.safetensors');
  const ints = Int32Array.of(-2147483648, -1, 0, 2147483647);
  await writeSafetensors(file, new Map<string, SafeTensor>([
    ['i32', { dtype: 'I32', shape: [2, 2], data: ints }],
    ['i64', { dtype: 'I64', shape: [4], data: ints }],
    ['u8', { dtype: 'U8', shape: [3], data: Uint8Array.of(0, 128, 255) }],
  ]));
  const { tensors } = await readSafetensors(file);
  assert.deepEqual(tensors.get('i32'), { dtype: 'I32', shape: [2, 2], data: ints });
  assert.deepEqual(tensors.get('i64'), { dtype: 'I64', shape: [4], data: ints });
  assert.deepEqual(tensors.get('u8'), { dtype: 'U8', shape: [3], data: Uint8Array.of(0, 128, 255) });
  const buf = await readFile(file);
  const start = 8 + Number(buf.readBigUInt64LE(0));
  assert.equal(buf.readBigInt64LE(start + 16), -2147483648n); // I64 stored sign-extended after the 16 bytes of i32
  assert.equal(buf.readBigUInt64LE(start + 24), 0xffffffffffffffffn);
});

test('a hand-built header with metadata, out-of-order offsets and every dtype parses', async () => {
  const data = Buffer.alloc(48);
  [1.5, -2, 0, 3].forEach((v, i) => data.writeFloatLE(v, 20 + 4 * i)); // w: bytes 20..36
  [7n, -9n].forEach((v, i) => data.writeBigInt64LE(v, 4 + 8 * i)); // ids: bytes 4..20
  data.writeUInt16LE(0x3c00, 0); data.writeUInt16LE(0xc000, 2); // h: bytes 0..4, F16 1 and -2
  data.writeUInt16LE(0x4049, 36); // b: BF16 3.140625
  data.writeUInt8(200, 38); // m: bytes 38..39
  const file = await handBuilt('hand.safetensors', {
    __metadata__: { format: 'pt' },
    w: { dtype: 'F32', shape: [2, 2], data_offsets: [20, 36] },
    ids: { dtype: 'I64', shape: [2], data_offsets: [4, 20] },
    h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
    b: { dtype: 'BF16', shape: [1], data_offsets: [36, 38] },
    m: { dtype: 'U8', shape: [1, 1], data_offsets: [38, 39] },
  }, data);
  const { tensors, metadata } = await readSafetensors(file);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual([...tensors.keys()], ['h', 'ids', 'w', 'b', 'm']); // layout order
  assert.deepEqual(tensors.get('w'), { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1.5, -2, 0, 3) });
  assert.deepEqual(tensors.get('ids'), { dtype: 'I64', shape: [2], data: Int32Array.of(7, -9) });
  assert.deepEqual(tensors.get('h'), { dtype: 'F16', shape: [2], data: Float32Array.of(1, -2) });
  assert.deepEqual(tensors.get('b'), { dtype: 'BF16', shape: [1], data: Float32Array.of(3.140625) });
  assert.deepEqual(tensors.get('m'), { dtype: 'U8', shape: [1, 1], data: Uint8Array.of(200) });
});

test('corrupt files are refused with the file and tensor named', async () => {
  const bytes = (n: number) => new Uint8Array(n);
  const expectError = async (file: string, message: string) =>
    assert.rejects(readSafetensors(file), (err: unknown) => {
      assert.ok(err instanceof ModelFormatError);
      assert.equal(err.message, `${file}: ${message}`);
      return true;
    });
  const f32 = (begin: number, end: number, shape: number[]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

  let file = await handBuilt('long-header.safetensors', { a: f32(0, 8, [2]) }, bytes(8), 1000);
  const size = (await readFile(file)).length;
  await expectError(file, `header length 1000 goes beyond the end of the file (${size} bytes)`);

  file = await handBuilt('overlap.safetensors', { a: f32(0, 8, [2]), b: f32(4, 12, [2]) }, bytes(12));
  await expectError(file, "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]");

  file = await handBuilt('outside.safetensors', { a: f32(0, 8, [2]), big: f32(8, 24, [4]) }, bytes(16));
  await expectError(file, "tensor 'big': data_offsets [8, 24] fall outside the 16 data bytes of the file");

  file = await handBuilt('size.safetensors', { odd: f32(0, 8, [3]) }, bytes(8));
  await expectError(file, "tensor 'odd': holds 8 bytes, shape [3] of F32 needs 12");

  file = await handBuilt('dtype.safetensors', { d: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, bytes(8));
  await expectError(file, 'tensor \'d\': unknown dtype "F64" (this reader knows F32, F16, BF16, I32, I64, U8)');

  const wide = Buffer.alloc(16);
  wide.writeBigInt64LE(1n, 0);
  wide.writeBigInt64LE(2n ** 31n, 8);
  file = await handBuilt('i64.safetensors', { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, wide);
  await expectError(file, "tensor 'ids': I64 value 2147483648 at index 1 does not fit in int32");

  file = join(dir, 'tiny.safetensors');
  await writeFile(file, bytes(5));
  await expectError(file, 'is 5 bytes, shorter than the 8-byte header length');
});

test('writing checks value counts and replaces the file atomically', async () => {
  const file = join(dir, 'atomic.safetensors');
  await assert.rejects(writeSafetensors(file, new Map<string, SafeTensor>([['w', { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) }]])),
    { name: 'ModelFormatError', message: `${file}: tensor 'w': 5 values for shape [2, 3] (6)` });
  await writeSafetensors(file, new Map<string, SafeTensor>([['w', { dtype: 'F32', shape: [1], data: Float32Array.of(1) }]]));
  await writeSafetensors(file, new Map<string, SafeTensor>([['w', { dtype: 'F32', shape: [1], data: Float32Array.of(2) }]]));
  assert.deepEqual((await readSafetensors(file)).tensors.get('w')?.data, Float32Array.of(2));
  assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), []); // no temporary file left
});
