/**
 * Gradient sync: the reduce phase of a step (Trainer.step's 3rd). Scale by the dynamic loss scale
 * so small values survive a half-precision wire, average gradient and loss over the ring, record
 * the outcome in the loss scaler (an overflow anywhere skips the step everywhere), unscale, and
 * zero the gradient of pruned weights. With one worker and a scale of 1 (fp32 wire) scaling and
 * averaging are the identity: the gradient is only checked for non-finite values, in place.
 * The buffer goes over the ring in buckets (gradient_buckets.ts): reduceAsComputed starts on a bucket
 * as soon as the compute phase says its gradients are final, while the backward pass goes on.
 */
import type { ParamLayout } from '../model/params.js';
import { applyMasks, type MaskSet } from '../model/pruning_masks.js';
import { NoRingError } from '../runtime/errors.js';
import type { LossScaler } from './loss_scaler.js';
import type { GradientReducer, ReducedGradient } from './trainer.js';
import type { Bucket } from './gradient_buckets.js';

/** What one all-reduce reports (worker/collective/ring.ts AllReduceResult has these and more). */
export interface RingReduceResult {
  /** Some rank saw Inf/NaN (or the wire format overflowed): the same on every rank. */
  overflow: boolean;
  elapsedMs: number;
  /** Part of elapsedMs spent waiting for the left neighbour. */
  waitMs: number;
  bytesSent: number;
}

/**
 * The ring as gradient sync sees it: worker/collective/ring.ts Ring satisfies it, so this layer
 * needs nothing of worker/ (and the collective nothing of training).
 */
export interface GradientRing {
  readonly options: { readonly worldSize: number };
  /** Replaces `buffer` by the element-wise mean over the ring, in place. */
  allReduceMean(buffer: Float32Array, options: { step: number; bucket?: number }): Promise<RingReduceResult>;
}

/** The pruning masks in force (worker/mask_receiver.ts MaskReceiver satisfies it). */
export interface ActiveMasks {
  readonly active: MaskSet | undefined;
}

export interface GradientSyncOptions {
  /** Gradient length: the trainable layout's total. */
  size: number;
  scaler: LossScaler;
  masks: ActiveMasks;
  /** Layout the masks zero gradients in: the trained weights (full); undefined for lora/qlora (adapters stay dense). */
  maskLayout: ParamLayout | undefined;
  /**
   * The all-reduce's buffer (size + 1: the loss, then the gradient). When the gradients given to
   * reduce() are its elements 1.., they are scaled and averaged in place, without a copy of the
   * gradient (t5-small: 240 MB). @default a buffer of its own, filled by a copy each step
   */
  fused?: Float32Array;
  /** The buckets of `fused` in reduce order (gradient_buckets.ts). @default one: the whole buffer */
  buckets?: readonly Bucket[];
}

/** The figures of an all-reduce that go into the step's record. */
export interface RingFigures {
  /** Waiting for the left neighbour in the buckets reduced after the compute phase (the step's exposed wait). */
  waitMs: number;
  bytesSent: number;
  /** All-reduce time spent while the compute phase still ran: hidden under it. */
  overlappedMs: number;
}

/** What reduceAsComputed waits on: the compute phase as it goes. */
export interface ComputeProgress {
  /** Resolves when every gradient in bucket b is final in the fused buffer. */
  bucketFull(b: number): Promise<void>;
  /** Resolves with this worker's loss when the compute phase has ended (every gradient final). */
  ended: Promise<number>;
}

/** One all-reduce's outcome, before the loss scaler sees it. */
interface Reduced { overflow: boolean; loss: number; ring: RingFigures }

export class GradientSync implements GradientReducer {
  /** The ring of this worker; undefined between a failure and the next RingFormation. */
  ring: GradientRing | undefined;
  /** The loss, then the gradient: one all-reduce carries both. */
  readonly fused: Float32Array;
  readonly buckets: readonly Bucket[];

