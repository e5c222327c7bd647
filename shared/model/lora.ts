/**
 * LoRA (Hu et al. 2021) as PEFT implements it: a chosen Linear W (Din -> Dout) gets two small
 * matrices, A (r, Din) and B (Dout, r), and computes y = x W + (alpha / r) * B A dropout(x).
 * B starts at zero (the adapted model starts as the base model), A as PEFT's
 * kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(Din), 1/sqrt(Din)).
 *
 * The adapters are their own flat parameter buffer with a layout (params.ts), the "trainable
 * layout" of LoRA/QLoRA runs: the trainer, AdamW, the all-reduce and checkpoints take it exactly as
 * they take the full model's. Like the base Linear weights, A and B are stored transposed,
 * A as (Din, r) and B as (r, Dout), so the adapter path is two plain matMuls:
 *   (N, Din) @ (Din, r) -> (N, r) @ (r, Dout) -> (N, Dout)
 * and `hfShape` gives PEFT's (r, Din) and (Dout, r).
 */
import type { LoraTarget } from '../runtime/config.js';
import type { ParamLayout, ParamSpec } from './params.js';
import { Rng } from '../runtime/random.js';

export interface LoraOptions {
  rank: number;                       // r
  alpha: number;                      // outputs scaled by alpha / r
  dropout: number;                    // on the adapter input, in training
  targets: readonly LoraTarget[];     // which Linear modules of every block
}

/** The seed's defaults: r = 8, alpha = 32, dropout 0.1 on attention q and v (the LoRA paper's choice). */
export const LORA_DEFAULTS: Readonly<LoraOptions> = { rank: 8, alpha: 32, dropout: 0.1, targets: ['q', 'v'] };

export function loraScale(o: LoraOptions): number {
  return o.alpha / o.rank;
}

/** PEFT's tensor names of the adapter of Linear module `module` (without PEFT's `base_model.model.` prefix). */
export function loraTensorNames(module: string): { a: string; b: string } {
  return { a: `${module}.lora_A.weight`, b: `${module}.lora_B.weight` };
}

/** Last name part of the Linear modules a target stands for (T5's module names). */
const TARGET_MODULES: Readonly<Record<LoraTarget, readonly string[]>> = {
  q: ['q'], k: ['k'], v: ['v'], o: ['o'], wi: ['wi', 'wi_0', 'wi_1'], wo: ['wo'],
};

/** The Linear modules of `base` that `targets` adapt, in layout order, e.g. 'decoder.block.1.layer.1.EncDecAttention.v'. */
export function loraModules(base: ParamLayout, targets: readonly LoraTarget[]): ParamSpec[] {
  const leaves = new Set(targets.flatMap((t) => TARGET_MODULES[t]));
  return base.specs.filter((s) => {
    if (!s.transposed || !s.name.endsWith('.weight')) return false;   // Linear weights only
    const module = s.name.slice(0, -'.weight'.length);
    return leaves.has(module.slice(module.lastIndexOf('.') + 1));
  });
}

/** PEFT's `target_modules` for the adapter_config.json: the leaf names present in this model. */
export function peftTargetModules(base: ParamLayout, targets: readonly LoraTarget[]): string[] {
  const present = new Set(loraModules(base, targets).map((s) => s.name.slice(0, -'.weight'.length).split('.').at(-1) as string));
  return targets.flatMap((t) => TARGET_MODULES[t]).filter((m) => present.has(m));
}

/**
 * The adapters' flat layout: for each adapted module (layout order) A then B. `initStd` holds
 * A's uniform bound 1/sqrt(Din) and 0 for B (initLora draws them; initParams does not apply).
 */
export function loraLayout(base: ParamLayout, o: LoraOptions): ParamLayout {
  const modules = loraModules(base, o.targets);
  if (modules.length === 0) throw new Error(`LoRA: no Linear module matches targets [${o.targets.join(', ')}]`);
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], initStd: number): void => {
    const size = (shape[0] as number) * (shape[1] as number);
    // decay: as PEFT under Hugging Face's Trainer, adapters get weight decay (they are not norms or biases)
    specs.push({ name, shape, hfShape: [...shape].reverse(), transposed: true, size, offset, decay: true, initStd });
    offset += size;
  };
  for (const m of modules) {
    const [din, dout] = m.shape as [number, number];                  // base weight (Din, Dout)
    const names = loraTensorNames(m.name.slice(0, -'.weight'.length));
    add(names.a, [din, o.rank], 1 / Math.sqrt(din));                   // A^T (Din, r)
    add(names.b, [o.rank, dout], 0);                                   // B^T (r, Dout)
  }
  return { specs, byName: new Map(specs.map((s) => [s.name, s])), total: offset };
}

/** Seeded adapters: A ~ U(-1/sqrt(Din), 1/sqrt(Din)) (PEFT's kaiming_uniform_(a=sqrt(5))), B = 0. */
export function initLora(layout: ParamLayout, seed: number): Float32Array {
  const flat = new Float32Array(layout.total);
  const rng = new Rng(seed);
  for (const s of layout.specs) {
    if (s.initStd === 0) continue;                                     // B: zeros
    const bound = s.initStd;
    for (let i = s.offset; i < s.offset + s.size; i++) flat[i] = (2 * rng.nextFloat() - 1) * bound;
  }
  return flat;
}

/** The base module name of an adapter spec ('….q.lora_A.weight' -> '….q'). */
function moduleOf(specName: string): string {
  return specName.replace(/\.lora_[AB]\.weight$/, '');
}

/**
 * W' = W + (alpha / r) * A^T B^T for every adapted module, in our (Din, Dout) layout: the merged
 * model computes what base + adapters compute (without dropout), with no adapter at all.
 * Returns a new base buffer; `base` and `adapters` are left as they are.
 */
export function mergeLora(base: ParamLayout, baseParams: Float32Array, lora: ParamLayout, adapters: Float32Array, o: LoraOptions): Float32Array {
  const merged = Float32Array.from(baseParams);
  const scale = loraScale(o);
  const r = o.rank;
  for (const a of lora.specs) {
    if (!a.name.endsWith('.lora_A.weight')) continue;
    const module = moduleOf(a.name);
    const b = lora.byName.get(loraTensorNames(module).b);
    const w = base.byName.get(`${module}.weight`);
    if (!b || !w) throw new Error(`mergeLora: adapter ${module} has no lora_B or no base weight`);
    const [din, dout] = w.shape as [number, number];
    for (let i = 0; i < din; i++) {
      for (let j = 0; j < dout; j++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += (adapters[a.offset + i * r + k] as number) * (adapters[b.offset + k * dout + j] as number);
        const at = w.offset + i * dout + j;
        merged[at] = (merged[at] as number) + scale * s;
      }
    }
  }
  return merged;
}
