/**
 * Gradient sync: the reduce phase of a step (Trainer.step's 3rd). Scale by the dynamic loss scale
 * so small values survive a half-precision wire, average gradient and loss over the ring, record
 * the outcome in the loss scaler (an overflow anywhere skips the step everywhere), unscale, and
 * zero the gradient of pruned weights. With one worker and a scale of 1 (fp32 wire) scaling and
 * averaging are the identity: the gradient is only checked for non-finite values, in place.
 */
import type { ParamLayout } from '../model/params.js';
import { applyMasks, type MaskSet } from '../model/pruning_masks.js';
import { NoRingError } from '../runtime/errors.js';
import type { LossScaler } from './loss_scaler.js';
import type { GradientReducer, ReducedGradient } from './trainer.js';

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
  allReduceMean(buffer: Float32Array, options: { step: number }): Promise<RingReduceResult>;
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
   * The all-reduce's buffer (size + 1: gradient, then the loss). When the gradients given to reduce()
   * are its first `size` elements, they are scaled and averaged in place, without a copy of the
   * gradient (t5-small: 240 MB). @default a buffer of its own, filled by a copy each step
   */
  fused?: Float32Array;
}

/** The figures of an all-reduce that go into the step's record. */
export interface RingFigures { waitMs: number; bytesSent: number }

/** One all-reduce's outcome, before the loss scaler sees it. */
interface Reduced { overflow: boolean; loss: number; ring: RingFigures }

export class GradientSync implements GradientReducer {
  /** The ring of this worker; undefined between a failure and the next RingFormation. */
  ring: GradientRing | undefined;
  /** Gradient, then the loss: one all-reduce carries both. */
  private readonly fused: Float32Array;

  constructor(private readonly o: GradientSyncOptions) {
    if (o.fused && o.fused.length !== o.size + 1) throw new Error(`GradientSyncOptions.fused has ${o.fused.length} elements, not size + 1 = ${o.size + 1}`);
    this.fused = o.fused ?? new Float32Array(o.size + 1);
  }

  async reduce(grad: Float32Array, loss: number, step: number): Promise<ReducedGradient> {
    const ring = this.ring;
    if (!ring) throw new NoRingError(`step ${step + 1}: no ring to all-reduce the gradient over`);
    const { scaler } = this.o;
    const alone = ring.options.worldSize === 1 && scaler.scale === 1;
    const reduced = alone ? await this.check(ring, grad, loss, step) : await this.allReduce(ring, grad, loss, step);
    if (scaler.update(reduced.overflow)) return { grad, loss: NaN, skip: true, ring: reduced.ring };
    const masks = this.o.masks.active;
    if (masks && this.o.maskLayout) applyMasks(this.o.maskLayout, grad, masks);    // pruned weights get no update
    return { grad, loss: reduced.loss, ring: reduced.ring };
  }

  /** One worker, scale 1: the mean is the gradient itself; only the non-finite check remains. */
  private async check(ring: GradientRing, grad: Float32Array, loss: number, step: number): Promise<Reduced> {
    const r = await ring.allReduceMean(grad, { step });
    return { overflow: r.overflow || !Number.isFinite(loss), loss, ring: { waitMs: r.waitMs, bytesSent: r.bytesSent } };
  }

  /** Scale into the fused buffer (in place when `grad` is its head), average it over the ring, unscale back into `grad`. */
  private async allReduce(ring: GradientRing, grad: Float32Array, loss: number, step: number): Promise<Reduced> {
    const S = this.o.scaler.scale, fused = this.fused, n = grad.length;
    const inPlace = grad.buffer === fused.buffer && grad.byteOffset === fused.byteOffset;
    // x * 1 and x / 1 are exact: at scale 1 the in-place path leaves the gradient's bits alone
    if (!inPlace) for (let i = 0; i < n; i++) fused[i] = (grad[i] as number) * S;
    else if (S !== 1) for (let i = 0; i < n; i++) fused[i] = (fused[i] as number) * S;
    fused[n] = loss;
    const r = await ring.allReduceMean(fused, { step });
    if (!r.overflow && (!inPlace || S !== 1)) for (let i = 0; i < n; i++) grad[i] = (fused[i] as number) / S;
    return { overflow: r.overflow, loss: fused[n] as number, ring: { waitMs: r.waitMs, bytesSent: r.bytesSent } };
  }
}
