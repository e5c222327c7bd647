/**
 * Floating-point operations of a T5 training step, counted from the matMuls the model runs (a
 * multiply-add is 2 FLOPs; element-wise work is left out, as in the usual 6·N·tokens estimates).
 * Backward costs twice the forward (gradients for both matMul operands).
 */
import type { T5Config } from './config.js';

/** Forward matMul FLOPs for a padded batch (B, S) -> (B, T). */
export function forwardFlops(c: T5Config, B: number, S: number, T: number): number {
  const D = c.dModel, inner = c.numHeads * c.dKv, F = c.dFf, V = c.vocabSize;
  const Ne = B * S, Nd = B * T;
  const ffMats = c.feedForwardProj === 'relu' ? 2 : 3;
  const attn = (Nq: number, Nk: number, Tq: number, Tk: number): number =>
    2 * Nq * D * inner * 2 + 2 * Nk * D * inner * 2 +        // q, o on queries; k, v on keys
    2 * 2 * B * c.numHeads * Tq * Tk * c.dKv;                // scores and probs @ v
  const encoderLayer = attn(Ne, Ne, S, S) + ffMats * 2 * Ne * D * F;
  const decoderLayer = attn(Nd, Nd, T, T) + attn(Nd, Ne, T, S) + ffMats * 2 * Nd * D * F;
  return c.numLayers * encoderLayer + c.numDecoderLayers * decoderLayer + 2 * Nd * D * V;
}

export function trainStepFlops(c: T5Config, B: number, S: number, T: number): number {
  return 3 * forwardFlops(c, B, S, T);
}
