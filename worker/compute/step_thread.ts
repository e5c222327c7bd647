/**
 * The main thread's side of the compute thread (compute_thread.ts): starts it, asks it for the
 * phases of a step, and runs the phase in between, the all-reduce, itself (the ring's sockets live
 * on this thread). Its step() is Trainer.step's, so the worker reads the same either way. `progress`
 * says what the step in flight is doing and for how long: heartbeats carry it.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../shared/runtime/log.js';
import type { Config } from '../../shared/runtime/config.js';
import type { TrainState } from '../../shared/training/setup.js';
import { stepStats, type ReducedGradient, type StepStats } from '../../shared/training/trainer.js';
import type { GradientSync } from '../../shared/training/gradient_sync.js';
import type { MaskSet } from '../../shared/model/pruning_masks.js';
import type { RequestKind, SharedSetup, ThreadMemory, ThreadMessage, ThreadReply, ThreadRequests } from './protocol.js';

export type StepPhase = 'idle' | 'compute' | 'reduce' | 'optimizer';

/** Where the step in flight is: its 1-based number, phase and when the phase began (Date.now()). */
export interface StepProgress { step: number; phase: StepPhase; sinceMs: number }

/** The compute thread died (an uncaught error, out of memory): nothing more can train in this process. */
export class ComputeThreadError extends Error {
  override name = 'ComputeThreadError';
}

export class StepThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private dead: Error | undefined;
  private shared: SharedSetup | undefined;
  private cfg: Config | undefined;
  private worldSize = 1;
  /** The main thread's view of the trainable state (shared memory; touched only between requests). */
  state: TrainState | undefined;
  sync: GradientSync | undefined;
  progress: StepProgress = { step: 0, phase: 'idle', sinceMs: Date.now() };
  /** The step in flight's bucket promises, resolved as the compute thread reports them full. */
  private bucketWaits: { step: number; resolvers: Array<() => void> } | undefined;

  private constructor(private readonly thread: Worker, private readonly log: Logger) {
    thread.on('message', (m: ThreadMessage) => this.answer(m));
    thread.on('error', (e) => this.die(new ComputeThreadError(`the compute thread failed: ${e.message}`, { cause: e })));
    thread.on('exit', (code) => this.die(new ComputeThreadError(`the compute thread exited (${code})`)));
  }

  /** Starts the thread and its TensorFlow.js backend; `backend` is what it runs. */
  static async start(o: { backend: Config['runtime']['backend']; webgpuApi: Config['runtime']['webgpuApi']; log: Logger }): Promise<{ thread: StepThread; backend: string }> {
    const t = new StepThread(new Worker(new URL('./compute_thread.js', import.meta.url)), o.log);
    const { backend } = await t.call('init', { backend: o.backend, webgpuApi: o.webgpuApi });
    return { thread: t, backend };
  }

  /** Data, model state and trainer in the thread; the state comes back as views of shared memory. */
  async prepare(req: ThreadRequests['prepare']['req']): Promise<SharedSetup> {
    const s = await this.call('prepare', req);
    this.shared = s;
    this.cfg = req.cfg;
    this.worldSize = req.worldSize;
    this.state = { step: s.step, params: s.params, opt: { m: s.m, v: s.v, t: s.t } };
    return s;
  }

  async setShard(rank: number, worldSize: number): Promise<void> {
    this.worldSize = worldSize;
    await this.call('shard', { rank, worldSize });
  }

  pruneBase(masks: MaskSet): Promise<void> {
    return this.call('pruneBase', { masks });
  }

  /** The compute thread's memory (its heap, the wasm backend's, live tensors): the worker's memory report. */
  memory(): Promise<ThreadMemory> {
    return this.call('memory', {});
  }

  /**
   * One step: compute (thread) -> reduce (here: the ring) -> clip and AdamW (thread). The reduce
   * starts inside the compute phase: each bucket goes over the ring as soon as the thread says its
   * gradients are final; what is left after the compute phase is the step's exposed reduce.
   */
  async step(): Promise<StepStats> {
    const { state, shared, cfg } = this.ready();
    const step = state.step;
    const t0 = performance.now();
    let t1 = t0;
    this.enter(step, 'compute');
    const full = this.awaitBuckets(step, shared.buckets.length);
    const computing = this.call('compute', { step }).then((c) => {
      t1 = performance.now();
      this.enter(step, 'reduce');
      return c;
    });
    try {
      const reduced: ReducedGradient = this.sync
        ? await this.sync.reduceAsComputed(step, { bucketFull: (b) => full[b] as Promise<void>, ended: computing.then((c) => c.lossSum) })
            .catch(async (e: unknown) => { await computing.catch(() => undefined); throw e; })   // the thread leaves the buffer first
        : { grad: shared.fused.subarray(1), loss: (await computing).lossSum };
      const c = await computing;
      const reduceMs = performance.now() - t1;
      this.enter(step, 'optimizer');
      const a = await this.call('apply', { step, t: state.opt.t, lr: c.lr, skip: reduced.skip === true, loss: reduced.loss });
      state.opt.t = a.t;
      state.step = step + 1;
      // what the thread costs: the step's wall time less the phases' own (messages, the thread's wake-ups)
      const threadMs = performance.now() - t0 - c.computeMs - reduceMs - a.optimizerMs;
      this.log.debug({ step: state.step, computeMs: c.computeMs, reduceMs, overlappedMs: reduced.ring?.overlappedMs ?? 0, optimizerMs: a.optimizerMs, threadMs }, 'step phases');
      return stepStats(cfg, this.worldSize, state.step, c, reduced, reduceMs, a);
    } finally {
      this.bucketWaits = undefined;
      this.progress = { step: state.step, phase: 'idle', sinceMs: Date.now() };
    }
  }

  /** One promise per bucket of `step`, resolved by the compute thread's BucketFull events. */
  private awaitBuckets(step: number, count: number): Array<Promise<void>> {
    const resolvers: Array<() => void> = [];
    const waits = Array.from({ length: count }, () => new Promise<void>((resolve) => { resolvers.push(resolve); }));
    this.bucketWaits = { step, resolvers };
    return waits;
  }

  /** Ends the thread (its backend and tensors with it). */
  async close(): Promise<void> {
    this.dead ??= new ComputeThreadError('the compute thread was closed');
    await this.thread.terminate();
  }

  private enter(step: number, phase: StepPhase): void {
    this.progress = { step: step + 1, phase, sinceMs: Date.now() };
  }

  private ready(): { state: TrainState; shared: SharedSetup; cfg: Config } {
    if (!this.state || !this.shared || !this.cfg) throw new Error('StepThread.step before prepare');
    return { state: this.state, shared: this.shared, cfg: this.cfg };
  }

  private call<K extends RequestKind>(kind: K, req: ThreadRequests[K]['req']): Promise<ThreadRequests[K]['res']> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.thread.postMessage({ id, kind, req });
    });
  }

  private answer(m: ThreadMessage): void {
    if ('event' in m) {
      if (this.bucketWaits?.step === m.step) this.bucketWaits.resolvers[m.bucket]?.();
      return;
    }
    const r: ThreadReply = m;
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.ok) p.resolve(r.res);
    else {
      // the thread's error, rebuilt here: same name and message, the thread's stack
      const e = new Error(r.error.message);
      e.name = r.error.name;
      if (r.error.stack) e.stack = r.error.stack;
      p.reject(e);
    }
  }

  private die(e: Error): void {
    if (!this.dead) this.log.error({ err: e.message }, 'compute thread gone');
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }
}
