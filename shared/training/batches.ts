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
