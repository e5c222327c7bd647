/**
 * BM25 retrieval for the baseline: an in-memory inverted index over (docid, text) pairs, top-k search
 * with scores, Anserini's MS MARCO passage parameters (k1 = 0.9, b = 0.4) by default.
 *
 * Scoring is Lucene's BM25Similarity (Lucene >= 8, which Anserini runs on), summed over query terms:
 *   score(q, d) = Σ_{t in q} idf(t) · tf / (tf + k1 · (1 - b + b · dl / avgdl))
 *   idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))
 * with tf the term's count in d, dl the number of terms of d, avgdl their mean over the N documents and
 * df the number of documents containing t. A term repeated in the query counts once per occurrence,
 * as Lucene's bag-of-words query does. Lucene dropped the classic (k1 + 1) numerator factor (same
 * ranking, scores comparable to Anserini's); it also stores dl lossily in one byte and Anserini stems
 * (Porter) and removes 33 stopwords, so scores are close to Anserini's, not identical.
 *
 * Why not a library: none of the maintained ones we tried computes this formula, or fits 10^6
 * passages with top-k.
 * - minisearch 7.2 (k, b settable; d = 0 removes its BM25+ term) counts a document's length in
 *   distinct terms and multiplies each score by the number of query terms matched; with both
 *   effects removed (documents without repeated words, score / terms matched) its scores equal ours
 *   times (k1 + 1) to 5e-16, which cross-checks this file. It keeps a Map per term and returns every
 *   match, no top-k: on 100k synthetic 56-word passages it held 249 MB and took 184 ms per top-1000
 *   query, against 36 MB and 6 ms here (same machine, one run each).
 * - wink-bm25-text-search 3.1 rounds every term score to 4 decimals (spurious ties) and keeps a JS
 *   object per document.
 * - okapibm25 scores every document per query without an index (O(N) per query).
 * This index keeps postings in typed arrays (6 bytes per (term, document) pair), about 240 MB for the
 * 40M postings of 10^6 MS MARCO passages, and selects the top k with a bounded heap.
 */
import type { ScoredDoc } from './metrics.js';
import { growU16, growU32 } from '../../runtime/growable.js';
import { lowercaseWords } from '../words.js';

/** Anserini's tuned BM25 parameters for the MS MARCO passage task. */
export const ANSERINI_MSMARCO_K1 = 0.9;
export const ANSERINI_MSMARCO_B = 0.4;
/** Documents returned per query, as in the MS MARCO passage runs. */
export const DEFAULT_TOP_K = 1000;
/** Term counts are stored in 16 bits; a count above this is clamped (its BM25 term is saturated long before). */
const MAX_STORED_TF = 0xffff;

export interface Bm25Options {
  /** Term-frequency saturation. @default 0.9 (ANSERINI_MSMARCO_K1) */
  k1?: number;
  /** Document-length normalisation, 0 (none) to 1 (full). @default 0.4 (ANSERINI_MSMARCO_B) */
  b?: number;
  /** Text to terms, used for documents and queries alike. @default lowercaseWords (lower case, split on non-alphanumerics) */
  tokenize?: (text: string) => string[];
}

export interface Bm25Doc {
  docid: string;
  text: string;
}

/**
 * Collects documents one at a time (so a corpus can be streamed from disk), then `finish()` builds
 * the index. The forward lists kept meanwhile cost 6 bytes per posting and are freed by `finish()`.
 * Documents are added with their docid (`add`), or by position (`addText`) when the caller can name
 * document d later (`finish(docidOf)`): then no docid string is held per document.
 */
export class Bm25Builder {
  private readonly k1: number;
  private readonly b: number;
  private readonly tokenize: (text: string) => string[];
  private readonly termIds = new Map<string, number>();
  private readonly docIndex = new Map<string, number>();
  private readonly docids: string[] = [];
  private unnamed = 0;                         // documents added by addText
  private readonly docStart = growU32();       // (N + 1) offsets into fwdTerm / fwdTf
  private readonly fwdTerm = growU32();        // term id of each (document, term) pair, grouped by document
  private readonly fwdTf = growU16();          // its count in the document
  private readonly docLen = growU32();         // terms per document
  private readonly df = growU32();             // documents per term
  private finished = false;

