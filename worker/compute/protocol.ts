/**
 * What the worker's main thread and its compute thread (compute_thread.ts) say to each other. The
 * main thread asks, the compute thread answers each request once, in order. The trainable state,
 * the gradient and the frozen base live in SharedArrayBuffers both threads view: nothing of size is
 * copied between them, and by protocol only one thread touches them at a time (the main thread
 * between requests: snapshots, checksums, uploads, masks; the compute thread inside compute/apply).
 */
import type { Config, BackendName, WebGpuApi } from '../../shared/runtime/config.js';
import type { T5Config } from '../../shared/model/config.js';
import type { ParamLayout } from '../../shared/model/params.js';
import type { MaskSet } from '../../shared/model/pruning_masks.js';
import type { MemoryFigures } from '../../shared/model/peft.js';
import type { AppliedUpdate, ComputedGradient } from '../../shared/training/trainer.js';
import type { MasksInForce } from '../../shared/training/mask_file.js';

export interface ThreadRequests {
  /** Starts the TensorFlow.js backend inside the thread; answers the backend's name. */
  init: { req: { backend: BackendName; webgpuApi: WebGpuApi }; res: { backend: string } };
  /** The run's data, model state and trainer, built in the thread and moved into shared memory. */
  prepare: { req: { cfg: Config; dataDir: string; resumeFrom: string; rank: number; worldSize: number }; res: SharedSetup };
  /** The ring changed: this worker's slice of each global batch. */
  shard: { req: { rank: number; worldSize: number }; res: void };
  /** Phases 1-2 of `step` (0-based) from the shared parameters; the gradient lands in SharedSetup.gradient. */
  compute: { req: { step: number }; res: ComputedGradient };
  /** Phase 4 with the reduced gradient in SharedSetup.gradient; `t` is AdamW's step count before it; answers it after. */
  apply: { req: { step: number; t: number; lr: number; skip: boolean; loss: number }; res: AppliedUpdate & { t: number } };
  /** lora/qlora: prune the frozen base (its tensors live in this thread). */
  pruneBase: { req: { masks: MaskSet }; res: void };
  /** What the thread holds: its JS heap, the wasm backend's memory (grown, never shrunk), live tensors. */
  memory: { req: Record<string, never>; res: ThreadMemory };
}

export interface ThreadMemory {
  /** V8 heap in use by the compute thread's isolate. */
  heapUsedBytes: number;
  /** The wasm backend's linear memory (0 on other backends): weights, gradients and activations of a step live there. */
  wasmHeapBytes: number;
  /** Bytes of tensors alive now (tf.memory()). */
  tensorBytes: number;
}

export type RequestKind = keyof ThreadRequests;

/** One request on the wire: `id` pairs it with its answer. */
export type ThreadRequest = { [K in RequestKind]: { id: number; kind: K; req: ThreadRequests[K]['req'] } }[RequestKind];

export type ThreadReply =
  | { id: number; ok: true; res: unknown }
  | { id: number; ok: false; error: { name: string; message: string; stack?: string } };

/** The training state in shared memory, as both threads see it. */
export interface SharedSetup {
  model: T5Config;
  baseLayout: ParamLayout;
  trainLayout: ParamLayout;
  /** lora/qlora: the adapters train on a frozen base that lives in the compute thread. */
  adapted: boolean;
  memory: MemoryFigures;
  step: number;
  t: number;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** The whole model's weights (full: the same memory as params; lora/qlora: the frozen base). */
  baseParams: Float32Array;
  /** trainLayout.total + 1 elements: the gradient, then the loss (the all-reduce's buffer, GradientSync.fused). */
  fused: Float32Array;
  mix: string;
  decoderOutputRows: number;
  /** Resumed: the pruning masks in force in the checkpoint (they hold from its first step). */
  masks?: MasksInForce;
  /** Resumed: the loss scaler's good steps since its scale last changed (checkpointGoodSteps). */
  lossScaleGoodSteps: number;
}
