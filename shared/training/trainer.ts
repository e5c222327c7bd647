/**
 * The training loop of one worker, in nanoGPT's phases: set LR -> forward/backward over
 * micro-batches (gradients summed into one fused buffer) -> reduce across workers -> clip -> AdamW
 * step -> log -> stop. With one worker the reduction is the identity.
 */
import * as tf from '@tensorflow/tfjs';
import type { Config } from '../runtime/config.js';
import type { Logger } from '../runtime/log.js';
import type { T5Config } from '../model/config.js';
import type { ParamLayout } from '../model/params.js';
import { weightsFromFlat, type Weights } from '../model/t5.js';
import { accumulateWeightedGradients, type GradientDone, type OutputVocabulary, type WeightedBatch } from '../model/grads.js';
import type { DropoutContext } from '../model/layers.js';
import { adamWStep, clipByGlobalNorm } from './adamw.js';
import type { TrainState } from './setup.js';
import { learningRate, type LrSchedule } from './schedule.js';
import { microBatchPositions, padBatch, lengthBuckets } from './batches.js';
import type { ExampleSource, TrainingExample } from './sampler.js';
import { mixSeed } from '../runtime/random.js';

/** Everything that changes during training (shared/training/setup.ts); checkpoints store exactly this. */
export type { TrainState };

export interface StepStats {
  step: number;              // 1-based index of the step just done
  loss: number;              // token-mean loss over the global batch (after the reduce)
  lr: number;
  gradNorm: number;          // before clipping; NaN when skipped
  skipped: boolean;          // the update was skipped (overflow somewhere)
  samples: number;           // examples in the global batch
  localSamples: number;      // examples this worker trained on
  peakTensorBytes: number;   // tensor memory while weights and gradients were alive
  tokens: number;            // target tokens this worker trained on
  startedAtMs: number;       // wall clock at the step's start, Unix ms (timeline)
  dataMs: number;            // reading and padding examples (part of computeMs)
  computeMs: number;         // forward + backward
  reduceMs: number;          // the whole reduce call (all-reduce; waitMs is part of it)
  waitMs: number;            // all-reduce time spent waiting for the left neighbour's chunks
  bytesSent: number;         // all-reduce bytes this worker put on the wire
  optimizerMs: number;
  firstPosition: number;     // global position of this worker's first example of the step (its share is contiguous)
}

/** The gradient and loss averaged over workers; `skip`: an overflow somewhere, every worker skips the update. */
export interface ReducedGradient {
  grad: Float32Array;
  loss: number;
  skip?: boolean;
  /** The all-reduce's figures (gradient_sync.ts RingFigures); absent: no all-reduce ran. */
  ring?: { waitMs: number; bytesSent: number; overlappedMs?: number };
}

/** Averages this worker's gradient (and loss) over workers: gradient_sync.ts GradientSync; absent: the identity. */
export interface GradientReducer {
  reduce(grad: Float32Array, loss: number, step: number): Promise<ReducedGradient>;
}

/**
 * Turns the trainable flat buffer into the forward pass's weights each step. LoRA/QLoRA:
 * shared/model/peft.ts AdaptedModel (frozen base + adapters).
 */
export interface WeightsSource {
  build(trainable: Float32Array): Weights;
  release(w: Weights): void;
}

/** Full fine-tuning: every parameter uploaded from the flat buffer, disposed after the step. */
export function fullWeights(layout: ParamLayout): WeightsSource {
  return { build: (p) => weightsFromFlat(layout, p), release: (w) => tf.dispose([...w.values()]) };
}

export interface TrainerOptions {
  cfg: Config;
  model: T5Config;
  /** The trainable layout: the whole model (full), or the adapters (lora, qlora). */
  layout: ParamLayout;
  /** @default fullWeights(layout) */
  weights?: WeightsSource;
  /** Examples by global position (shared/training/sampler.ts). */
  data: ExampleSource;
  /** The decoder's output restricted to the docid tokens (training_data.ts decoderOutput); absent: whole vocabulary. */
  output?: OutputVocabulary;
  /** This worker's place in the ring (setShard changes it). */
  rank: number;
  worldSize: number;
  log: Logger;
  sync?: GradientReducer;
  /** Where the gradient goes (layout.total elements; e.g. a view of shared memory); @default its own buffer. */
  grad?: Float32Array;
}

