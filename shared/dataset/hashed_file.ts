/**
 * A file written in chunks, hashed on the way, fsynced on close. A resumed run reopens one at a byte
 * count it recorded after sync(): the file is cut there and its kept bytes hashed again (node's hash
 * state cannot be saved), so the final sha256 is the one an uninterrupted write would give.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { FileEntry } from './format.js';

/** Buffered bytes before a write to disk. */
const FLUSH_BYTES = 1 << 20; // 1 MiB

export class HashedFile {
  private readonly hash: Hash = createHash('sha256');
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;  // bytes on disk
  private bytes = 0;    // bytes written, buffered included

  private constructor(readonly file: string, private readonly handle: FileHandle) {}

  /** A new file; fails when `file` exists. */
  static async create(file: string): Promise<HashedFile> {
    return new HashedFile(file, await open(file, 'wx'));
  }

  /** `file` cut to its first `bytes` (recorded after a sync()), hashed, to be written on from there. */
  static async resume(file: string, bytes: number): Promise<HashedFile> {
    const handle = await open(file, 'r+');
    const f = new HashedFile(file, handle);
    try {
      const size = (await handle.stat()).size;
      if (size < bytes) throw new Error(`${file}: ${size} bytes, shorter than the ${bytes} recorded at the last checkpoint`);
      await handle.truncate(bytes);
      const buf = Buffer.allocUnsafe(FLUSH_BYTES);
      while (f.written < bytes) {
        const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, bytes - f.written), f.written);
        if (bytesRead === 0) throw new Error(`${file}: short read at byte ${f.written}`);
        f.hash.update(buf.subarray(0, bytesRead));
        f.written += bytesRead;
      }
      f.bytes = bytes;
      return f;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Bytes written so far (on disk after the next sync()). */
  get size(): number {
    return this.bytes;
  }

  async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.bytes += chunk.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  /** Writes what is buffered and fsyncs: the first `size` bytes survive a crash. */
  async sync(): Promise<void> {
    await this.flush();
    await this.handle.sync();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    let done = 0; // one write(2) may write less than asked
    while (done < data.length) done += (await this.handle.write(data, done, data.length - done, this.written + done)).bytesWritten;
    this.written += data.length;
  }

  async close(): Promise<FileEntry> {
    try {
      await this.flush();
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}
