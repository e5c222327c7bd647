/**
 * What the worker's main thread and its compute thread (compute_thread.ts) say to each other. The
 * main thread asks, the compute thread answers each request once, in order. The trainable state,
 * the gradient and the frozen base live in SharedArrayBuffers both threads view: nothing of size is
 * copied between them, and by protocol only one thread touches them at a time (the main thread
 * between requests: snapshots, checksums, uploads, masks; the compute thread inside compute/apply).
 * The one exception is the gradient during compute: a bucket announced by BucketFull belongs to the
 * main thread (the all-reduce) from then on, while the compute thread fills the others.
 */
import type { Config, BackendName, WebGpuApi } from '../../shared/runtime/config.js';
import type { T5Config } from '../../shared/model/config.js';
import type { ParamLayout } from '../../shared/model/params.js';
import type { MaskSet } from '../../shared/model/pruning_masks.js';
import type { MemoryFigures } from '../../shared/model/peft.js';
import type { AppliedUpdate, ComputedGradient } from '../../shared/training/trainer.js';
import type { MasksInForce } from '../../shared/training/mask_file.js';
import type { Bucket } from '../../shared/training/gradient_buckets.js';

export interface ThreadRequests {
  /** Starts the TensorFlow.js backend inside the thread; answers the backend's name. */
  init: { req: { backend: BackendName; webgpuApi: WebGpuApi }; res: { backend: string } };
  /** The run's data, model state and trainer, built in the thread and moved into shared memory. */
  prepare: { req: { cfg: Config; dataDir: string; resumeFrom: string; rank: number; worldSize: number }; res: SharedSetup };
  /** The ring changed: this worker's slice of each global batch. */
  shard: { req: { rank: number; worldSize: number }; res: void };
  /**
   * Phases 1-2 of `step` (0-based) from the shared parameters; the gradient lands in SharedSetup.fused.
   * Before the answer, a BucketFull event for each bucket as its gradients become final.
   */
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

/**
 * Sent by the compute thread inside a compute request, unasked: every gradient of bucket `bucket`
 * (SharedSetup.buckets) is final in the shared buffer for `step`, and the thread writes it no more
 * this step: the main thread may all-reduce it while the backward pass goes on.
 */
export interface BucketFull { event: 'bucketFull'; step: number; bucket: number }

/** Everything the compute thread posts: answers, and the events inside a compute request. */
export type ThreadMessage = ThreadReply | BucketFull;

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
  /** trainLayout.total + 1 elements: the loss, then the gradient (the all-reduce's buffer, GradientSync.fused). */
  fused: Float32Array;
  /** The buckets of `fused` in reduce order (shared/training/gradient_buckets.ts), cut by the thread that fills them. */
  buckets: Bucket[];
  mix: string;
  decoderOutputRows: number;
  /** Resumed: the pruning masks in force in the checkpoint (they hold from its first step). */
  masks?: MasksInForce;
  /** Resumed: the loss scaler's good steps since its scale last changed (checkpointGoodSteps). */
  lossScaleGoodSteps: number;
}
