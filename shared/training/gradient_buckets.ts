/**
 * The all-reduce's buffer cut into buckets, as PyTorch DDP's gradient buckets: a bucket is reduced
 * across workers as soon as every gradient in it is final, while the backward pass computes the rest.
 *
 * The buffer (GradientSync's `fused`) is [loss, gradient in layout order]: element 0 is the worker's
 * loss, element 1 + p.offset.. its parameter p's gradient. Buckets are contiguous ranges of it, in the
 * order they are reduced: from the end of the layout (the decoder's last parameters, final first in the
 * backward pass) to its start (the shared embedding, read first in the forward pass, final last). The
 * last bucket also holds the loss, which is known once the compute phase ends. Every rank cuts the same
 * buckets from the same layout and size, and reduces them in this order.
 */
import type { ParamLayout } from '../model/params.js';

/** Elements [start, end) of the fused buffer. */
export interface Bucket {
  start: number;
  end: number;
}

export class GradientBuckets {
  /** In reduce order; the last one starts at 0 (the loss). */
  readonly buckets: Bucket[];
  /** Parameter (index into layout.specs) -> its bucket. */
  private readonly bucketOf: Int32Array;
  /** Parameters in each bucket. */
  private readonly sizes: Int32Array;

  /**
   * `bucketBytes`: a bucket closes once it holds at least this many bytes of float32 gradient (one
   * parameter is never split); 0: one bucket, the whole buffer, reduced after the compute phase.
   */
  constructor(layout: ParamLayout, bucketBytes: number) {
    if (!Number.isInteger(bucketBytes) || bucketBytes < 0) throw new RangeError(`bucket bytes must be an integer >= 0, got ${bucketBytes}`);
    const { specs } = layout;
    this.bucketOf = new Int32Array(specs.length);
    const buckets: Bucket[] = [];
    const sizes: number[] = [];
    const limit = bucketBytes === 0 ? Infinity : bucketBytes / 4;
    let end = layout.total + 1, elements = 0, members = 0;
    for (let i = specs.length - 1; i >= 0; i--) {
      const spec = specs[i] as (typeof specs)[number];
      this.bucketOf[i] = buckets.length;
      elements += spec.size;
      members += 1;
      if (elements >= limit && i > 0) {
        const start = 1 + spec.offset;
        buckets.push({ start, end });
        sizes.push(members);
        end = start;
        elements = 0;
        members = 0;
      }
    }
    buckets.push({ start: 0, end });   // the rest of the layout, and the loss
    sizes.push(members);
    this.buckets = buckets;
    this.sizes = Int32Array.from(sizes);
  }

  /**
   * A counter for one compute phase: tell it each parameter whose gradient is final (each once); it
   * calls `onFull(b)` when bucket b has all of its own. The last bucket waits for the loss as well:
   * the caller reduces it after the compute phase, whatever the counter said.
   */
  counter(onFull: (bucket: number) => void): (param: number) => void {
    const left = Int32Array.from(this.sizes);
    return (param) => {
      const b = this.bucketOf[param] as number;
      left[b] = (left[b] as number) - 1;
      if (left[b] === 0) onFull(b);
    };
  }
}
