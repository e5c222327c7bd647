/**
 * The compute thread's entry (a worker_threads Worker started by step_thread.ts): its own
 * TensorFlow.js backend, the run's data and the trainer. A wasm step is synchronous and takes
 * seconds; here it blocks only this thread, so the process's main thread keeps answering gRPC,
 * heartbeats and ring sockets meanwhile.
 */
import { parentPort } from 'node:worker_threads';
import v8 from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../shared/runtime/backend.js';
import { createLogger } from '../../shared/runtime/log.js';
import { openPreparedDataset } from '../../shared/dataset/reader.js';
import { checkpointGoodSteps } from '../../shared/training/loss_scaler.js';
import { setUpTraining, type TrainingSetup } from '../../shared/training/setup.js';
import { decoderOutput, trainingData } from '../../shared/training/training_data.js';
import { Trainer } from '../../shared/training/trainer.js';
import type { Config } from '../../shared/runtime/config.js';
import { GradientBuckets } from '../../shared/training/gradient_buckets.js';
import type { BucketFull, RequestKind, SharedSetup, ThreadReply, ThreadRequest, ThreadRequests } from './protocol.js';

type Handler<K extends RequestKind> = (req: ThreadRequests[K]['req']) => Promise<ThreadRequests[K]['res']> | ThreadRequests[K]['res'];

/** A copy of `a` in a SharedArrayBuffer (once, at start: afterwards both threads view it in place). */
function shared(a: Float32Array, extra = 0): Float32Array {
  const s = new Float32Array(new SharedArrayBuffer((a.length + extra) * 4));
  s.set(a);
  return s;
}

/** Blocks this thread for `ms` (the test hook: a step that takes long without the CPU it would need). */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

class ComputeThread {
  private setup: TrainingSetup | undefined;
  private trainer: Trainer | undefined;
  private cfg: Config | undefined;
  private buckets: GradientBuckets | undefined;

  /** `post`: sends an event to the main thread (the thread's port). */
  constructor(private readonly post: (event: BucketFull) => void) {}

  readonly handlers: { [K in RequestKind]: Handler<K> } = {
    init: async ({ backend, webgpuApi }) => ({ backend: (await initBackend(backend, { webgpuApi })).name }),
    prepare: (req) => this.prepare(req),
    shard: ({ rank, worldSize }) => this.ready().setShard(rank, worldSize),
    compute: async ({ step }) => {
      const trainer = this.ready();
      trainer.state.step = step;   // the main thread's count rules (it rewinds after a lost worker)
      const sleepMs = this.cfg?.cluster.testHookStepSleepMs ?? 0;
      if (sleepMs > 0) blockFor(sleepMs);
      // each bucket, once the backward pass has finished its gradients: the main thread reduces it meanwhile
      const full = this.readyBuckets().counter((bucket) => this.post({ event: 'bucketFull', step, bucket }));
      return trainer.computeGradients(full);
    },
    apply: ({ step, t, lr, skip, loss }) => {
      const trainer = this.ready();
      trainer.state.step = step;
      trainer.state.opt.t = t;
      const a = trainer.applyGradients({ grad: trainer.gradient, loss, ...(skip ? { skip } : {}) }, lr);
      return { ...a, t: trainer.state.opt.t };
    },
    memory: () => ({
      heapUsedBytes: v8.getHeapStatistics().used_heap_size,
      wasmHeapBytes: (tf.backend() as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.buffer.byteLength ?? 0,
      tensorBytes: tf.memory().numBytes,
    }),
    pruneBase: ({ masks }) => {
      const s = this.setup;
      if (!s?.adapted) throw new Error('pruneBase: this run trains no adapters (mode full)');
      s.adapted.pruneBase(s.baseParams, masks);
    },
  };

  private ready(): Trainer {
    if (!this.trainer) throw new Error('the compute thread was asked to train before prepare');
    return this.trainer;
  }

  private readyBuckets(): GradientBuckets {
    if (!this.buckets) throw new Error('the compute thread was asked to train before prepare');
    return this.buckets;
  }

  /** Data, model state (moved into shared memory), trainer. */
  private async prepare(r: ThreadRequests['prepare']['req']): Promise<SharedSetup> {
    const { cfg } = r;
    this.cfg = cfg;
    const data = await openPreparedDataset(r.dataDir);
    const setup = await setUpTraining(cfg, data, r.resumeFrom || undefined);
    const st = setup.state;
    const full = st.params === setup.baseParams;
    st.params = shared(st.params);
    st.opt.m = shared(st.opt.m);
    st.opt.v = shared(st.opt.v);
    // full: one array is both (the trained weights); lora/qlora: the frozen base, pruned in place by pruneBase
    setup.baseParams = full ? st.params : shared(setup.baseParams);
    const fused = new Float32Array(new SharedArrayBuffer((setup.trainLayout.total + 1) * 4));   // the loss, then the gradient
    this.buckets = new GradientBuckets(setup.trainLayout, cfg.cluster.bucketBytes);
    const examples = trainingData(cfg, data);
    const output = decoderOutput(cfg, data);
    const log = createLogger({ level: cfg.runtime.logLevel }).child({ component: 'compute-thread' });
    this.setup = setup;
    this.trainer = new Trainer({
      cfg, model: setup.model, layout: setup.trainLayout, ...(setup.adapted ? { weights: setup.adapted } : {}),
      data: examples.source, ...(output ? { output } : {}), rank: r.rank, worldSize: r.worldSize, log, grad: fused.subarray(1),
    }, st);
    return {
      model: setup.model, baseLayout: setup.baseLayout, trainLayout: setup.trainLayout, adapted: setup.adapted !== undefined, memory: setup.memory,
      step: st.step, t: st.opt.t, params: st.params, m: st.opt.m, v: st.opt.v, baseParams: setup.baseParams, fused, buckets: this.buckets.buckets,
      mix: examples.mix, decoderOutputRows: output?.ids.length ?? setup.model.vocabSize,
      ...(setup.masks ? { masks: setup.masks } : {}), lossScaleGoodSteps: checkpointGoodSteps(setup.resumedRunConfig),
    };
  }
}

const port = parentPort;
if (!port) throw new Error('compute_thread.js runs as a worker_threads Worker (worker/compute/step_thread.ts starts it)');
const thread = new ComputeThread((event) => port.postMessage(event));
// one request at a time, in order: the main thread awaits each answer before it asks again
let queue = Promise.resolve();
port.on('message', (msg: ThreadRequest) => {
  queue = queue.then(async () => {
    let reply: ThreadReply;
    try {
      const handler = thread.handlers[msg.kind] as Handler<typeof msg.kind>;
      reply = { id: msg.id, ok: true, res: await handler(msg.req as never) };
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      reply = { id: msg.id, ok: false, error: { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) } };
    }
    port.postMessage(reply);
  });
});
