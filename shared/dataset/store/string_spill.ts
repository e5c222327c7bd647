/**
 * An append-only list of strings kept on disk: the UTF-8 bytes of every string back to back in one
 * file, and in memory only each string's end offset (a float64: 8 bytes per string, exact up to 2^53
 * bytes). String i is read back with one positioned read; `values()` streams them all in order with
 * large sequential reads. This is how `prepare` holds 10^7 passages in a few hundred MB of disk and
 * tens of MB of memory instead of gigabytes of JS strings.
 *
 * Reads and writes are synchronous: the pipeline's consumers (the examples generator the writer pulls
 * from, the BM25 builder) are synchronous loops, and a page-cache read of a few hundred bytes costs
 * microseconds.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { GrowableArray, growF64 } from '../../runtime/growable.js';

/** Bytes buffered before a write(2): keeps appends off the syscall path. */
const WRITE_BUFFER_BYTES = 1 << 20; // 1 MiB
/** Bytes per sequential read of values(). */
const READ_CHUNK_BYTES = 1 << 20;   // 1 MiB

export class StringSpill {
  private readonly fd: number;
  private readonly ends: GrowableArray<Float64Array>;  // (count) end offset of each string
  private pending = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private pendingBytes = 0;
  private flushed = 0;        // bytes on disk
  private total = 0;          // bytes appended
  private closed = false;

  /**
   * Creates (or truncates) `file`; or, given `ends` (saved by endOffsets() after sync()), reopens it
   * with those strings, cutting off whatever was appended after them.
   */
  constructor(readonly file: string, ends?: Float64Array) {
    if (ends === undefined) {
      this.fd = openSync(file, 'w+');
      this.ends = growF64();
      return;
    }
    this.fd = openSync(file, 'r+');
    const bytes = ends.length === 0 ? 0 : (ends[ends.length - 1] as number);
    const size = fstatSync(this.fd).size;
    if (size < bytes) {
      closeSync(this.fd);
      throw new Error(`${file}: ${size} bytes, shorter than the ${bytes} its saved offsets name`);
    }
    ftruncateSync(this.fd, bytes);
    this.ends = GrowableArray.filled(ends, (n) => new Float64Array(n));
    this.flushed = this.total = bytes;
  }

  /** Each string's end offset (a copy): with the file, all that reopening needs. */
  endOffsets(): Float64Array {
    return this.ends.trimmed();
  }

  /** Writes the buffered strings and fsyncs the file: what is appended so far survives a crash. */
  sync(): void {
    this.checkOpen();
    this.flush();
    fsyncSync(this.fd);
  }

  get count(): number {
    return this.ends.length;
  }

  /** Bytes of text on disk (and in the write buffer). */
  get diskBytes(): number {
    return this.total;
  }

  /** Bytes held in memory: the offsets and the write buffer. */
  get residentBytes(): number {
    return this.ends.bytes + this.pending.length;
  }

  /** Appends `s`; returns its index. */
  append(s: string): number {
    this.checkOpen();
    const bytes = Buffer.byteLength(s, 'utf8');
    if (this.pendingBytes + bytes > this.pending.length) this.flush();
    if (bytes > this.pending.length) {
      // larger than the buffer: straight to the file
      const data = Buffer.from(s, 'utf8');
      let done = 0;
      while (done < bytes) done += writeSync(this.fd, data, done, bytes - done, this.flushed + done);
      this.flushed += bytes;
    } else {
      this.pending.write(s, this.pendingBytes, 'utf8');
      this.pendingBytes += bytes;
    }
    this.total += bytes;
    this.ends.push(this.total);
    return this.ends.length - 1;
  }

  /** String i (0 <= i < count). */
  get(i: number): string {
    this.checkOpen();
    if (!Number.isInteger(i) || i < 0 || i >= this.ends.length) throw new RangeError(`${this.file}: string ${i} outside [0, ${this.ends.length})`);
    const start = i === 0 ? 0 : this.ends.get(i - 1);
    const end = this.ends.get(i);
    if (end > this.flushed) this.flush();
    const buf = Buffer.allocUnsafe(end - start);
    readFully(this.fd, buf, start, this.file);
    return buf.toString('utf8');
  }

  /** Every string in order, read sequentially (appends after the call are not seen). */
  *values(): Generator<string> {
    this.flush();
    const n = this.ends.length;
    let chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let chunkStart = 0, chunkEnd = 0; // file range held in `chunk`
    for (let i = 0; i < n; i++) {
      this.checkOpen();
      const start = i === 0 ? 0 : this.ends.get(i - 1);
      const end = this.ends.get(i);
      if (end > chunkEnd) {
        // refill from `start`: as much as the chunk holds, at least the whole string
        const want = Math.min(Math.max(end - start, READ_CHUNK_BYTES), this.flushed - start);
        if (want > chunk.length) chunk = Buffer.allocUnsafe(want);
        readFully(this.fd, chunk.subarray(0, want), start, this.file);
        chunkStart = start;
        chunkEnd = start + want;
      }
      yield chunk.toString('utf8', start - chunkStart, end - chunkStart);
    }
  }

  private flush(): void {
    let done = 0;
    while (done < this.pendingBytes) done += writeSync(this.fd, this.pending, done, this.pendingBytes - done, this.flushed + done);
    this.flushed += this.pendingBytes;
    this.pendingBytes = 0;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.file}: the store is closed`);
  }

  /** Closes and deletes the file; with `keep`, closes and leaves it (a resumable run's store). */
  close(keep = false): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    if (!keep) rmSync(this.file, { force: true });
  }
}

function readFully(fd: number, buf: Buffer, position: number, file: string): void {
  let done = 0;
  while (done < buf.length) {
    const got = readSync(fd, buf, done, buf.length - done, position + done);
    if (got === 0) throw new Error(`${file}: short read at byte ${position + done}: the file changed under the store`);
    done += got;
  }
}
