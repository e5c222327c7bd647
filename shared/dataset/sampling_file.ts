/**
 * Reads sampling.bin (layout in format.ts; written by prepare/sampling.ts): every document's tokens and
 * its top tf-idf terms, held in memory as one Int32Array with an offset table (~4 bytes per token).
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../runtime/errors.js';

export interface SamplingData {
  readonly documents: number;
  /** Document d's tokens (lower-cased when the dataset is, no </s>). */
  tokens(d: number): Int32Array;
  /** Document d's top terms, best first, each as its tokens. */
  terms(d: number): Int32Array[];
}

/** Parses `file`, which must hold `documents` records (and `bytes` bytes, when given); errors name the file and the document. */
export function readSamplingFile(file: string, documents: number, bytes?: number): SamplingData {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new InputError(file, undefined, undefined, 'missing or unreadable: the folder is incomplete, prepare it again', { cause: err });
  }
  if (bytes !== undefined && buf.length !== bytes) throw new InputError(file, undefined, undefined, `is ${buf.length} bytes, the manifest records ${bytes}: the file changed after prepare`);
  if (buf.length % 4 !== 0) throw new InputError(file, undefined, undefined, 'size is not a multiple of 4 bytes (int32 tokens)');
  const words = new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const starts = new Uint32Array(documents + 1);   // document d's record: words[starts[d], starts[d+1])
  let o = 0;
  const take = (d: number, what: string): number => {
    const n = words[o++];
    if (n === undefined || n < 0 || o + n > words.length) throw new InputError(file, undefined, `document ${d}`, `${what} count ${n ?? 'missing'} runs past the end of the file`);
    return n;
  };
  for (let d = 0; d < documents; d++) {
    starts[d] = o;
    // take() moves o past the count: add what it returns afterwards (`o += take()` would read o first)
    const n = take(d, 'token');
    o += n;
    const m = take(d, 'term');
    for (let t = 0; t < m; t++) {
      const k = take(d, 'term token');
      o += k;
    }
  }
  starts[documents] = o;
  if (o !== words.length) throw new InputError(file, undefined, undefined, `holds more than the ${documents} documents of the manifest`);
  const check = (d: number): number => {
    if (!Number.isInteger(d) || d < 0 || d >= documents) throw new RangeError(`sampling: document ${d} outside [0, ${documents})`);
    return starts[d] as number;
  };
  return {
    documents,
    tokens(d) {
      const s = check(d);
      return words.subarray(s + 1, s + 1 + (words[s] as number));
    },
    terms(d) {
      let p = check(d);
      p += 1 + (words[p] as number);
      const m = words[p++] as number;
      const out: Int32Array[] = [];
      for (let t = 0; t < m; t++) {
        const k = words[p++] as number;
        out.push(words.subarray(p, p + k));
        p += k;
      }
      return out;
    },
  };
}
