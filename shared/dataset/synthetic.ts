/**
 * Synthetic MS MARCO passage-ranking files for scale benchmarks and tests: collection.tsv
 * (`pid<TAB>passage`), queries.tsv (`qid<TAB>query`) and qrels.tsv (`qid 0 pid 1`), seeded, so any size
 * can be prepared without the 3 GB collection.
 *
 * Passages are 40-80 words drawn Zipf-like (rank^-1) from a vocabulary of common English words (stopwords
 * and verbs included, so every augmentation has work) followed by made-up syllable words; sentences of
 * 8-16 words; one word in twenty is a number. A share of passages repeat an earlier passage's text under
 * a new pid (the corpus stage merges them). Each query takes 3-6 words of one passage, which is its only
 * relevant pid.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, mixSeed } from '../runtime/random.js';

export interface SyntheticCollectionOptions {
  /** Folder to write the three files into (created). */
  dir: string;
  passages: number;
  /** One query per this many passages. @default 10 */
  passagesPerQuery?: number;
  /** Share of passages that repeat an earlier text. @default 0.02 */
  duplicateShare?: number;
  seed: number;
}

export interface SyntheticCollection {
  collection: string;
  queries: string;
  qrels: string;
  /** Passages written with a text seen before. */
  duplicates: number;
  queryCount: number;
}

const COMMON = ('the of and to a in is was for on that with as by it are from at be this an which or has have ' +
  'made called found used known built makes runs holds gives takes shows grows means includes became began ' +
  'water city river people year system church music power family school state body energy light heart').split(' ');
const SYLLABLES = 'ka lo mi ne ru sa ti vo be da fe gi ho ju ly mo pa qu re su'.split(' ');
const MADE_UP_WORDS = 20_000;
const MIN_WORDS = 40, MAX_WORDS = 80;
const MIN_SENTENCE = 8, MAX_SENTENCE = 16;
const NUMBER_SHARE = 0.05;
const MIN_QUERY_WORDS = 3, MAX_QUERY_WORDS = 6;
/** Bytes of text gathered before a write(2). */
const WRITE_CHUNK_CHARS = 1 << 20;
const STREAM = 0x73796e74; // "synt"

/** A file written in large chunks with synchronous writes. */
class ChunkedWriter {
  private readonly fd: number;
  private parts: string[] = [];
  private chars = 0;
  constructor(readonly path: string) { this.fd = openSync(path, 'w'); }
  write(s: string): void {
    this.parts.push(s);
    this.chars += s.length;
    if (this.chars >= WRITE_CHUNK_CHARS) this.flush();
  }
  private flush(): void {
    writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.chars = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export function writeSyntheticCollection(o: SyntheticCollectionOptions): SyntheticCollection {
  const perQuery = o.passagesPerQuery ?? 10;
  const dupShare = o.duplicateShare ?? 0.02;
  if (!Number.isInteger(o.passages) || o.passages < 1) throw new RangeError(`synthetic collection: passages must be an integer >= 1, got ${o.passages}`);
  const rng = new Rng(mixSeed(o.seed, STREAM));
  const vocab = [...COMMON];
  for (let i = 0; i < MADE_UP_WORDS; i++) {
    let w = '';
    for (let s = 0, n = 2 + rng.nextInt(3); s < n; s++) w += SYLLABLES[rng.nextInt(SYLLABLES.length)];
    vocab.push(w);
  }
  // Zipf (rank^-1) cumulative weights, drawn by binary search
  const cdf = new Float64Array(vocab.length);
  let total = 0;
  for (let r = 0; r < vocab.length; r++) cdf[r] = total += 1 / (r + 1);
  const word = (): string => {
    const x = rng.nextFloat() * total;
    let lo = 0, hi = cdf.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if ((cdf[mid] as number) < x) lo = mid + 1; else hi = mid; }
    return vocab[lo] as string;
  };

  mkdirSync(o.dir, { recursive: true });
  const files = { collection: join(o.dir, 'collection.tsv'), queries: join(o.dir, 'queries.tsv'), qrels: join(o.dir, 'qrels.tsv') };
  const collection = new ChunkedWriter(files.collection);
  const queries = new ChunkedWriter(files.queries);
  const qrels = new ChunkedWriter(files.qrels);
  const earlier: string[] = [];   // a bounded pool of texts to repeat
  let duplicates = 0, queryCount = 0;
  for (let pid = 0; pid < o.passages; pid++) {
    let text: string;
    let words: string[] = [];
    if (earlier.length > 0 && rng.nextFloat() < dupShare) {
      text = earlier[rng.nextInt(earlier.length)] as string;
      duplicates++;
    } else {
      const sentences: string[] = [];
      for (let left = MIN_WORDS + rng.nextInt(MAX_WORDS - MIN_WORDS + 1); left > 0;) {
        const n = Math.min(left, MIN_SENTENCE + rng.nextInt(MAX_SENTENCE - MIN_SENTENCE + 1));
        const s: string[] = [];
        for (let i = 0; i < n; i++) s.push(rng.nextFloat() < NUMBER_SHARE ? String(rng.nextInt(2000)) : word());
        words = words.concat(s);
        sentences.push(s.join(' ').replace(/^./, (c) => c.toUpperCase()) + '.');
        left -= n;
      }
      text = sentences.join(' ');
      if (earlier.length < 1000) earlier.push(text);
      else earlier[rng.nextInt(earlier.length)] = text;
    }
    collection.write(`${pid}\t${text}\n`);
    if (words.length > 0 && pid % perQuery === 0) {
      const q: string[] = [];
      for (let i = 0, n = MIN_QUERY_WORDS + rng.nextInt(MAX_QUERY_WORDS - MIN_QUERY_WORDS + 1); i < n; i++) q.push(words[rng.nextInt(words.length)] as string);
      queries.write(`${queryCount}\t${q.join(' ')}\n`);
      qrels.write(`${queryCount} 0 ${pid} 1\n`);
      queryCount++;
    }
  }
  collection.close();
  queries.close();
  qrels.close();
  return { ...files, duplicates, queryCount };
}