  constructor(options: Bm25Options = {}) {
    this.k1 = options.k1 ?? ANSERINI_MSMARCO_K1;
    this.b = options.b ?? ANSERINI_MSMARCO_B;
    this.tokenize = options.tokenize ?? lowercaseWords;
    if (!(Number.isFinite(this.k1) && this.k1 >= 0)) throw new RangeError(`BM25 option 'k1' must be a number >= 0, got ${this.k1}`);
    if (!(this.b >= 0 && this.b <= 1)) throw new RangeError(`BM25 option 'b' must be in [0, 1], got ${this.b}`);
    this.docStart.push(0);
  }

  /** Adds one document; its docid must be new. */
  add(docid: string, text: string): void {
    if (this.finished) throw new Error('Bm25Builder.add: the index was already built by finish()');
    if (this.unnamed > 0) throw new Error('Bm25Builder.add: documents were added by position (addText); add them all that way');
    if (this.docIndex.has(docid)) {
      throw new RangeError(`Bm25Builder.add: docid '${docid}' added twice (documents ${this.docIndex.get(docid)} and ${this.docids.length})`);
    }
    this.docIndex.set(docid, this.docids.length);
    this.docids.push(docid);
    this.index(text);
  }

  /** Adds document number `size` by its text alone; finish(docidOf) names it. */
  addText(text: string): void {
    if (this.finished) throw new Error('Bm25Builder.addText: the index was already built by finish()');
    if (this.docids.length > 0) throw new Error('Bm25Builder.addText: documents were added with docids (add); add them all that way');
    this.unnamed++;
    this.index(text);
  }

  private index(text: string): void {
    const counts = new Map<number, number>();  // term id -> tf, in first-occurrence order
    const terms = this.tokenize(text);
    for (const term of terms) {
      let id = this.termIds.get(term);
      if (id === undefined) {
        id = this.termIds.size;
        this.termIds.set(term, id);
        this.df.push(0);
      }
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const [id, tf] of counts) {
      this.fwdTerm.push(id);
      this.fwdTf.push(Math.min(tf, MAX_STORED_TF));
      this.df.increment(id);
    }
    this.docStart.push(this.fwdTerm.length);
    this.docLen.push(terms.length);
  }

  /**
   * Builds the inverted index: postings of each term in document order. `docidOf` names the documents
   * added by addText (it must give distinct ids); documents added by add keep their own.
   */
  finish(docidOf?: (d: number) => string): Bm25Index {
    if (this.finished) throw new Error('Bm25Builder.finish: called twice');
    if (this.unnamed > 0 && docidOf === undefined) throw new Error('Bm25Builder.finish: documents added by addText need docidOf');
    this.finished = true;
    const N = this.unnamed > 0 ? this.unnamed : this.docids.length;
    const docids = this.docids;
    const docid = this.unnamed > 0 && docidOf !== undefined ? docidOf : (d: number): string => docids[d] as string;
    const V = this.termIds.size;
    const df = this.df.trimmed();                        // (V)
    const termStart = new Uint32Array(V + 1);            // (V + 1) offsets into postDoc / postTf
    for (let t = 0; t < V; t++) termStart[t + 1] = (termStart[t] as number) + (df[t] as number);
    const nnz = termStart[V] as number;
    const postDoc = new Uint32Array(nnz);                // (nnz) document index of each posting
    const postTf = new Uint16Array(nnz);                 // (nnz) its term count
    const fill = termStart.slice(0, V);                  // next free slot per term
    for (let d = 0; d < N; d++) {
      for (let p = this.docStart.get(d); p < this.docStart.get(d + 1); p++) {
        const t = this.fwdTerm.get(p);
        const slot = fill[t] as number;
        postDoc[slot] = d;
        postTf[slot] = this.fwdTf.get(p);
        fill[t] = slot + 1;
      }
    }
    const docLen = this.docLen.trimmed();
    let totalLen = 0;
    for (const len of docLen) totalLen += len;
    const avgdl = N === 0 ? 0 : totalLen / N;
    const idf = new Float64Array(V);
    for (let t = 0; t < V; t++) {
      const n = df[t] as number;
      idf[t] = Math.log(1 + (N - n + 0.5) / (n + 0.5));
    }
    // the length part of the denominator, once per document: k1 · (1 - b + b · dl / avgdl)
    const lengthNorm = new Float64Array(N);
    for (let d = 0; d < N; d++) {
      lengthNorm[d] = avgdl === 0 ? this.k1 : this.k1 * (1 - this.b + (this.b * (docLen[d] as number)) / avgdl);
    }
    return new Bm25Index({ size: N, docid, termIds: this.termIds, tokenize: this.tokenize, termStart, postDoc, postTf, idf, lengthNorm, avgdl });
  }
}

