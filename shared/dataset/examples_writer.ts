/**
 * examples.bin and examples.idx (layout in format.ts), written one example at a time. The index records
 * go to a hidden body file as they are made (the header, written first, needs the final count), then
 * header + body are copied into examples.idx: nothing per example stays in memory.
 *
 * Resumable: sync() makes everything added so far durable and returns the byte counts to record; a
 * later process passes them to open() and goes on from that example (both files are cut there).
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HashedFile } from './hashed_file.js';
import {
  EXAMPLE_KIND_INDEXING, EXAMPLE_KIND_RETRIEVAL, EXAMPLES_BIN_FILE, EXAMPLES_IDX_FILE,
  IDX_HEADER_BYTES, IDX_MAGIC, IDX_RECORD_BYTES, IDX_RECORD_WORDS, IDX_VERSION, type Example, type FileEntry,
} from './format.js';

/** uint32 limit of offsets in examples.idx. */
const MAX_TOKENS = 2 ** 32 - 1;
const TOKEN_BYTES = 4;

/** How far the files are written: enough to reopen them there. */
export interface ExamplesProgress {
  examples: number;
  binBytes: number;
  bodyBytes: number;
}

export interface WrittenExamples {
  bin: FileEntry;
  idx: FileEntry;
  count: number;
}

/** The hidden file of index records in `dir` (removed by writeExamples, by the caller of ExampleFiles). */
export const examplesBodyFile = (dir: string): string => join(dir, `.${EXAMPLES_IDX_FILE}.body`);

export class ExampleFiles {
  private readonly record = Buffer.alloc(IDX_RECORD_BYTES);

  private constructor(private readonly dir: string, private readonly bin: HashedFile, private readonly body: HashedFile, private count: number, private offset: number) {}

  /** New files in `dir`, or, with `from` (a sync()'s result), the files there cut back to it. */
  static async open(dir: string, from?: ExamplesProgress): Promise<ExampleFiles> {
    if (from === undefined) {
      return new ExampleFiles(dir, await HashedFile.create(join(dir, EXAMPLES_BIN_FILE)), await HashedFile.create(examplesBodyFile(dir)), 0, 0);
    }
    if (from.bodyBytes !== from.examples * IDX_RECORD_BYTES || from.binBytes % TOKEN_BYTES !== 0) {
      throw new Error(`${dir}: examples progress ${JSON.stringify(from)} does not fit the file layout`);
    }
    const bin = await HashedFile.resume(join(dir, EXAMPLES_BIN_FILE), from.binBytes);
    const body = await HashedFile.resume(examplesBodyFile(dir), from.bodyBytes).catch(async (err: unknown) => { await bin.close(); throw err; });
    return new ExampleFiles(dir, bin, body, from.examples, from.binBytes / TOKEN_BYTES);
  }

  get examples(): number {
    return this.count;
  }

  async add(ex: Example): Promise<void> {
    const n = this.count;
    if (ex.input.length === 0 || ex.target.length === 0) throw new RangeError(`example ${n}: input and target must not be empty`);
    if (ex.kind !== EXAMPLE_KIND_INDEXING && ex.kind !== EXAMPLE_KIND_RETRIEVAL) throw new RangeError(`example ${n}: unknown kind ${String(ex.kind)}`);
    if (this.offset + ex.input.length + ex.target.length > MAX_TOKENS) throw new RangeError(`example ${n}: examples.bin would exceed 2^32 tokens`);
    [this.offset, ex.input.length, this.offset + ex.input.length, ex.target.length, ex.kind].forEach((w, i) => this.record.writeUInt32LE(w, i * 4));
    await this.body.write(Buffer.from(this.record));
    await this.bin.write(int32Bytes(ex.input));
    await this.bin.write(int32Bytes(ex.target));
    this.offset += ex.input.length + ex.target.length;
    this.count++;
  }

  /** Everything added so far made durable; record the result to resume from it. */
  async sync(): Promise<ExamplesProgress> {
    await this.bin.sync();
    await this.body.sync();
    return { examples: this.count, binBytes: this.bin.size, bodyBytes: this.body.size };
  }

  /** Closes examples.bin and writes examples.idx (replacing one a kill left half-written); the body file stays. */
  async finish(): Promise<WrittenExamples> {
    const bin = await this.bin.close();
    await this.body.close();
    const idxFile = join(this.dir, EXAMPLES_IDX_FILE);
    await rm(idxFile, { force: true });
    const idx = await HashedFile.create(idxFile);
    const header = Buffer.alloc(IDX_HEADER_BYTES);
    header.write(IDX_MAGIC, 0, 'ascii');
    header.writeUInt32LE(IDX_VERSION, 4);
    header.writeUInt32LE(this.count, 8);
    header.writeUInt32LE(IDX_RECORD_WORDS, 12);
    await idx.write(header);
    for await (const chunk of createReadStream(examplesBodyFile(this.dir), { highWaterMark: 1 << 20 })) await idx.write(chunk as Buffer);
    return { bin, idx: await idx.close(), count: this.count };
  }

  /** Closes the files as they are (after an error), for a later open(dir, progress). */
  async abandon(): Promise<void> {
    await this.bin.close().catch(() => undefined);
    await this.body.close().catch(() => undefined);
  }
}

/** Writes all of `examples` into `dir` in one go (no resuming). */
export async function writeExamples(dir: string, examples: Iterable<Example>): Promise<WrittenExamples> {
  const files = await ExampleFiles.open(dir);
  try {
    for (const ex of examples) await files.add(ex);
  } catch (err) {
    await files.abandon();
    throw err;
  }
  const written = await files.finish();
  await rm(examplesBodyFile(dir));
  return written;
}

function int32Bytes(tokens: Int32Array): Buffer {
  // little-endian on every platform Node supports (x86-64, arm64): the typed array's bytes are the file's bytes
  return Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength);
}
