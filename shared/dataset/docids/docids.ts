/**
 * Document identifiers (docids) and the decoder target tokens that spell them.
 *
 * - 'naive': a seeded random permutation of 0..N-1 assigned to the documents (the DSI paper found
 *   arbitrary unstructured ids beat sequential ones), written as zero-padded decimal strings of one
 *   width (digits of N-1): N = 1000 gives "000".."999". Spelled digit by digit.
 * - 'semantic': digit strings from recursive k-means (built elsewhere); lengths may differ, spelled
 *   digit by digit like 'naive'.
 * - 'atomic': one new output token per document: docid "i" is the decimal document index and its
 *   target is the single token ATOMIC_TOKEN_BASE + i, so the model's vocabulary grows by N rows.
 *
 * Every target ends with `</s>` (1), so the decoder learns where a docid stops.
 */
import { Rng, mixSeed } from '../../runtime/random.js';
import { EOS_ID } from '../t5_special_tokens.js';

export const DOCID_SCHEMES = ['naive', 'atomic', 'semantic'] as const;
export type DocidScheme = (typeof DOCID_SCHEMES)[number];

/** Rows of T5's embedding: 32,100 tokenizer pieces padded up to a multiple of 128 (as in t5-small). */
export const T5_MODEL_VOCAB_SIZE = 32128;
/** The first atomic docid token: the rows after T5's own embedding rows. */
export const ATOMIC_TOKEN_BASE = T5_MODEL_VOCAB_SIZE;

/** T5 vocabulary ids of the single-character pieces '0'..'9' (checked against tokenizer.json in the tests). */
export const DIGIT_TOKENS: readonly number[] = Object.freeze([632, 536, 357, 519, 591, 755, 948, 940, 927, 1298]);

/** Token id -> digit, the inverse of DIGIT_TOKENS. */
const TOKEN_TO_DIGIT: ReadonlyMap<number, number> = new Map(DIGIT_TOKENS.map((tok, digit) => [tok, digit]));

/** Separates the docid permutation's random numbers from other uses of the same seed. */
const NAIVE_DOCID_STREAM = 0x646f6369; // "doci"

export function isDocidScheme(v: unknown): v is DocidScheme {
  return typeof v === 'string' && (DOCID_SCHEMES as readonly string[]).includes(v);
}

/** Rows the model's output embedding needs for a dataset of `numDocuments` under `scheme`. */
export function modelVocabSize(scheme: DocidScheme, numDocuments: number): number {
  return scheme === 'atomic' ? T5_MODEL_VOCAB_SIZE + numDocuments : T5_MODEL_VOCAB_SIZE;
}

/**
 * The docids of documents 0..count-1, held compactly: `prepare` keeps one per document for the whole
 * run, and 10^7 JS strings would cost ~300 MB where these cost 4 (naive), 0 (atomic) or ~5 + digits
 * (semantic) bytes per document.
 */
export interface DocidTable {
  readonly count: number;
  get(d: number): string;
}

/** 'naive' docids: document d's is the zero-padded d-th number of a seeded permutation of 0..n-1. */
export function naiveDocidTable(n: number, seed: number): DocidTable {
  const width = String(Math.max(n - 1, 0)).length;
  const perm = new Rng(mixSeed(seed, NAIVE_DOCID_STREAM)).permutation(n);   // (n) int32
  return { count: n, get: (d) => String(at(perm, d, n)).padStart(width, '0') };
}

/** 'atomic' docids: the decimal document index. */
export function atomicDocidTable(n: number): DocidTable {
  return {
    count: n,
    get: (d) => {
      if (!Number.isInteger(d) || d < 0 || d >= n) throw new RangeError(`docid of document ${d}: there are ${n} documents`);
      return String(d);
    },
  };
}