interface IndexParts {
  size: number;
  docid: (d: number) => string;
  termIds: Map<string, number>;
  tokenize: (text: string) => string[];
  termStart: Uint32Array;
  postDoc: Uint32Array;
  postTf: Uint16Array;
  idf: Float64Array;
  lengthNorm: Float64Array;
  avgdl: number;
}

/** A built BM25 index; `search` is synchronous and reuses one score buffer. */
export class Bm25Index {
  /** Documents indexed. */
  readonly size: number;
  /** Mean number of terms per document. */
  readonly avgDocLength: number;
  private readonly p: IndexParts;
  private readonly acc: Float64Array;     // (N) score accumulator, all zero between searches
  private readonly touched: Uint32Array;  // (N) documents with a non-zero score in this search

  constructor(parts: IndexParts) {
    this.p = parts;
    this.size = parts.size;
    this.avgDocLength = parts.avgdl;
    this.acc = new Float64Array(this.size);
    this.touched = new Uint32Array(this.size);
  }

  /** Distinct terms in the index. */
  get vocabularySize(): number {
    return this.p.termIds.size;
  }

  /**
   * The `k` best documents for `query`, scores descending, ties by docid ascending (string order).
   * Only documents sharing a term with the query are returned, so there may be fewer than k.
   */
  search(query: string, k: number = DEFAULT_TOP_K): ScoredDoc[] {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`Bm25Index.search: k must be an integer >= 1, got ${k}`);
    const { termIds, termStart, postDoc, postTf, idf, lengthNorm } = this.p;
    const acc = this.acc;
    let touched = 0;
    for (const term of this.p.tokenize(query)) {
      const t = termIds.get(term);
      if (t === undefined) continue;  // a term no document has adds nothing
      const w = idf[t] as number;
      for (let p = termStart[t] as number, end = termStart[t + 1] as number; p < end; p++) {
        const d = postDoc[p] as number;
        const tf = postTf[p] as number;
        // every contribution is > 0 (idf > 0, tf >= 1), so 0 marks a document not yet touched
        if (acc[d] === 0) this.touched[touched++] = d;
        acc[d] = (acc[d] as number) + (w * tf) / (tf + (lengthNorm[d] as number));
      }
    }
    const top = this.selectTop(touched, k);
    for (let i = 0; i < touched; i++) acc[this.touched[i] as number] = 0;
    return top;
  }

  /** Top k of the touched documents with a bounded min-heap (worst kept result at the root). */
  private selectTop(touched: number, k: number): ScoredDoc[] {
    const acc = this.acc;
    const score = (d: number): number => acc[d] as number;
    const id = this.p.docid;
    // true when a ranks below b: lower score, or equal score and larger docid
    const below = (a: number, b: number): boolean => score(a) < score(b) || (score(a) === score(b) && id(a) > id(b));
    const heap: number[] = [];
    const siftDown = (i: number): void => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && below(heap[l] as number, heap[m] as number)) m = l;
        if (r < heap.length && below(heap[r] as number, heap[m] as number)) m = r;
        if (m === i) return;
        [heap[i], heap[m]] = [heap[m] as number, heap[i] as number];
        i = m;
      }
    };
    for (let i = 0; i < touched; i++) {
      const d = this.touched[i] as number;
      if (heap.length < k) {
        heap.push(d);
        for (let c = heap.length - 1; c > 0; ) {   // sift up
          const parent = (c - 1) >> 1;
          if (!below(heap[c] as number, heap[parent] as number)) break;
          [heap[c], heap[parent]] = [heap[parent] as number, heap[c] as number];
          c = parent;
        }
      } else if (below(heap[0] as number, d)) {
        heap[0] = d;
        siftDown(0);
      }
    }
    heap.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
    return heap.map((d) => ({ docid: id(d), score: score(d) }));
  }
}

/** Builds an index from a stream of documents (a file reader's async iterator, or an array). */
export async function buildBm25Index(
  docs: Iterable<Bm25Doc> | AsyncIterable<Bm25Doc>,
  options: Bm25Options = {},
): Promise<Bm25Index> {
  const builder = new Bm25Builder(options);
  for await (const doc of docs) builder.add(doc.docid, doc.text);
  return builder.finish();
}
