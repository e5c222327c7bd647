/**
 * Which examples each step trains on. The global order of an epoch is a seeded permutation; step s
 * consumes positions [s*G, (s+1)*G) of the concatenated epochs (G = global batch), so the global
 * batch never depends on the number of workers: rank r of N takes its contiguous slice of it and
 * splits that into micro-batches.
 */
import { Rng, mixSeed } from '../runtime/random.js';

/** Mixed into the seed of the data-order generator: keeps it apart from other uses of the seed. */
const DATA_ORDER_STREAM = 0x0da7a;

export class DataOrder {
  private cachedEpoch = -1;
  private cachedPerm: Int32Array = new Int32Array(0);

  constructor(readonly numExamples: number, readonly seed: number) {
    if (numExamples <= 0) throw new Error('DataOrder: the dataset has no training examples');
  }

  private permutation(epoch: number): Int32Array {
    if (epoch !== this.cachedEpoch) {
      this.cachedPerm = new Rng(mixSeed(this.seed, DATA_ORDER_STREAM, epoch)).permutation(this.numExamples);
      this.cachedEpoch = epoch;
    }
    return this.cachedPerm;
  }

  /** Example index at global position p (0-based, across epochs). */
  at(p: number): number {
    const epoch = Math.floor(p / this.numExamples);
    return this.permutation(epoch)[p % this.numExamples] as number;
  }

  /** The example indices of rank `rank`'s share of step `step`'s global batch, as micro-batches. */
  microBatches(step: number, globalBatch: number, rank: number, worldSize: number, accumulate: number): number[][] {
    const perRank = globalBatch / worldSize;
    const perMicro = perRank / accumulate;
    if (!Number.isInteger(perMicro)) throw new Error(`global batch ${globalBatch} is not divisible by workers x accumulate = ${worldSize * accumulate}`);
    const start = step * globalBatch + rank * perRank;
    return Array.from({ length: accumulate }, (_, m) =>
      Array.from({ length: perMicro }, (_, j) => this.at(start + m * perMicro + j)));
  }
}

/** The global positions of rank `rank`'s share of step `step`'s global batch, as micro-batches. */
export function microBatchPositions(step: number, globalBatch: number, rank: number, worldSize: number, accumulate: number): number[][] {
  const perRank = globalBatch / worldSize;
  const perMicro = perRank / accumulate;
  if (!Number.isInteger(perMicro)) throw new Error(`global batch ${globalBatch} is not divisible by workers x accumulate = ${worldSize * accumulate}`);
  const start = step * globalBatch + rank * perRank;
  return Array.from({ length: accumulate }, (_, m) => Array.from({ length: perMicro }, (_, j) => start + m * perMicro + j));
}

/**
 * Cost of one extra forward/backward call, in padded input tokens: the per-op overhead of a pass over a
 * t5-tiny batch on wasm is about that of 256 tokens of work (a few ms).
 */
export const BUCKET_CALL_COST_TOKENS = 256;

/**
 * Splits a micro-batch into groups of like input length, each padded to its own longest: the
 * partition of the examples sorted by length that minimises padded tokens + BUCKET_CALL_COST_TOKENS
 * per group (dynamic programming over the sorted lengths, O(n^2) for n examples). Returns the example
 * indices of each group; the gradient is the same sum whatever the grouping.
 */
export function lengthBuckets(lengths: readonly number[], callCost = BUCKET_CALL_COST_TOKENS): number[][] {
  const n = lengths.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (lengths[a] as number) - (lengths[b] as number) || a - b);
  const len = (k: number): number => lengths[order[k] as number] as number;
  // best[j] = cost of the first j sorted examples; a group (i, j] pads to len(j-1)
  const best = new Float64Array(n + 1).fill(Infinity);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    for (let i = 0; i < j; i++) {
      const c = (best[i] as number) + (j - i) * len(j - 1) + callCost;
      if (c < (best[j] as number)) { best[j] = c; cut[j] = i; }
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0; j = cut[j] as number) groups.unshift(order.slice(cut[j] as number, j));
  return groups;
}

/** A padded batch (row-major), as the model takes it. */
export interface PaddedBatch {
  inputIds: Int32Array;   // (B, S)
  labels: Int32Array;     // (B, T)
  B: number;
  S: number;
  T: number;
}

/** Pads token sequences with 0 (pad) to the longest in the batch. */
export function padBatch(inputs: readonly Int32Array[], targets: readonly Int32Array[]): PaddedBatch {
  const B = inputs.length;
  const S = Math.max(1, ...inputs.map((x) => x.length));
  const T = Math.max(1, ...targets.map((x) => x.length));
  const inputIds = new Int32Array(B * S);
  const labels = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    inputIds.set(inputs[b] as Int32Array, b * S);
    labels.set(targets[b] as Int32Array, b * T);
  }
  return { inputIds, labels, B, S, T };
}
