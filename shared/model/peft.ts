/**
 * A LoRA or QLoRA model for training and search: the frozen base, made once (float tensors, or for
 * QLoRA its Linear weights in NF4, dequantised at each use), plus the adapters from their flat
 * buffer each step. The trainer sees only the adapters' layout: that is what it differentiates,
 * what AdamW keeps moments for and what a cluster would all-reduce.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamLayout, ParamSpec } from './params.js';
import { applyMasks, type MaskSet } from './pruning_masks.js';
import type { Weights } from './t5.js';
import { loraLayout, loraScale, mergeLora, type LoraOptions } from './lora.js';
import { dequantizeNf4, nf4Bytes, quantizeNf4, type Nf4Tensor } from './nf4.js';

export interface AdaptedModelOptions {
  lora: LoraOptions;
  /** QLoRA: hold the base Linear weights in NF4; false: LoRA on a float32 base. */
  quantize: boolean;
  /** QLoRA: double-quantise the NF4 block scales. */
  doubleQuant: boolean;
}

/** What each part of a training setup holds, in bytes (the table of issue 5). */
export interface MemoryFigures {
  trainable_parameters: number;
  optimizer_state_bytes: number;   // AdamW m and v, float32
  gradient_bytes: number;          // the fused gradient buffer (what is all-reduced)
  weight_bytes: number;            // weights the forward pass reads: float32 tensors + NF4 + adapters
}

/** Full fine-tuning's figures, for comparison: every parameter trains and is held in float32. */
export function fullMemory(layout: ParamLayout): MemoryFigures {
  const n = layout.total;
  return { trainable_parameters: n, optimizer_state_bytes: 8 * n, gradient_bytes: 4 * n, weight_bytes: 4 * n };
}

export class AdaptedModel {
  /** The trainable layout: the adapters. */
  readonly lora: ParamLayout;
  private readonly frozen = new Map<string, tf.Tensor>();     // base tensors uploaded once
  private readonly nf4 = new Map<string, Nf4Tensor>();        // QLoRA: Linear weights, (Din, Dout) layout
  private readonly frozenFloats: number;

  constructor(readonly base: ParamLayout, baseParams: Float32Array, readonly o: AdaptedModelOptions) {
    this.lora = loraLayout(base, o.lora);
    let floats = 0;
    for (const s of base.specs) {
      const view = baseParams.subarray(s.offset, s.offset + s.size);
      // QLoRA quantises every Linear weight; the embedding (also the tied output layer), norms and position biases stay float32
      if (o.quantize && s.transposed) this.nf4.set(s.name, quantizeNf4(view, s.shape, o.doubleQuant));
      else { this.frozen.set(s.name, tf.tensor(Float32Array.from(view), s.shape, 'float32')); floats += s.size; }
    }
    this.frozenFloats = floats;
  }

  /** The forward pass's weights for these adapter values: frozen base + adapter tensors. Give back with release(). */
  build(adapters: Float32Array): Weights {
    const w = new Map(this.frozen);
    for (const s of this.lora.specs) w.set(s.name, tf.tensor(adapters.subarray(s.offset, s.offset + s.size), s.shape, 'float32'));
    const quantized = new Map<string, () => tf.Tensor2D>();
    for (const [name, q] of this.nf4) quantized.set(name, () => tf.tensor2d(dequantizeNf4(q), q.shape as [number, number]));
    return Object.assign(w, { adapted: { frozen: true, loraScale: loraScale(this.o.lora), loraDropout: this.o.lora.dropout, quantized } });
  }

  /**
   * Prunes the frozen base (dynamic pruning in lora/qlora modes): zeroes the masked weights of
   * `baseParams` in place and re-makes their tensors (QLoRA: their NF4 codes; 0 is an NF4 code, so
   * pruned weights stay exactly zero). The adapters stay dense.
   */
  pruneBase(baseParams: Float32Array, masks: MaskSet): void {
    applyMasks(this.base, baseParams, masks);
    for (const name of masks.keys()) {
      const s = this.base.byName.get(name) as ParamSpec;   // applyMasks threw for unknown names
      const view = baseParams.subarray(s.offset, s.offset + s.size);
      if (this.nf4.has(name)) this.nf4.set(name, quantizeNf4(view, s.shape, this.o.doubleQuant));
      else {
        this.frozen.get(name)?.dispose();
        this.frozen.set(name, tf.tensor(Float32Array.from(view), s.shape, 'float32'));
      }
    }
  }

  /** Disposes the adapter tensors of build(); the frozen base stays for the next step. */
  release(w: Weights): void {
    for (const s of this.lora.specs) w.get(s.name)?.dispose();
  }

  /** The base weights the forward pass uses, as a flat float32 buffer: the NF4 weights dequantised (QLoRA). */
  forwardBaseParams(baseParams: Float32Array): Float32Array {
    if (this.nf4.size === 0) return baseParams;
    const out = Float32Array.from(baseParams);
    for (const [name, q] of this.nf4) {
      const s = this.base.byName.get(name);
      if (!s) throw new Error(`AdaptedModel: NF4 weight ${name} is not in the base layout`);
      dequantizeNf4(q, out.subarray(s.offset, s.offset + s.size));
    }
    return out;
  }

  /** Base + adapters merged into one plain model (for export): the forward's base, so QLoRA merges into deq(NF4). */
  merged(baseParams: Float32Array, adapters: Float32Array): Float32Array {
    return mergeLora(this.base, this.forwardBaseParams(baseParams), this.lora, adapters, this.o.lora);
  }

  memory(): MemoryFigures {
    const n = this.lora.total;
    let quantBytes = 0;
    for (const q of this.nf4.values()) quantBytes += nf4Bytes(q);
    return { trainable_parameters: n, optimizer_state_bytes: 8 * n, gradient_bytes: 4 * n, weight_bytes: 4 * this.frozenFloats + quantBytes + 4 * n };
  }

  dispose(): void {
    tf.dispose([...this.frozen.values()]);
    this.frozen.clear();
  }
}
