/**
 * T5 parameters as one flat Float32Array (master weights: what the optimizer updates, the ring
 * all-reduces and checkpoints store), described by a layout of Hugging Face names and shapes.
 *
 * Linear weights are kept as (in, out) so a projection is `x @ W` without a transpose
 * (the transposeB flag is ~10x slower on wasm); Hugging Face stores them as (out, in), so they are
 * transposed on load/save, which is exact. Embeddings and norms keep Hugging Face's layout.
 */
import type { T5Config } from './config.js';
import { Rng } from '../runtime/random.js';

export interface ParamSpec {
  name: string;          // Hugging Face name, e.g. 'encoder.block.0.layer.0.SelfAttention.q.weight'
  shape: number[];       // our layout
  hfShape: number[];     // Hugging Face's layout
  transposed: boolean;   // shape is hfShape reversed (a Linear weight)
  size: number;
  offset: number;        // into the flat buffer
  decay: boolean;        // AdamW weight decay applies (not to norms)
  initStd: number;       // 0 means "ones" (layer norm scales)
}

export interface ParamLayout {
  specs: ParamSpec[];
  byName: Map<string, ParamSpec>;
  total: number;
}

export function t5ParamLayout(c: T5Config): ParamLayout {
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, hfShape: number[], transposed: boolean, initStd: number): void => {
    const shape = transposed ? [...hfShape].reverse() : hfShape;
    const size = hfShape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, hfShape, transposed, size, offset, decay: initStd !== 0, initStd });
    offset += size;
  };
  const D = c.dModel, inner = c.numHeads * c.dKv;
  // Init as Hugging Face's T5PreTrainedModel._init_weights (initializer_factor 1.0): the missing
  // 1/sqrt(Kv) attention scaling is folded into q's init.
  const linear = (prefix: string, dIn: number, dOut: number, std: number): void => add(`${prefix}.weight`, [dOut, dIn], true, std);
  const attention = (prefix: string, relativeBias: boolean): void => {
    linear(`${prefix}.q`, D, inner, (D * c.dKv) ** -0.5);
    linear(`${prefix}.k`, D, inner, D ** -0.5);
    linear(`${prefix}.v`, D, inner, D ** -0.5);
    linear(`${prefix}.o`, inner, D, inner ** -0.5);
    if (relativeBias) add(`${prefix}.relative_attention_bias.weight`, [c.relativeAttentionNumBuckets, c.numHeads], false, D ** -0.5);
  };
  const feedForward = (prefix: string): void => {
    if (c.feedForwardProj === 'relu') linear(`${prefix}.DenseReluDense.wi`, D, c.dFf, D ** -0.5);
    else {
      linear(`${prefix}.DenseReluDense.wi_0`, D, c.dFf, D ** -0.5);
      linear(`${prefix}.DenseReluDense.wi_1`, D, c.dFf, D ** -0.5);
    }
    linear(`${prefix}.DenseReluDense.wo`, c.dFf, D, c.dFf ** -0.5);
    add(`${prefix}.layer_norm.weight`, [D], false, 0);
  };

  add('shared.weight', [c.vocabSize, D], false, 1.0);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.block.${i}.layer`;
    attention(`${p}.0.SelfAttention`, i === 0);
    add(`${p}.0.layer_norm.weight`, [D], false, 0);
    feedForward(`${p}.1`);
  }
  add('encoder.final_layer_norm.weight', [D], false, 0);
  for (let i = 0; i < c.numDecoderLayers; i++) {
    const p = `decoder.block.${i}.layer`;
    attention(`${p}.0.SelfAttention`, i === 0);
    add(`${p}.0.layer_norm.weight`, [D], false, 0);
    attention(`${p}.1.EncDecAttention`, false);
    add(`${p}.1.layer_norm.weight`, [D], false, 0);
    feedForward(`${p}.2`);
  }
  add('decoder.final_layer_norm.weight', [D], false, 0);
  if (!c.tieWordEmbeddings) add('lm_head.weight', [c.vocabSize, D], false, 1.0);
  return { specs, byName: new Map(specs.map((s) => [s.name, s])), total: offset };
}

/** Seeded initialisation: the same seed gives the same bits on every backend (drawn in JS). */
export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const flat = new Float32Array(layout.total);
  const rng = new Rng(seed);
  for (const s of layout.specs) {
    const view = flat.subarray(s.offset, s.offset + s.size);
    if (s.initStd === 0) view.fill(1);
    else for (let i = 0; i < view.length; i++) view[i] = rng.nextNormal() * s.initStd;
  }
  return flat;
}

/** (out, in) row-major -> (in, out) row-major, or back: the same operation. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c] as number;
  return out;
}
