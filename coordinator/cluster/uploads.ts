/** Worker state arriving for a checkpoint: chunks reassembled per tensor, matched to the request. */
import type { StateChunk__Output } from '../../proto/gen/dsi/v1/StateChunk.js';

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

export class UploadRegistry {
  private readonly pending = new Map<string, { resolve: (s: UploadedState) => void; reject: (e: Error) => void }>();
  private readonly delivered = new Set<string>();

  /** Resolves when the upload for `checkpointId` has fully arrived. */
  expect(checkpointId: string): Promise<UploadedState> {
    return new Promise((resolve, reject) => this.pending.set(checkpointId, { resolve, reject }));
  }

  /** Reassembles one complete upload; returns an error message naming the problem, or the state. */
  assemble(chunks: readonly StateChunk__Output[]): UploadedState | string {
    const first = chunks[0];
    if (!first) return 'empty upload';
    const parts = new Map<string, Buffer[]>();
    let worker: unknown = undefined, bytes = 0;
    for (const c of chunks) {
      if (c.checkpointId !== first.checkpointId) return `chunks of checkpoints ${first.checkpointId} and ${c.checkpointId} mixed in one upload`;
      const key = c.part === 'STATE_PART_WORKER' ? '__worker__' : c.tensorName;
      const list = parts.get(key) ?? [];
      const expected = list.reduce((n, b) => n + b.length, 0);
      if (c.offsetBytes !== expected) return `tensor '${key}': chunk at byte ${c.offsetBytes}, expected ${expected}`;
      list.push(c.data);
      parts.set(key, list);
      bytes += c.data.length;
    }
    if (!chunks.at(-1)?.lastOfUpload) return 'upload ended before its last chunk';
    const tensors = new Map<string, Float32Array>();
    for (const [key, list] of parts) {
      const buf = Buffer.concat(list);
      if (key === '__worker__') {
        try { worker = JSON.parse(buf.toString('utf8')); } catch { return 'worker state is not valid JSON'; }
        continue;
      }
      if (buf.length % 4 !== 0) return `tensor '${key}' has ${buf.length} bytes, not a whole number of float32`;
      const f = new Float32Array(buf.length / 4);
      new Uint8Array(f.buffer).set(buf);
      tensors.set(key, f);
    }
    return { workerId: first.workerId, rank: first.rank, step: first.step, tensors, worker, bytes };
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