/** Mixed into the dropout keys: keeps them apart from the seed's other streams. */
const DROPOUT_STREAM = 0xd0;

export function lrSchedule(cfg: Config): LrSchedule {
  const t = cfg.train;
  return { peak: t.learningRate, warmupSteps: t.warmupSteps, totalSteps: t.steps, decay: t.decay, minRatio: t.minLrRatio, decaySteps: t.decaySteps };
}

/** Dropout rate in force: the flag when set (>= 0), else the model config's own. */
export function dropoutRate(cfg: Config, model: T5Config): number {
  return cfg.model.dropout >= 0 ? cfg.model.dropout : model.dropoutRate;
}

/** Phase 2's outcome: this worker's gradient (in Trainer.gradient) and what it took. */
export interface ComputedGradient {
  lr: number;
  lossSum: number;           // this worker's loss, weighted so that the all-reduce's mean is the global token mean
  tokens: number;
  peakTensorBytes: number;
  startedAtMs: number;
  dataMs: number;
  computeMs: number;
  /** Global position of this worker's first example (its share is contiguous: first .. first + localSamples). */
  firstPosition: number;
}

/** Phase 4's outcome. */
export interface AppliedUpdate {
  gradNorm: number;
  skipped: boolean;
  optimizerMs: number;
}

/** The step's record from its phases (both trainers, in-process and threaded, build it here). */
export function stepStats(
  cfg: Config, worldSize: number, step: number, c: ComputedGradient, reduced: ReducedGradient, reduceMs: number, a: AppliedUpdate,
): StepStats {
  return {
    step, loss: reduced.loss, lr: c.lr, gradNorm: a.gradNorm, skipped: a.skipped, samples: cfg.train.batchSize, localSamples: cfg.train.batchSize / worldSize,
    tokens: c.tokens, peakTensorBytes: c.peakTensorBytes, startedAtMs: c.startedAtMs, dataMs: c.dataMs, computeMs: c.computeMs, reduceMs,
    waitMs: reduced.ring?.waitMs ?? 0, bytesSent: reduced.ring?.bytesSent ?? 0, optimizerMs: a.optimizerMs, firstPosition: c.firstPosition,
  };
}

export class Trainer {
  private readonly schedule: LrSchedule;
  /** This worker's gradient of the step in flight; TrainerOptions.grad when given (shared memory). */
  readonly gradient: Float32Array;

  constructor(private readonly o: TrainerOptions, readonly state: TrainState) {
    this.schedule = lrSchedule(o.cfg);
    if (o.grad && o.grad.length !== o.layout.total) throw new Error(`TrainerOptions.grad has ${o.grad.length} elements, the layout ${o.layout.total}`);
    this.gradient = o.grad ?? new Float32Array(o.layout.total);
  }

  /** Rank and world size change when the coordinator re-forms the ring. */
  setShard(rank: number, worldSize: number): void {
    this.o.rank = rank;
    this.o.worldSize = worldSize;
  }

  /** Target tokens of the whole global batch of `step` (every rank computes the same number). */
  private globalTargetTokens(step: number): number {
    const G = this.o.cfg.train.batchSize;
    let n = 0;
    for (let p = step * G; p < (step + 1) * G; p++) n += this.o.data.exampleAt(p).target.length;
    return n;
  }

  /** One optimizer step on this worker's share of the global batch. */
  async step(): Promise<StepStats> {
    const c = await this.computeGradients();
    // 3) mean over workers: the only network wait of a step
    const t1 = performance.now();
    const reduced: ReducedGradient = this.o.sync
      ? await this.o.sync.reduce(this.gradient, c.lossSum, this.state.step)
      : { grad: this.gradient, loss: c.lossSum };
    const reduceMs = performance.now() - t1;
    const a = this.applyGradients(reduced, c.lr);
    return stepStats(this.o.cfg, this.o.worldSize, this.state.step, c, reduced, reduceMs, a);
  }