/** Digit-string docids (semantic) packed as one byte per digit plus a uint32 end offset per id. */
export function packedDocidTable(ids: readonly string[]): DocidTable {
  const ends = new Uint32Array(ids.length);
  let total = 0;
  ids.forEach((id, d) => { total += id.length; ends[d] = total; });
  const digits = Buffer.alloc(total);
  ids.forEach((id, d) => digits.write(id, (ends[d] as number) - id.length, 'latin1'));
  return { count: ids.length, get: (d) => digits.toString('latin1', d === 0 ? 0 : at(ends, d - 1, ids.length), at(ends, d, ids.length)) };
}

/** packedDocidTable of a file's bytes, one id per '\n'-ended line (as docids.txt holds them), without a string per id. */
export function packedDocidTableFromLines(text: Buffer): DocidTable {
  let n = 0;
  for (let i = text.indexOf(0x0a); i >= 0; i = text.indexOf(0x0a, i + 1)) n++;
  const ends = new Uint32Array(n);
  const digits = Buffer.alloc(text.length - n);
  let total = 0, start = 0;
  for (let d = 0; d < n; d++) {
    const end = text.indexOf(0x0a, start);
    total += text.copy(digits, total, start, end);
    ends[d] = total;
    start = end + 1;
  }
  return { count: n, get: (d) => digits.toString('latin1', d === 0 ? 0 : at(ends, d - 1, n), at(ends, d, n)) };
}

function at(xs: Int32Array | Uint32Array, i: number, n: number): number {
  const x = xs[i];
  if (x === undefined || i >= n) throw new RangeError(`docid of document ${i}: there are ${n} documents`);
  return x;
}

/** 'naive' docids for documents 0..n-1 as strings (naiveDocidTable's, listed). */
export function assignNaiveDocids(n: number, seed: number): string[] {
  const t = naiveDocidTable(n, seed);
  return Array.from({ length: n }, (_, d) => t.get(d));
}

/** Why `docid` is not valid under `scheme`, or undefined when it is. */
export function docidProblem(scheme: DocidScheme, docid: string): string | undefined {
  if (scheme === 'atomic') {
    return /^(0|[1-9][0-9]*)$/.test(docid) && Number.isSafeInteger(Number(docid))
      ? undefined : `atomic docid must be a decimal document index without leading zeros, got ${JSON.stringify(docid)}`;
  }
  return /^[0-9]+$/.test(docid) ? undefined : `${scheme} docid must be a non-empty string of digits 0-9, got ${JSON.stringify(docid)}`;
}

/** The decoder target of `docid`: its digit tokens (or its atomic token), then `</s>`. */
export function docidToTokens(scheme: DocidScheme, docid: string): Int32Array {
  const problem = docidProblem(scheme, docid);
  if (problem !== undefined) throw new RangeError(problem);
  if (scheme === 'atomic') return Int32Array.from([ATOMIC_TOKEN_BASE + Number(docid), EOS_ID]);
  const out = new Int32Array(docid.length + 1);
  for (let i = 0; i < docid.length; i++) out[i] = DIGIT_TOKENS[docid.charCodeAt(i) - 48] ?? -1; // '0' is 48; checked above
  out[docid.length] = EOS_ID;
  return out;
}

/**
 * The docid spelled by decoder output `tokens`, read up to the first `</s>` (or the end); undefined
 * when a token cannot be part of a docid under `scheme` (e.g. a word piece from an untrained model).
 */
export function tokensToDocid(scheme: DocidScheme, tokens: ArrayLike<number>): string | undefined {
  let end = 0;
  while (end < tokens.length && tokens[end] !== EOS_ID) end++;
  if (end === 0) return undefined;
  if (scheme === 'atomic') {
    const t = tokens[0] ?? -1;
    return end === 1 && t >= ATOMIC_TOKEN_BASE ? String(t - ATOMIC_TOKEN_BASE) : undefined;
  }
  let docid = '';
  for (let i = 0; i < end; i++) {
    const digit = TOKEN_TO_DIGIT.get(tokens[i] ?? -1);
    if (digit === undefined) return undefined;
    docid += String(digit);
  }
  return docid;
}
