/**
 * A store's in-memory columns (offsets, document indexes) saved to and read back from files, so that a
 * resumed `prepare` reopens its stores instead of rebuilding them: each column is one file of its typed
 * array's raw bytes (little-endian, as on every platform Node supports), written and fsynced at once.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';

type Column = Float64Array | Int32Array | Uint8Array;

/** Writes `data`'s bytes to `file` (replacing it) and fsyncs it. */
export function writeColumn(file: string, data: Column): void {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fd = openSync(file, 'w');
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads a column written by writeColumn; throws naming the file when its size is not `length` items. */
export function readColumn<T extends Column>(file: string, make: (n: number) => T, length: number): T {
  const bytes = readFileSync(file);
  const out = make(length);
  if (bytes.length !== out.byteLength) throw new Error(`${file}: ${bytes.length} bytes, expected ${out.byteLength} (${length} items)`);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  return out;
}