  /**
   * Phases 1-2: the learning rate, then forward + backward over this worker's micro-batches into
   * `gradient`. `final(i)`: parameter i's gradient for the whole step is in `gradient` (told during
   * the last micro-batch's backward pass, each parameter once; the all-reduce may start on it).
   */
  async computeGradients(final?: GradientDone): Promise<ComputedGradient> {
    const { cfg, model, layout, data, rank, worldSize } = this.o;
    const s = this.state;
    // 1) learning rate: a pure function of the step
    const lr = learningRate(this.schedule, s.step);
    // 2) forward + backward per micro-batch; gradients summed into one buffer, scaled so the sum is the mean
    const t0 = performance.now();
    const startedAtMs = performance.timeOrigin + t0;
    const micro = microBatchPositions(s.step, cfg.train.batchSize, rank, worldSize, cfg.train.accumulate);
    const globalTargetTokens = this.globalTargetTokens(s.step);
    let dataMs = performance.now() - t0;
    this.gradient.fill(0);
    const source = this.o.weights ?? fullWeights(layout);
    const weights = source.build(s.params);
    let lossSum = 0, tokens = 0, peakTensorBytes = 0;
    const rate = dropoutRate(cfg, model);
    // LoRA dropout draws from the same context, so it needs one even when the model's own rate is 0
    const dropping = rate > 0 || (cfg.train.mode !== 'full' && cfg.lora.dropout > 0);
    try {
      for (const [k, positions] of micro.entries()) {
        const td = performance.now();
        const examples = positions.map((p) => data.exampleAt(p));
        // examples of like length forward together: a 64-token passage must not pad 100 8-token spans to 64
        const buckets = lengthBuckets(examples.map((e) => e.input.length));
        const groups: WeightedBatch[] = buckets.map((members, b) => {
          const ex: TrainingExample[] = members.map((i) => examples[i] as TrainingExample);
          // weight = this group's share of the global batch's target tokens, times N because the
          // all-reduce averages: the result is the token mean over the global batch, whatever N and K are
          const targetTokens = ex.reduce((n, e) => n + e.target.length, 0);
          tokens += ex.reduce((n, e) => n + e.input.length, 0);   // input tokens (no padding); target tokens below
          // dropout masks keyed by each example's global position: whichever rank, micro-batch or length
          // group it lands in (1, 2 or 4 workers, a re-formed ring), an example draws the same masks
          const drop: DropoutContext | undefined = dropping
            ? { rate, rowKeys: Uint32Array.from(members, (i) => mixSeed(cfg.runtime.seed, DROPOUT_STREAM, positions[i] as number)), calls: 0 } : undefined;
          return { batch: padBatch(ex.map((e) => e.input), ex.map((e) => e.target)), weight: (worldSize * targetTokens) / globalTargetTokens, ...(drop ? { drop } : {}) };
        });
        dataMs += performance.now() - td;
        const last = k === micro.length - 1;
        const r = await accumulateWeightedGradients(model, layout, weights, groups, this.gradient, this.o.output, cfg.train.labelSmoothing, last ? final : undefined);
        lossSum += r.loss;
        peakTensorBytes = Math.max(peakTensorBytes, r.tensorBytes);
        tokens += r.tokens;
      }
    } finally {
      source.release(weights);
    }
    return { lr, lossSum, tokens, peakTensorBytes, startedAtMs, dataMs, computeMs: performance.now() - t0, firstPosition: micro[0]?.[0] ?? -1 };
  }

  /** Phase 4: clip and AdamW with the reduced gradient (skipped on an overflow anywhere); the step is done. */
  applyGradients(reduced: ReducedGradient, lr: number): AppliedUpdate {
    const { cfg, layout } = this.o;
    const s = this.state;
    const t2 = performance.now();
    // a non-finite gradient on any worker (half-precision wire overflow): every worker skips the update
    const skipped = reduced.skip === true;
    const gradNorm = skipped ? NaN : clipByGlobalNorm(reduced.grad, cfg.train.gradClip);
    if (!skipped) adamWStep(layout, s.params, reduced.grad, s.opt, lr, cfg.train);
    s.step += 1;
    return { gradNorm, skipped, optimizerMs: performance.now() - t2 };
  }
}
