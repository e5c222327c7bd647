/**
 * Worker state arriving for a checkpoint: chunks checked and reassembled per tensor as they come,
 * matched to the request. An upload is bounded by the model's own size, so a stream can never make
 * the coordinator buffer more than one state's bytes.
 */
import type { StateChunk__Output } from '../../proto/gen/dsi/v1/StateChunk.js';
import { MAX_WORKER_STATE_BYTES } from './validate.js';

export interface UploadedState {
  workerId: string;
  rank: number;
  step: number;
  /** 'params', 'adamw.exp_avg', 'adamw.exp_avg_sq' -> float32 values. */
  tensors: Map<string, Float32Array>;
  /** The worker part (JSON). */
  worker: unknown;
  bytes: number;
}

export interface UploadRegistryOptions {
  /** Bytes of one trainable tensor (trainable parameters x 4): no uploaded tensor may be larger. */
  tensorBytes: number;
}

const WORKER_PART = '__worker__';

/** One upload in progress: add() each chunk as it arrives (an error ends the call), then finish(). */
export class UploadAssembly {
  private first: StateChunk__Output | undefined;
  private readonly parts = new Map<string, Buffer[]>();
  private readonly filled = new Map<string, number>();
  private bytes = 0;
  private ended = false;

  constructor(private readonly registry: UploadRegistry, private readonly tensorBytes: number) {}

  /** Takes one chunk (already checked by validate.ts); an error message naming the problem, or undefined. */
  add(c: StateChunk__Output): string | undefined {
    if (this.ended) return 'chunk after the last chunk of the upload';
    const first = this.first ??= c;
    if (c === first && !this.registry.requested(c.checkpointId)) return `checkpoint_id: no checkpoint '${c.checkpointId}' was requested`;
    if (c.checkpointId !== first.checkpointId || c.step !== first.step || c.workerId !== first.workerId)
      return `chunks of checkpoints ${first.checkpointId} (step ${first.step}) and ${c.checkpointId} (step ${c.step}) mixed in one upload`;
    const key = c.part === 'STATE_PART_WORKER' ? WORKER_PART : c.tensorName;
    const at = this.filled.get(key) ?? 0;
    if (c.offsetBytes !== at) return `tensor '${key}': chunk at byte ${c.offsetBytes}, expected ${at}`;
    const limit = key === WORKER_PART ? MAX_WORKER_STATE_BYTES : this.tensorBytes;
    if (at + c.data.length > limit) return `tensor '${key}': more than ${limit} bytes, the model's own size`;
    const list = this.parts.get(key) ?? [];
    list.push(c.data);
    this.parts.set(key, list);
    this.filled.set(key, at + c.data.length);
    this.bytes += c.data.length;
    if (c.lastOfUpload) this.ended = true;
    return undefined;
  }

  /** The whole upload, or an error message naming what is wrong with it. */
  finish(): UploadedState | string {
    const first = this.first;
    if (!first) return 'empty upload';
    if (!this.ended) return 'upload ended before its last chunk';
    const tensors = new Map<string, Float32Array>();
    let worker: unknown = undefined;
    for (const [key, list] of this.parts) {
      const buf = Buffer.concat(list);
      if (key === WORKER_PART) {
        try { worker = JSON.parse(buf.toString('utf8')); } catch { return 'worker state is not valid JSON'; }
        continue;
      }
      if (buf.length % 4 !== 0) return `tensor '${key}' has ${buf.length} bytes, not a whole number of float32`;
      const f = new Float32Array(buf.length / 4);
      new Uint8Array(f.buffer).set(buf);
      tensors.set(key, f);
    }
    return { workerId: first.workerId, rank: first.rank, step: first.step, tensors, worker, bytes: this.bytes };
  }
}

export class UploadRegistry {
  private readonly pending = new Map<string, { resolve: (s: UploadedState) => void; reject: (e: Error) => void }>();
  private readonly delivered = new Set<string>();

  constructor(private readonly o: UploadRegistryOptions) {}

  /** Resolves when the upload for `checkpointId` has fully arrived. */
  expect(checkpointId: string): Promise<UploadedState> {
    return new Promise((resolve, reject) => this.pending.set(checkpointId, { resolve, reject }));
  }

  /** The coordinator asked for this upload (and may still be waiting for it). */
  requested(checkpointId: string): boolean {
    return this.pending.has(checkpointId) || this.delivered.has(checkpointId);
  }

  begin(): UploadAssembly {
    return new UploadAssembly(this, this.o.tensorBytes);
  }

  deliver(checkpointId: string, state: UploadedState): boolean {
    const p = this.pending.get(checkpointId);
    // asked again after a regroup, the same rank may answer twice: the state is the same, the second is dropped
    if (!p) return this.delivered.has(checkpointId);
    this.pending.delete(checkpointId);
    this.delivered.add(checkpointId);
    p.resolve(state);
    return true;
  }

  failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
