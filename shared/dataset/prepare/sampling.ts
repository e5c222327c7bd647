/**
 * sampling.bin (layout in format.ts): every document's tokens and its highest tf-idf words, tokenized,
 * so that the training loader can draw query-like examples from them afresh every epoch (spans of the
 * document, NCI's DocAsQuery; a few of its key terms in random order). Written here once, because the
 * loader must not tokenize: it runs in every worker on every step.
 */
import type { T5Tokenizer } from '../tokenizer.js';
import { lowercaseWords } from '../words.js';
import { SAMPLING_MAX_TOKENS, SAMPLING_TERMS } from '../format.js';

export interface SamplingPlan {
  /** Every document's text, in order; iterated twice (document frequencies, then the file). */
  texts: () => Iterable<string>;
  tokenizer: T5Tokenizer;
  lowercase: boolean;
  stopwords: ReadonlySet<string>;
}

/** Words that never make a term: stopwords and single characters ("a", "s" of "it's", digits alone). */
function isTermWord(w: string, stopwords: ReadonlySet<string>): boolean {
  return w.length > 1 && !stopwords.has(w);
}

/** idf = ln((N + 1) / (df + 0.5)) over the documents (the key-phrase generator's form). */
export function inverseDocumentFrequencies(texts: Iterable<string>, stopwords: ReadonlySet<string>): Map<string, number> {
  const df = new Map<string, number>();
  let N = 0;
  for (const text of texts) {
    for (const w of new Set(lowercaseWords(text))) if (isTermWord(w, stopwords)) df.set(w, (df.get(w) ?? 0) + 1);
    N++;
  }
  const idf = new Map<string, number>();
  for (const [w, n] of df) idf.set(w, Math.log((N + 1) / (n + 0.5)));
  return idf;
}

/** The document's `k` words of highest tf x idf, best first (ties: first seen first). */
export function topTerms(text: string, idf: ReadonlyMap<string, number>, k: number): string[] {
  const tf = new Map<string, number>();
  for (const w of lowercaseWords(text)) if (idf.has(w)) tf.set(w, (tf.get(w) ?? 0) + 1);
  return [...tf].map(([w, n]) => ({ w, score: n * (idf.get(w) as number) }))
    .sort((a, b) => b.score - a.score).slice(0, k).map((t) => t.w);
}

/** The pieces of `text` without the </s> the tokenizer appends. */
function pieces(tok: T5Tokenizer, text: string, max: number): Int32Array {
  const ids = tok.encode(text, max + 1);
  return ids.subarray(0, ids.length - 1);
}

/** sampling.bin's bytes, one chunk per document. */
export function* samplingChunks(plan: SamplingPlan): Generator<Uint8Array> {
  const idf = inverseDocumentFrequencies(plan.texts(), plan.stopwords);
  for (const raw of plan.texts()) {
    const text = plan.lowercase ? raw.toLowerCase() : raw;
    const tokens = pieces(plan.tokenizer, text, SAMPLING_MAX_TOKENS);
    const terms = topTerms(text, idf, SAMPLING_TERMS).map((w) => pieces(plan.tokenizer, w, SAMPLING_MAX_TOKENS));
    const out = new Int32Array(2 + tokens.length + terms.reduce((n, t) => n + 1 + t.length, 0));
    let o = 0;
    out[o++] = tokens.length;
    out.set(tokens, o);
    o += tokens.length;
    out[o++] = terms.length;
    for (const t of terms) {
      out[o++] = t.length;
      out.set(t, o);
      o += t.length;
    }
    yield new Uint8Array(out.buffer);
  }
}
