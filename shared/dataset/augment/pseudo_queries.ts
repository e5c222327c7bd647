/**
 * Pseudo-queries per document (DSI-QG: index each document by queries it could answer).
 *
 * - Doc2QueryGenerator: a doc2query T5 (e.g. Xenova's doc2query/msmarco-t5-base-v1 ONNX export, local
 *   folder) samples `count` queries per document (top-k 10). transformers.js samples with Math.random,
 *   so these are not reproducible from the seed; the manifest says so.
 * - KeyPhraseQueryGenerator (offline): key phrases of the document, i.e. runs of up to MAX_PHRASE_WORDS
 *   words between stopwords, punctuation and one-character tokens (RAKE's candidates), scored by the sum
 *   of their distinct words' tf · idf (tf in the document, idf over the corpus); a query is one phrase,
 *   or two joined, drawn in proportion to score (seeded per document) without repeating a query.
 *   Lower case, like MS MARCO queries.
 */
import { Rng, mixSeed } from '../../runtime/random.js';
import { checkLocalModel, loadLocalPipeline, type LocalModelFiles } from '../local_model.js';
import { lowercaseWords } from '../words.js';

/** Longest key phrase, in words: MS MARCO queries are about 6 words. */
const MAX_PHRASE_WORDS = 4;
/** Chance that a query joins a second key phrase to the first. */
const TWO_PHRASE_CHANCE = 0.5;
/** Draws per wanted query before giving up on finding a new one (short documents have few phrases). */
const DRAWS_PER_QUERY = 8;
const QUERY_STREAM = 0x70717279; // "pqry"
const DOC2QUERY_MAX_NEW_TOKENS = 64;
const DOC2QUERY_TOP_K = 10;

export interface PseudoQueryGenerator {
  readonly name: string;
  readonly info: Record<string, string | number | boolean>;
  /** Up to `count` distinct queries for document `docIndex`. */
  generate(text: string, docIndex: number, count: number): Promise<string[]>;
}

const WORD_OR_MARK = /[\p{L}\p{N}\p{M}]+(?:['’][\p{L}\p{N}\p{M}]+)*|[^\s\p{L}\p{N}\p{M}]/gu;

export class KeyPhraseQueryGenerator implements PseudoQueryGenerator {
  readonly name = 'key-phrases';
  readonly info: Record<string, string | number | boolean>;
  private readonly idf = new Map<string, number>();

  /** Learns document frequencies from `corpus` (the documents the queries will be made for, read once). */
  constructor(corpus: Iterable<string>, private readonly stopwords: ReadonlySet<string>, private readonly seed: number) {
    const df = new Map<string, number>();
    let N = 0;
    for (const text of corpus) {
      for (const w of new Set(lowercaseWords(text))) df.set(w, (df.get(w) ?? 0) + 1);
      N++;
    }
    for (const [w, n] of df) this.idf.set(w, Math.log((N + 1) / (n + 0.5)));
    this.info = { generator: 'key-phrases', max_phrase_words: MAX_PHRASE_WORDS, seed, reproducible: true };
  }

  /** Candidate phrases with scores, best first, distinct. */
  phrases(text: string): Array<{ phrase: string; score: number }> {
    const out = new Map<string, number>();
    const tf = new Map<string, number>();
    for (const w of lowercaseWords(text)) tf.set(w, (tf.get(w) ?? 0) + 1);
    const runs: string[][] = [];
    let run: string[] = [];
    for (const m of text.matchAll(WORD_OR_MARK)) {
      const w = m[0].toLowerCase();
      if (w.length < 2 || !/[\p{L}\p{N}]/u.test(w) || this.stopwords.has(w.replaceAll('’', "'"))) {
        if (run.length > 0) runs.push(run);
        run = [];
      } else run.push(w);
    }
    if (run.length > 0) runs.push(run);
    for (const r of runs) {
      for (let i = 0; i < r.length; i += MAX_PHRASE_WORDS) {
        const words = r.slice(i, i + MAX_PHRASE_WORDS);
        let score = 0;
        for (const w of new Set(words)) score += (tf.get(w) ?? 1) * (this.idf.get(w) ?? 0);
        if (score > 0) out.set(words.join(' '), score);
      }
    }
    return [...out].map(([phrase, score]) => ({ phrase, score })).sort((a, b) => b.score - a.score || (a.phrase < b.phrase ? -1 : 1));
  }

  async generate(text: string, docIndex: number, count: number): Promise<string[]> {
    const rng = new Rng(mixSeed(this.seed, QUERY_STREAM, docIndex));
    const phrases = this.phrases(text);
    const queries = new Set<string>();
    if (phrases.length === 0) return [];
    const total = phrases.reduce((s, p) => s + p.score, 0);
    const draw = (): string => {
      let r = rng.nextFloat() * total;
      for (const p of phrases) if ((r -= p.score) < 0) return p.phrase;
      return phrases[phrases.length - 1]?.phrase ?? '';
    };
    for (let tries = 0; queries.size < count && tries < count * DRAWS_PER_QUERY; tries++) {
      const first = draw();
      const second = phrases.length > 1 && rng.nextFloat() < TWO_PHRASE_CHANCE ? draw() : first;
      queries.add(second === first ? first : `${first} ${second}`);
    }
    return [...queries];
  }
}

/** doc2query through @xenova/transformers, from a local ONNX folder. */
export class Doc2QueryGenerator implements PseudoQueryGenerator {
  readonly name = 'doc2query';
  readonly info: Record<string, string | number | boolean>;

  private constructor(model: LocalModelFiles, private readonly generateFn: (input: unknown, options?: unknown) => Promise<unknown>) {
    this.info = { generator: 'doc2query', model_dir: model.dir, quantized: model.quantized, top_k: DOC2QUERY_TOP_K, reproducible: false };
  }

  static async load(dir: string): Promise<Doc2QueryGenerator> {
    const model = checkLocalModel(dir, 'text2text-generation', 'pseudo-queries (--doc2query-model)');
    return new Doc2QueryGenerator(model, await loadLocalPipeline(model, 'text2text-generation'));
  }

  async generate(text: string, _docIndex: number, count: number): Promise<string[]> {
    const out = (await this.generateFn(text, {
      max_new_tokens: DOC2QUERY_MAX_NEW_TOKENS, do_sample: true, top_k: DOC2QUERY_TOP_K, num_return_sequences: count,
    })) as Array<{ generated_text: string }>;
    return [...new Set(out.map((o) => o.generated_text.trim()).filter((q) => q !== ''))];
  }
}
