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
import { Rng, mixSeed } from '../random.js';
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

/** 'naive' docids for documents 0..n-1: docids[i] is document i's zero-padded random number. */
export function assignNaiveDocids(n: number, seed: number): string[] {
  const width = String(Math.max(n - 1, 0)).length;
  const perm = new Rng(mixSeed(seed, NAIVE_DOCID_STREAM)).permutation(n);
  return Array.from(perm, (k) => String(k).padStart(width, '0'));
}

/** 'atomic' docids for documents 0..n-1: the decimal document index. */
export function assignAtomicDocids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
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
