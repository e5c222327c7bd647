/**
 * Pruning masks as data: one bit set per pruned weight (1 = keep), least significant bit first.
 * Which weights to prune and when is training's (shared/training/pruning.ts); the model only applies them.
 */
import type { ParamLayout } from './params.js';

/** Parameter name -> its keep bits. */
export type MaskSet = Map<string, Uint8Array>;

/** Zeroes the masked entries of a flat buffer laid out like the parameters (weights or gradients). */
export function applyMasks(layout: ParamLayout, buf: Float32Array, masks: MaskSet): void {
  for (const [name, bits] of masks) {
    const s = layout.byName.get(name);
    if (!s) throw new Error(`pruning mask for unknown parameter ${name}`);
    for (let i = 0; i < s.size; i++) if (((bits[i >> 3] as number) & (1 << (i & 7))) === 0) buf[s.offset + i] = 0;
  }
}
