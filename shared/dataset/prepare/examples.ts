/**
 * The training examples of a prepared folder, generated in order while the writer streams them to disk:
 *   1) indexing, per document, by mode:
 *        inputs2targets  document text -> docid
 *        targets2inputs  docid -> document text
 *        bidirectional   both, with the task prefixes "document: " and "docid: " on the inputs
 *   2) each augmented text -> its document's docid (same prefix as 1's inputs2targets)
 *   3) each pseudo-query -> its document's docid (kind retrieval: a query, not the document)
 *   4) each training query -> each of its relevant docids (retrieval)
 * Inputs and text targets are cut to maxInputTokens (</s> kept); docid spellings come from docids.ts.
 * Documents, augmented texts and pseudo-queries are read from their stores as the examples are made.
 */
import type { T5Tokenizer } from '../tokenizer.js';
import { docidToTokens, type DocidScheme, type DocidTable } from '../docids/docids.js';
import { EXAMPLE_KIND_INDEXING, EXAMPLE_KIND_RETRIEVAL, type Example } from '../format.js';
import type { DocText } from '../store/doc_texts.js';
import type { StageTimer } from './progress.js';

export const INDEXING_MODES = ['inputs2targets', 'targets2inputs', 'bidirectional'] as const;
export type IndexingMode = (typeof INDEXING_MODES)[number];

/** Task prefixes of the bidirectional mode (as T5 names its tasks). */
export const DOCUMENT_PREFIX = 'document: ';
export const DOCID_PREFIX = 'docid: ';
/** Examples between progress reports. */
const TICK_EVERY = 1024;

export interface ExamplePlan {
  /** Every document's text, in order. */
  texts: Iterable<string>;
  docids: DocidTable;
  scheme: DocidScheme;
  mode: IndexingMode;
  augmented: Iterable<DocText>;
  pseudoQueries: Iterable<DocText>;
  /** Training queries and their relevant docids. */
  trainQueries: ReadonlyArray<{ query: string; docids: readonly string[] }>;
  tokenizer: T5Tokenizer;
  maxInputTokens: number;
  /** Lower-case every text before tokenizing (format.ts, manifest field lowercase). */
  lowercase: boolean;
}

export interface ExampleCounts {
  indexing_inputs2targets: number;
  indexing_targets2inputs: number;
  augmented: number;
  pseudo_queries: number;
  retrieval: number;
}

/**
 * The examples of `plan`, in the order above; `counts` is filled as they are produced (an example is
 * counted before it is yielded, so the counts match what the consumer has taken). With `start`, the
 * first `start` examples are passed over without tokenizing them or counting them (a resumed run wrote
 * and counted them before), the rest are as an uninterrupted run makes them.
 */
export function* generateExamples(plan: ExamplePlan, counts: ExampleCounts, timer: StageTimer, start = 0): Generator<Example> {
  const { maxInputTokens: max, scheme, mode } = plan;
  const tok = { encode: (t: string, n?: number): Int32Array => plan.tokenizer.encode(plan.lowercase ? t.toLowerCase() : t, n) };
  const bidirectional = mode === 'bidirectional';
  // prefix pieces without their </s>: they go in front of the input's own pieces
  const prefix = (p: string): Int32Array => (bidirectional ? tok.encode(p).slice(0, -1) : new Int32Array(0));
  const docPrefix = prefix(DOCUMENT_PREFIX);
  const docidPrefix = prefix(DOCID_PREFIX);
  const text = (t: string): Int32Array => concat(docPrefix, tok.encode(t, Math.max(1, max - docPrefix.length)));
  let n = 0;
  /** Counts the next example; false while it is one the resumed run already has. */
  const next = (): boolean => {
    if (++n % TICK_EVERY === 0) timer.tick(n);
    return n > start;
  };

  let d = 0;
  for (const docText of plan.texts) {
    const docid = plan.docids.get(d++);
    if (mode !== 'targets2inputs' && next()) {
      counts.indexing_inputs2targets++;
      yield { input: text(docText), target: docidToTokens(scheme, docid), kind: EXAMPLE_KIND_INDEXING };
    }
    if (mode !== 'inputs2targets' && next()) {
      counts.indexing_targets2inputs++;
      yield { input: concat(docidPrefix, docidToTokens(scheme, docid)), target: tok.encode(docText, max), kind: EXAMPLE_KIND_INDEXING };
    }
  }
  for (const a of plan.augmented) {
    if (!next()) continue;
    counts.augmented++;
    yield { input: text(a.text), target: docidToTokens(scheme, plan.docids.get(a.doc)), kind: EXAMPLE_KIND_INDEXING };
  }
  for (const q of plan.pseudoQueries) {
    if (!next()) continue;
    counts.pseudo_queries++;
    yield { input: tok.encode(q.text, max), target: docidToTokens(scheme, plan.docids.get(q.doc)), kind: EXAMPLE_KIND_RETRIEVAL };
  }
  for (const q of plan.trainQueries) {
    let input: Int32Array | undefined;   // tokenized once for all its docids (and not at all when passed over)
    for (const docid of q.docids) {
      if (!next()) continue;
      input ??= tok.encode(q.query, max);
      counts.retrieval++;
      yield { input, target: docidToTokens(scheme, docid), kind: EXAMPLE_KIND_RETRIEVAL };
    }
  }
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  if (a.length === 0) return b;
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
