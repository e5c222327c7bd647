/**
 * Document embeddings on disk for semantic docids: an (N, dims) float32 matrix, row-major, no header
 * (the count and dimension travel with the object), so 8.8M passages × 128 dims is 4.5 GB of file
 * and nothing per document in memory. Rows are written once, in document order, then read back by
 * index lists (the documents of one k-means node, ascending): consecutive indices are read in one
 * call, so the top node is one sequential scan and deeper nodes cost one read per run of neighbours.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';

/** Rows read per call when a node's indices run consecutively: 1 MiB at 128 dims bounds the buffer. */
const READ_ROWS = 2048;
/** Rows buffered before a write. */
const WRITE_ROWS = 2048;

/** Read access to N embeddings of `dims` float32 each. */
export interface EmbeddingRows {
  readonly count: number;
  readonly dims: number;
  /**
   * Calls fn(row, j) for each members[j], in order. `row` is a view valid only during the call
   * (copy it to keep it). `members` must be ascending.
   */
  forEach(members: Uint32Array, fn: (row: Float32Array, j: number) => void): void;
}

/** Embeddings held in memory (small corpora, tests): the same interface as the file. */
export function embeddingRowsOf(embeddings: readonly Float32Array[]): EmbeddingRows {
  const dims = embeddings[0]?.length ?? 0;
  return {
    count: embeddings.length,
    dims,
    forEach(members, fn) {
      members.forEach((i, j) => fn(embeddings[i] as Float32Array, j));
    },
  };
}

/** Appends rows to `file` (created, truncated); every value must be finite. */
export class EmbeddingFileWriter {
  private readonly fd: number;
  private readonly buffer: Float32Array;
  private buffered = 0;
  private rows = 0;

  constructor(readonly file: string, readonly dims: number) {
    if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`${file}: embedding dimension must be an integer >= 1, got ${dims}`);
    this.fd = openSync(file, 'w');
    this.buffer = new Float32Array(WRITE_ROWS * dims);
  }

  get count(): number {
    return this.rows;
  }

  append(row: ArrayLike<number>): void {
    if (row.length !== this.dims) throw new RangeError(`${this.file}: embedding of document ${this.rows} has dimension ${row.length}, expected ${this.dims}`);
    const base = this.buffered * this.dims;
    for (let k = 0; k < this.dims; k++) {
      const x = row[k] as number;
      if (!Number.isFinite(x)) throw new RangeError(`${this.file}: embedding of document ${this.rows}, dimension ${k} is ${x}, not a finite number`);
      this.buffer[base + k] = x;
    }
    this.buffered++;
    this.rows++;
    if (this.buffered === WRITE_ROWS) this.flush();
  }

  /** Flushes and closes; returns the reader. */
  finish(): EmbeddingFile {
    this.flush();
    closeSync(this.fd);
    return new EmbeddingFile(this.file, this.rows, this.dims);
  }

  /** Closes without a reader and removes the file (a failed run). */
  abort(): void {
    closeSync(this.fd);
    rmSync(this.file, { force: true });
  }

  private flush(): void {
    const bytes = new Uint8Array(this.buffer.buffer, 0, this.buffered * this.dims * 4);
    for (let off = 0; off < bytes.length;) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.buffered = 0;
  }
}

/** Reads rows of an embeddings file by ascending index lists. */
export class EmbeddingFile implements EmbeddingRows {
  private fd: number;
  private readonly buffer: Float32Array;

  constructor(readonly file: string, readonly count: number, readonly dims: number) {
    this.fd = openSync(file, 'r');
    this.buffer = new Float32Array(READ_ROWS * dims);
  }

  forEach(members: Uint32Array, fn: (row: Float32Array, j: number) => void): void {
    const d = this.dims;
    for (let j = 0; j < members.length;) {
      // the run of consecutive indices starting at j, up to READ_ROWS
      const first = members[j] as number;
      let run = 1;
      while (run < READ_ROWS && j + run < members.length && members[j + run] === first + run) run++;
      if (first + run > this.count) throw new RangeError(`${this.file}: row ${first + run - 1} requested, the file has ${this.count}`);
      const bytes = new Uint8Array(this.buffer.buffer, 0, run * d * 4);
      for (let off = 0; off < bytes.length;) {
        const n = readSync(this.fd, bytes, off, bytes.length - off, first * d * 4 + off);
        if (n === 0) throw new RangeError(`${this.file}: ends before row ${first + run - 1} (truncated?)`);
        off += n;
      }
      for (let r = 0; r < run; r++) fn(this.buffer.subarray(r * d, (r + 1) * d), j + r);
      j += run;
    }
  }

  /** Closes and removes the file. */
  remove(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    rmSync(this.file, { force: true });
  }
}
