/**
 * The training example at each global position p of the run (step s takes positions [s*G, (s+1)*G)).
 *
 * A DSI model must learn both to index documents and to answer queries it has never seen. Without a
 * doc2query model, query-like examples are drawn from the documents themselves, afresh each time a
 * position is drawn (so every epoch sees new ones):
 *   documents  a prepared indexing example (the document's first tokens -> docid; augmented corpora too)
 *   spans      a random contiguous window of the document's tokens, its length drawn uniformly from
 *              [spanTokens.min, spanTokens.max] around MS MARCO query lengths (NCI's DocAsQuery)
 *   terms      a few of the document's highest tf-idf words, in random order
 *   queries    a prepared retrieval example (a training query, or a prepare-time pseudo-query)
 * Which source, which document and which window are all drawn from a generator seeded by (seed, p):
 * a pure function of the position, so 1, 2 or 4 workers, a re-formed ring and a resumed run see the
 * same examples. The mix's weights are DSI's indexing-to-retrieval ratio, extended to the sampled kinds.
 */
import { ConfigError } from '../runtime/errors.js';
import { Rng, mixSeed } from '../runtime/random.js';
import { EOS_ID } from '../dataset/t5_special_tokens.js';
import { DataOrder } from './batches.js';

export const MIX_SOURCES = ['documents', 'spans', 'terms', 'queries'] as const;
export type MixSource = (typeof MIX_SOURCES)[number];
export type Mix = Record<MixSource, number>;

/** One training pair; both end with </s>. */
export interface TrainingExample {
  input: Int32Array;
  target: Int32Array;
}

/** Training examples by global position (see the top of this file). */
export interface ExampleSource {
  exampleAt(position: number): TrainingExample;
}

/** What the sampler reads of a prepared dataset (reader.ts PreparedDataset has all of it). */
export interface SamplerData {
  readonly numExamples: number;
  example(i: number): { input: Int32Array; target: Int32Array; kind: number };
  exampleKind(i: number): number;
  docidTokens(): Int32Array[];
  sampling(): { tokens(d: number): Int32Array; terms(d: number): Int32Array[]; readonly documents: number } | undefined;
}

export interface SamplerOptions {
  mix: Mix;
  seed: number;
  spanTokens: { min: number; max: number };
  termCount: { min: number; max: number };
  /** Inputs are cut to this many tokens, </s> included (the dataset's max_input_tokens). */
  maxInputTokens: number;
}

/** Mixed into the seed: keeps the sampler's draws apart from other uses of the seed. */
const SAMPLER_STREAM = 0x53414d50; // "SAMP"

/** "documents:1,spans:4,terms:2,queries:1" -> weights; a source not named weighs 0. */
export function parseMix(text: string, field = 'train.mix'): Mix {
  const mix: Mix = { documents: 0, spans: 0, terms: 0, queries: 0 };
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [name, weight, extra] = part.split(':');
    if (!(MIX_SOURCES as readonly string[]).includes(name ?? '') || extra !== undefined) {
      throw new ConfigError(field, `'${part}': expected SOURCE:WEIGHT with SOURCE one of ${MIX_SOURCES.join(', ')}`);
    }
    const w = Number(weight);
    if (!(Number.isFinite(w) && w >= 0)) throw new ConfigError(field, `'${part}': the weight must be a number >= 0`);
    mix[name as MixSource] = w;
  }
  if (MIX_SOURCES.every((s) => mix[s] === 0)) throw new ConfigError(field, `'${text}': give at least one source a weight above 0`);
  return mix;
}

export function formatMix(mix: Mix): string {
  return MIX_SOURCES.filter((s) => mix[s] > 0).map((s) => `${s}:${mix[s]}`).join(',');
}

/** Examples by index, as a prepared dataset serves them. */
export interface PreparedExamples {
  readonly numExamples: number;
  example(i: number): TrainingExample;
}

/** The prepared examples in seeded epochs, as before sampling existed (no mix: the folder as written). */
export class PreparedOrder implements ExampleSource {
  private readonly order: DataOrder;

  constructor(private readonly data: PreparedExamples, seed: number) {
    this.order = new DataOrder(data.numExamples, seed);
  }

  exampleAt(position: number): TrainingExample {
    return this.data.example(this.order.at(position));
  }
}