  constructor(private readonly o: GradientSyncOptions) {
    if (o.fused && o.fused.length !== o.size + 1) throw new Error(`GradientSyncOptions.fused has ${o.fused.length} elements, not size + 1 = ${o.size + 1}`);
    this.fused = o.fused ?? new Float32Array(o.size + 1);
    this.buckets = o.buckets ?? [{ start: 0, end: o.size + 1 }];
    const last = this.buckets.at(-1);
    if (last?.start !== 0 || this.buckets[0]?.end !== o.size + 1) throw new Error(`GradientSyncOptions.buckets must cover [0, ${o.size + 1}) from the end down to the loss at 0`);
  }

  /** The gradient's place in the fused buffer: a gradient there is reduced in place. */
  gradientView(): Float32Array {
    return this.fused.subarray(1);
  }

  /** The step's compute phase is over: reduce `grad` (copied into the fused buffer unless it is gradientView()). */
  async reduce(grad: Float32Array, loss: number, step: number): Promise<ReducedGradient> {
    const fused = this.fused;
    const inPlace = grad.buffer === fused.buffer && grad.byteOffset === fused.byteOffset + 4;
    if (!inPlace) fused.set(grad, 1);
    const r = await this.reduceAsComputed(step, { bucketFull: () => Promise.resolve(), ended: Promise.resolve(loss) });
    if (!inPlace && !r.skip) grad.set(r.grad);
    return { ...r, grad };
  }

  /**
   * Reduces bucket after bucket as `progress` says they are full, the last (with the loss) after the
   * compute phase; then the loss scaler and the masks. The gradient comes back in gradientView().
   */
  async reduceAsComputed(step: number, progress: ComputeProgress): Promise<ReducedGradient> {
    const ring = this.ring;
    if (!ring) throw new NoRingError(`step ${step + 1}: no ring to all-reduce the gradient over`);
    const { scaler } = this.o;
    const reduced = await this.reduceBuckets(ring, step, progress);
    const grad = this.gradientView();
    if (scaler.update(reduced.overflow)) return { grad, loss: NaN, skip: true, ring: reduced.ring };
    const masks = this.o.masks.active;
    if (masks && this.o.maskLayout) applyMasks(this.o.maskLayout, grad, masks);    // pruned weights get no update
    return { grad, loss: reduced.loss, ring: reduced.ring };
  }

  /**
   * Each bucket: scale by the loss scale (the loss at element 0 is not scaled), average over the ring,
   * unscale. With one worker and scale 1 the mean is the buffer itself and only the non-finite check
   * remains (x * 1 and x / 1 are exact: the gradient's bits are left alone).
   */
  private async reduceBuckets(ring: GradientRing, step: number, progress: ComputeProgress): Promise<Reduced> {
    const S = this.o.scaler.scale, fused = this.fused;
    let computing = true;
    const ended = progress.ended.then((loss) => { computing = false; return loss; });
    ended.catch(() => undefined);   // a failed compute phase is seen where it is awaited, or by the caller
    let overflow = false;
    const figures: RingFigures = { waitMs: 0, bytesSent: 0, overlappedMs: 0 };
    for (const [bucket, { start, end }] of this.buckets.entries()) {
      // the last bucket holds the loss: known when the compute phase ends (the race: never wait past it)
      if (start === 0) fused[0] = await ended;
      else await Promise.race([progress.bucketFull(bucket), ended]);
      const t0 = performance.now(), hidden = computing;
      const from = Math.max(start, 1);
      if (S !== 1) for (let i = from; i < end; i++) fused[i] = (fused[i] as number) * S;
      const r = await ring.allReduceMean(fused.subarray(start, end), { step, bucket });
      if (!r.overflow && S !== 1) for (let i = from; i < end; i++) fused[i] = (fused[i] as number) / S;
      overflow ||= r.overflow;
      figures.bytesSent += r.bytesSent;
      if (hidden) figures.overlappedMs += performance.now() - t0;
      else figures.waitMs += r.waitMs;
    }
    const loss = fused[0] as number;   // the mean over the ring
    return { overflow: overflow || !Number.isFinite(loss), loss, ring: figures };
  }
}
