/**
 * The outgoing side of one all-reduce: chunks leave in the order they were pushed, at most `depth` of
 * them handed to the transport at once (the pipelining depth). A job builds its chunk only when it is
 * its turn, so encoding chunk k+1 overlaps the network moving chunk k, and nothing is encoded early.
 */
import type { OutgoingChunk } from './ring.js';

export interface SendQueueOptions {
  /** The transport: resolves when it is done with the chunk's bytes. */
  send: (chunk: OutgoingChunk) => Promise<void>;
  /** Chunks in the transport at once. */
  depth: number;
  /** Longest time one chunk may stay in the transport. */
  timeoutMs: number;
  /** The error for a chunk that stayed too long (it names the right neighbour and the step). */
  timeoutError: (chunk: OutgoingChunk) => Error;
  /** Wraps a transport failure (naming the right neighbour and the step). */
  sendError: (chunk: OutgoingChunk, cause: unknown) => Error;
}

export class SendQueue {
  private readonly jobs: Array<() => OutgoingChunk> = [];
  private next = 0;
  private inFlight = 0;
  private error: Error | undefined;
  private idle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private failListeners: Array<(e: Error) => void> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Wire bytes the transport has taken. */
  bytesSent = 0;

  constructor(private readonly options: SendQueueOptions) {}

  push(job: () => OutgoingChunk): void {
    this.jobs.push(job);
    this.pump();
  }

  /** Rejects with the first failure; never resolves otherwise. */
  failed(): Promise<never> {
    return new Promise<never>((_, reject) => {
      if (this.error) reject(this.error);
      else this.failListeners.push(reject);
    });
  }

  /** Resolves when every pushed chunk has left; rejects with the first failure. */
  drain(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => { this.idle = { resolve, reject }; });
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.next === this.jobs.length;
  }

  private pump(): void {
    const { send, depth, timeoutMs, timeoutError, sendError } = this.options;
    while (!this.error && this.inFlight < depth && this.next < this.jobs.length) {
      const job = this.jobs[this.next] as () => OutgoingChunk; // next < jobs.length
      this.next++;
      let chunk: OutgoingChunk;
      try {
        chunk = job();
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      this.inFlight++;
      const timer = setTimeout(() => this.fail(timeoutError(chunk)), timeoutMs);
      this.timers.add(timer);
      send(chunk).then(
        () => {
          clearTimeout(timer);
          this.timers.delete(timer);
          this.inFlight--;
          this.bytesSent += chunk.data.byteLength;
          this.pump();
          if (this.isIdle() && this.idle) {
            this.idle.resolve();
            this.idle = undefined;
          }
        },
        (e: unknown) => {
          this.fail(sendError(chunk, e));
        },
      );
    }
    if (this.next === this.jobs.length && this.next > 0 && this.inFlight === 0) {
      // everything left: drop the finished jobs so a long run does not keep them
      this.jobs.length = 0;
      this.next = 0;
    }
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    for (const t of this.timers) clearTimeout(t); // the ring is failing: no later timeouts
    this.timers.clear();
    for (const reject of this.failListeners) reject(e);
    this.failListeners = [];
    this.idle?.reject(e);
    this.idle = undefined;
  }
}