export class MixSampler implements ExampleSource {
  /** The mix in force: sources with nothing to draw from weigh 0 (e.g. no training queries). */
  readonly mix: Mix;
  private readonly pools: Record<'documents' | 'queries', Int32Array>;
  private readonly targets: Int32Array[];
  private readonly sampling: ReturnType<SamplerData['sampling']>;
  private readonly cumulative: number[];

  constructor(private readonly data: SamplerData, private readonly o: SamplerOptions) {
    const kinds = { documents: [] as number[], queries: [] as number[] };
    for (let i = 0; i < data.numExamples; i++) (data.exampleKind(i) === 0 ? kinds.documents : kinds.queries).push(i);
    this.pools = { documents: Int32Array.from(kinds.documents), queries: Int32Array.from(kinds.queries) };
    this.targets = data.docidTokens();
    this.sampling = data.sampling();
    const wanted = o.mix;
    if ((wanted.spans > 0 || wanted.terms > 0) && this.sampling === undefined) {
      throw new ConfigError('train.mix', `spans and terms are drawn from the dataset's sampling.bin, which this dataset has not (prepared before it existed): prepare it again, or train with --mix documents:1,queries:1`);
    }
    this.mix = {
      documents: this.pools.documents.length > 0 ? wanted.documents : 0,
      spans: this.targets.length > 0 ? wanted.spans : 0,
      terms: this.targets.length > 0 ? wanted.terms : 0,
      queries: this.pools.queries.length > 0 ? wanted.queries : 0,
    };
    if (MIX_SOURCES.every((s) => this.mix[s] === 0)) {
      throw new ConfigError('train.mix', `${formatMix(wanted)}: the dataset has no examples of any of these sources`);
    }
    let sum = 0;
    this.cumulative = MIX_SOURCES.map((s) => (sum += this.mix[s]));
  }

  exampleAt(position: number): TrainingExample {
    if (!(Number.isSafeInteger(position) && position >= 0)) throw new RangeError(`sampler: position ${position} is not an integer >= 0`);
    const rng = new Rng(mixSeed(this.o.seed, SAMPLER_STREAM, Math.floor(position / 2 ** 32), position >>> 0));
    const total = this.cumulative[this.cumulative.length - 1] as number;
    const r = rng.nextFloat() * total;
    const source = MIX_SOURCES[this.cumulative.findIndex((c) => r < c)] ?? 'documents';
    switch (source) {
      case 'documents': return this.prepared(this.pools.documents, rng);
      case 'queries': return this.prepared(this.pools.queries, rng);
      case 'spans': return this.span(rng.nextInt(this.targets.length), rng);
      case 'terms': return this.terms(rng.nextInt(this.targets.length), rng);
    }
  }

  private prepared(pool: Int32Array, rng: Rng): TrainingExample {
    return this.data.example(pool[rng.nextInt(pool.length)] as number);
  }

  /** A window of `min..max` tokens of document d (the whole document when it is shorter). */
  private span(d: number, rng: Rng): TrainingExample {
    const tokens = this.sampling!.tokens(d);
    const { min, max } = this.o.spanTokens;
    const len = Math.min(tokens.length, min + rng.nextInt(max - min + 1), this.o.maxInputTokens - 1);
    const start = rng.nextInt(tokens.length - len + 1);
    return { input: withEos(tokens.subarray(start, start + len)), target: this.targets[d] as Int32Array };
  }

  /** `min..max` of document d's top terms, drawn without repeats, in the order drawn. */
  private terms(d: number, rng: Rng): TrainingExample {
    const terms = this.sampling!.terms(d);
    if (terms.length === 0) return this.span(d, rng);    // a document of stopwords only
    const { min, max } = this.o.termCount;
    const k = Math.min(terms.length, min + rng.nextInt(max - min + 1));
    const picked = rng.shuffle([...terms]).slice(0, k);
    const n = Math.min(picked.reduce((s, t) => s + t.length, 0), this.o.maxInputTokens - 1);
    const input = new Int32Array(n + 1);
    let o = 0;
    for (const t of picked) {
      const part = t.subarray(0, n - o);
      input.set(part, o);
      o += part.length;
    }
    input[n] = EOS_ID;
    return { input, target: this.targets[d] as Int32Array };
  }
}

function withEos(tokens: Int32Array): Int32Array {
  const out = new Int32Array(tokens.length + 1);
  out.set(tokens);
  out[tokens.length] = EOS_ID;
  return out;
}
