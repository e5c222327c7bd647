/**
 * `bench model`: time the full training step (upload weights, forward, backward, gradients out,
 * clip, AdamW) and, in the same process on the same backend, a large 2-D matMul: the step's
 * achieved GFLOP/s over the matMul's says how much of the backend's best the model gets.
 */
import * as tf from '@tensorflow/tfjs';
import { PRESET_CONFIGS } from '../../shared/model/config.js';
import { initParams, t5ParamLayout } from '../../shared/model/params.js';
import { weightsFromFlat } from '../../shared/model/t5.js';
import { accumulateGradients, type TokenBatch } from '../../shared/model/grads.js';
import { forwardFlops, trainStepFlops } from '../../shared/model/flops.js';
import { adamWStep, clipByGlobalNorm, newAdamWState } from '../../shared/training/adamw.js';
import { Rng } from '../../shared/runtime/random.js';
import type { PresetName, TrainMode } from '../../shared/runtime/config.js';
import { initLora } from '../../shared/model/lora.js';
import { AdaptedModel, fullMemory, type AdaptedModelOptions, type MemoryFigures } from '../../shared/model/peft.js';
import type { GpuAdapterReport } from '../../shared/runtime/webgpu.js';

export interface ModelBenchOptions {
  preset: PresetName;
  backend: string;
  /** The WebGPU adapter when the backend is webgpu: reported with the figures. */
  device?: GpuAdapterReport;
  batchSize: number;      // B
  inputTokens: number;    // S
  targetTokens: number;   // T (naive docids of the sample: 3 digits + </s>)
  steps: number;          // timed steps after warm-up
  seed: number;
  /** full, or adapters only (lora, qlora) with `adapters`' settings. @default 'full' */
  mode?: TrainMode;
  adapters?: AdaptedModelOptions;
  /** Each item done (a terminal's progress bar: LogConsole.progress); nothing is logged. */
  progress?: (msg: string, fields: object) => void;
}

export interface ModelBenchResult {
  preset: string;
  backend: string;
  device?: GpuAdapterReport;
  parameters: number;
  mode: TrainMode;
  memory: MemoryFigures;         // trainable parameters, optimizer-state, gradient and weight bytes
  batch: { B: number; S: number; T: number };
  step_ms: number;               // median
  step_ms_all: number[];
  samples_per_s: number;
  tokens_per_s: number;          // input + target tokens per second
  step_gflop: number;
  step_gflops: number;           // achieved GFLOP/s of the training step
  matmul: { m: number; k: number; n: number; ms: number; gflops: number };
  ratio: number;                 // step_gflops / matmul.gflops
}

const WARMUP_STEPS = 2;
/** The "large 2-D matMul" of DEVELOPERS.md: (4096, 256) @ (256, 1024). */
const MATMUL = { m: 4096, k: 256, n: 1024 };
const MATMUL_REPS_PER_STEP = 4;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function benchModel(o: ModelBenchOptions): Promise<ModelBenchResult> {
  const c = PRESET_CONFIGS[o.preset];
  const layout = t5ParamLayout(c);
  const params = initParams(layout, o.seed);
  const mode = o.mode ?? 'full';
  if (mode !== 'full' && !o.adapters) throw new Error(`benchModel: mode ${mode} needs the adapters' settings`);
  // lora/qlora: the adapters are the trainable buffer; the frozen base (qlora: NF4) is built once, as in training
  const adapted = mode === 'full' || !o.adapters ? undefined : new AdaptedModel(layout, params, o.adapters);
  const trainLayout = adapted?.lora ?? layout;
  const trainable = adapted ? initLora(adapted.lora, o.seed) : params;
  const opt = newAdamWState(trainLayout.total);
  const grad = new Float32Array(trainLayout.total);
  const { batchSize: B, inputTokens: S, targetTokens: T } = o;
  // token ids drawn from the vocabulary (no padding: every position is computed and counted)
  const rng = new Rng(o.seed);
  const batch: TokenBatch = {
    inputIds: Int32Array.from({ length: B * S }, (_, i) => (i % S === S - 1 ? 1 : 3 + rng.nextInt(32000))),
    labels: Int32Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? 1 : 3 + rng.nextInt(32000))),
    B, S, T,
  };
  // The large 2-D matMul is timed between the steps, MATMUL_REPS_PER_STEP reps after each: both figures
  // then see the same machine (a shared VM's speed drifts by 20-30% within a minute), and both are medians.
  const a = tf.randomNormal([MATMUL.m, MATMUL.k]) as tf.Tensor2D;
  const b = tf.randomNormal([MATMUL.k, MATMUL.n]) as tf.Tensor2D;
  const times: number[] = [];
  const mmTimes: number[] = [];
  for (let i = 0; i < WARMUP_STEPS + o.steps; i++) {
    const t0 = performance.now();
    grad.fill(0);
    const w = adapted ? adapted.build(trainable) : weightsFromFlat(layout, params);
    await accumulateGradients(c, trainLayout, w, batch, 1, grad);
    if (adapted) adapted.release(w); else tf.dispose([...w.values()]);
    clipByGlobalNorm(grad, 1);
    adamWStep(trainLayout, trainable, grad, opt, 1e-4, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 });
    if (i >= WARMUP_STEPS) times.push(performance.now() - t0);
    o.progress?.('progress', { stage: 'bench model', done: i + 1, total: WARMUP_STEPS + o.steps, unit: 'steps' });
    for (let r = 0; r < MATMUL_REPS_PER_STEP; r++) {
      const t1 = performance.now();
      // read each product back (async: webgpu in Node has no synchronous read) so that its time counts
      const y = tf.matMul(a, b); await y.data(); y.dispose();
      if (i >= WARMUP_STEPS) mmTimes.push(performance.now() - t1);
    }
  }
  tf.dispose([a, b]);
  const stepMs = median(times);
  const mmMs = median(mmTimes);
  const memory = adapted?.memory() ?? fullMemory(layout);
  adapted?.dispose();
  // a frozen base needs no weight gradients: forward + input gradients, 2x the forward (adapters' small matMuls left out)
  const flops = mode === 'full' ? trainStepFlops(c, B, S, T) : 2 * forwardFlops(c, B, S, T);

  const mmGflops = (2 * MATMUL.m * MATMUL.k * MATMUL.n) / mmMs / 1e6;
  const stepGflops = flops / stepMs / 1e6;
  return {
    preset: o.preset, backend: o.backend, ...(o.device ? { device: o.device } : {}), parameters: layout.total, mode, memory, batch: { B, S, T },
    step_ms: stepMs, step_ms_all: times, samples_per_s: (B * 1000) / stepMs, tokens_per_s: (B * (S + T) * 1000) / stepMs,
    step_gflop: flops / 1e9, step_gflops: stepGflops,
    matmul: { ...MATMUL, ms: mmMs, gflops: mmGflops }, ratio: stepGflops / mmGflops,
  };
}
