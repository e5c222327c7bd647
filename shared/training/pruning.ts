/**
 * Dynamic unstructured magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune"): the
 * target sparsity ramps from `initial` to `final` along a cubic between beginStep and endStep;
 * masks are recomputed from the weights' current magnitudes every `every` steps, so a weight pruned
 * earlier comes back when it has grown again. Only Linear weights are pruned (not the embedding,
 * norms or position biases). Masks are bit sets (1 = keep), least significant bit first.
 */
import type { ParamLayout, ParamSpec } from '../model/params.js';
import type { MaskSet } from '../model/pruning_masks.js';

export interface PruningSchedule {
  initial: number;
  final: number;
  beginStep: number;
  endStep: number;
  every: number;
  scope: 'global' | 'layer';
}

/** Target sparsity at `step` (before beginStep: none). */
export function targetSparsity(s: PruningSchedule, step: number): number {
  if (s.final <= 0 || step < s.beginStep) return 0;
  if (step >= s.endStep) return s.final;
  const progress = (step - s.beginStep) / Math.max(1, s.endStep - s.beginStep);
  return s.final + (s.initial - s.final) * (1 - progress) ** 3;
}

/** Steps at which a new mask set takes effect: beginStep, then every `every` steps up to endStep. */
export function isMaskStep(s: PruningSchedule, step: number): boolean {
  return s.final > 0 && step >= s.beginStep && step <= s.endStep && (step - s.beginStep) % s.every === 0;
}

export function prunableSpecs(layout: ParamLayout): ParamSpec[] {
  return layout.specs.filter((s) => s.transposed);
}

/** k-th smallest |value| (0-based) by quickselect on a copy. */
function kthSmallestAbs(values: Float32Array, k: number): number {
  const a = Float32Array.from(values, Math.abs);
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1] as number;
    let i = lo, j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) { const t = a[i] as number; a[i] = a[j] as number; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j; else if (k >= i) lo = i; else break;
  }
  return a[k] as number;
}

/**
 * Masks that zero the `sparsity` share of smallest-magnitude weights: over all prunable weights
 * together (global) or in each weight matrix (layer). Ties at the threshold are kept in index order
 * until the count is exact, so the reached sparsity equals the target to one weight.
 */
export function magnitudeMasks(layout: ParamLayout, params: Float32Array, sparsity: number, scope: 'global' | 'layer'): MaskSet {
  const specs = prunableSpecs(layout);
  const masks: MaskSet = new Map();
  const groups = scope === 'global' ? [specs] : specs.map((s) => [s]);
  for (const group of groups) {
    const total = group.reduce((n, s) => n + s.size, 0);
    const prune = Math.floor(sparsity * total);
    const all = new Float32Array(total);
    let o = 0;
    for (const s of group) { all.set(params.subarray(s.offset, s.offset + s.size), o); o += s.size; }
    const threshold = prune > 0 ? kthSmallestAbs(all, prune - 1) : -1;
    let below = 0;
    for (let i = 0; i < total; i++) if (Math.abs(all[i] as number) < threshold) below++;
    let tiesToPrune = prune - below;                     // weights equal to the threshold still to prune
    for (const s of group) {
      const bits = new Uint8Array(Math.ceil(s.size / 8));
      for (let i = 0; i < s.size; i++) {
        const a = Math.abs(params[s.offset + i] as number);
        const pruned = prune > 0 && (a < threshold || (a === threshold && tiesToPrune-- > 0));
        if (!pruned) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
      }
      masks.set(s.name, bits);
    }
  }
  return masks;
}

/** Share of zero entries of each prunable weight, and overall. */
export function sparsityReport(layout: ParamLayout, params: Float32Array): { overall: number; perLayer: Record<string, number> } {
  const perLayer: Record<string, number> = {};
  let zeros = 0, total = 0;
  for (const s of prunableSpecs(layout)) {
    let z = 0;
    for (let i = s.offset; i < s.offset + s.size; i++) if (params[i] === 0) z++;
    perLayer[s.name] = z / s.size;
    zeros += z;
    total += s.size;
  }
  return { overall: total ? zeros / total : 0, perLayer };
}
