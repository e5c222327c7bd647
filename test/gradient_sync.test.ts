import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { startLocalCluster } from '../coordinator/bench/local_ring.js';
import { Ring, type Peer } from '../worker/collective/ring.js';
import { GradientSync } from '../shared/training/gradient_sync.js';
import { GradientBuckets } from '../shared/training/gradient_buckets.js';
import { NoRingError } from '../shared/runtime/errors.js';
import { LossScaler } from '../shared/training/loss_scaler.js';
import type { ParamLayout } from '../shared/model/params.js';
import type { MaskSet } from '../shared/model/pruning_masks.js';

/** A ring of one never sends or receives: a transport that fails if used shows it is not. */
const noPeer: Peer = {
  send: () => Promise.reject(new Error('a ring of one sent a chunk')),
  receive: () => { throw new Error('a ring of one received'); },
  close: () => Promise.resolve(),
};
const ringOfOne = (wire: 'fp32' | 'fp16' = 'fp32'): Ring => new Ring(noPeer, { runId: 't', rank: 0, worldSize: 1, wire });

/** Two parameters of 4 and 3 elements. */
const layout: ParamLayout = (() => {
  const specs = [
    { name: 'a', shape: [4], hfShape: [4], transposed: false, size: 4, offset: 0, decay: true, initStd: 1 },
    { name: 'b', shape: [3], hfShape: [3], transposed: false, size: 3, offset: 4, decay: true, initStd: 1 },
  ];
  return { specs, byName: new Map(specs.map((s) => [s.name, s])), total: 7 };
})();
const gradient = (): Float32Array => Float32Array.of(0.5, -1.25, 3, 0.125, 7, -0.375, 1e-3);

test('gradient sync, one worker, fp32: the gradient comes back as it went, in place, with the loss', async () => {
  const scaler = LossScaler.initial('fp32', 1024, 100);
  const sync = new GradientSync({ size: layout.total, scaler, masks: { active: undefined }, maskLayout: layout });
  sync.ring = ringOfOne();
  const grad = gradient();
  const r = await sync.reduce(grad, 2.5, 0);
  assert.equal(r.grad, grad, 'the same buffer, not a copy');
  assert.deepEqual(r.grad, gradient());
  assert.equal(r.loss, 2.5);
  assert.equal(r.skip, undefined);
  assert.deepEqual(scaler.state, { scale: 1, goodSteps: 1 });
});

test('gradient sync, one worker: a non-finite gradient or loss skips the step; masks zero pruned gradients', async () => {
  const keepFirstAndLast: MaskSet = new Map([['a', Uint8Array.of(0b1001)], ['b', Uint8Array.of(0b110)]]);
  const scaler = LossScaler.initial('fp32', 1, 100);
  const sync = new GradientSync({ size: layout.total, scaler, masks: { active: keepFirstAndLast }, maskLayout: layout });
  sync.ring = ringOfOne();
  const nan = gradient();
  nan[5] = NaN;
  assert.equal((await sync.reduce(nan, 1, 0)).skip, true, 'NaN in the gradient');
  assert.equal((await sync.reduce(gradient(), Infinity, 1)).skip, true, 'an infinite loss');
  assert.deepEqual(scaler.state, { scale: 1, goodSteps: 0 });
  const r = await sync.reduce(gradient(), 1, 2);
  assert.deepEqual(r.grad, Float32Array.of(0.5, 0, 0, 0.125, 0, -0.375, 1e-3));
  // lora/qlora: no mask layout, the adapters' gradient stays dense
  const dense = new GradientSync({ size: layout.total, scaler, masks: { active: keepFirstAndLast }, maskLayout: undefined });
  dense.ring = ringOfOne();
  assert.deepEqual((await dense.reduce(gradient(), 1, 3)).grad, gradient());
});

test('gradient sync, one worker, fp16 scale 1024: scaled and unscaled (exact for these values), the scaler counts the step', async () => {
  const scaler = LossScaler.initial('fp16', 1024, 2);
  const sync = new GradientSync({ size: layout.total, scaler, masks: { active: undefined }, maskLayout: layout });
  sync.ring = ringOfOne('fp16');
  const r = await sync.reduce(gradient(), 3, 0);
  assert.deepEqual(r.grad, gradient());
  assert.equal(r.loss, 3);
  await sync.reduce(gradient(), 3, 1);
  assert.deepEqual(scaler.state, { scale: 2048, goodSteps: 0 }, 'doubled after the window of 2 good steps');
});

test('gradient sync, two workers over gRPC: both get the mean gradient and the mean loss', async (t) => {
  const cluster = await startLocalCluster(2, loadProtos());
  t.after(() => cluster.close());
  const rings = cluster.formRing([0, 1], { transport: 'grpc', timeoutMs: 10_000 });
  const syncs = rings.map((ring) => {
    const s = new GradientSync({ size: layout.total, scaler: LossScaler.initial('fp32', 1, 100), masks: { active: undefined }, maskLayout: layout });
    s.ring = ring;
    return s;
  });
  const grads = [gradient(), gradient().map((x) => x * 3)];
  const out = await Promise.all(syncs.map((s, r) => s.reduce(grads[r] as Float32Array, r === 0 ? 1 : 3, 0)));
  for (const o of out) {
    assert.deepEqual(o.grad, gradient().map((x) => x * 2), 'mean of g and 3g');
    assert.equal(o.loss, 2);
    assert.ok((o.ring?.bytesSent ?? 0) > 0, 'the ring figures go into the step record');
  }
});

test('gradient sync without a ring: a NoRingError naming the step', async () => {
  const sync = new GradientSync({ size: layout.total, scaler: LossScaler.initial('fp32', 1, 100), masks: { active: undefined }, maskLayout: layout });
  await assert.rejects(sync.reduce(gradient(), 1, 41), (e: unknown) => e instanceof NoRingError && /step 42/.test(e.message));
});

test('gradient sync, two workers, the gradient the tail of the fused buffer in shared memory (after the loss): reduced in place, bit for bit as with a copy (fp32 scale 1, fp16 scale 1024)', async (t) => {
  const cluster = await startLocalCluster(2, loadProtos());
  t.after(() => cluster.close());
  const g = (r: number): Float32Array => gradient().map((x, i) => x * (r + 1) + i * 1e-4 * (r + 1));
  for (const [epoch, [wire, scale]] of ([['fp32', 1], ['fp16', 1024]] as const).entries()) {
    const rings = cluster.formRing([0, 1], { transport: 'grpc', timeoutMs: 10_000, wire, epoch });
    const run = async (inPlace: boolean): Promise<Array<{ grad: Float32Array; loss: number; fused?: Float32Array }>> => Promise.all(rings.map(async (ring, r) => {
      const fused = new Float32Array(new SharedArrayBuffer((layout.total + 1) * 4));
      const s = new GradientSync({ size: layout.total, scaler: LossScaler.initial(wire, scale, 100), masks: { active: undefined }, maskLayout: layout, ...(inPlace ? { fused } : {}) });
      s.ring = ring;
      const grad = inPlace ? fused.subarray(1) : new Float32Array(layout.total);
      grad.set(g(r));
      const o = await s.reduce(grad, r + 1, inPlace ? 1 : 0);
      assert.equal(o.grad, grad, 'the gradient given, reduced in place');
      return { grad: Float32Array.from(o.grad), loss: o.loss, fused };
    }));
    const copied = await run(false);
    const inPlace = await run(true);
    for (const r of [0, 1]) {
      assert.deepEqual(inPlace[r]?.grad, copied[r]?.grad, `${wire}: rank ${r}'s gradient`);
      assert.equal(inPlace[r]?.loss, 1.5);
      assert.equal(inPlace[r]?.fused?.[0], 1.5, 'the loss rode in the shared buffer');
    }
    assert.notDeepEqual(copied[0]?.grad, g(0), 'the mean differs from rank 0\'s own gradient');
    await Promise.all(rings.map((ring) => ring.close()));
  }
  assert.throws(() => new GradientSync({ size: 7, scaler: LossScaler.initial('fp32', 1, 100), masks: { active: undefined }, maskLayout: layout, fused: new Float32Array(7) }), /fused has 7 elements, not size \+ 1 = 8/);
});

test('gradient buckets: cut from the end of the layout, whole parameters, the last one holds the loss; a counter reports each bucket once, when full', () => {
  const specs = [4, 3, 5, 2].map((size, i, all) => ({ name: `p${i}`, shape: [size], hfShape: [size], transposed: false, size,
    offset: all.slice(0, i).reduce((a, b) => a + b, 0), decay: true, initStd: 1 }));
  const four: ParamLayout = { specs, byName: new Map(specs.map((s) => [s.name, s])), total: 14 };
  // fused: [loss | p0 1..4 | p1 5..7 | p2 8..12 | p3 13..14]
  assert.deepEqual(new GradientBuckets(four, 0).buckets, [{ start: 0, end: 15 }], '0: one bucket');
  assert.deepEqual(new GradientBuckets(four, 24).buckets, [{ start: 8, end: 15 }, { start: 0, end: 8 }], '6 floats: p3+p2, then p1+p0 and the loss');
  assert.deepEqual(new GradientBuckets(four, 4).buckets, [{ start: 13, end: 15 }, { start: 8, end: 13 }, { start: 5, end: 8 }, { start: 0, end: 5 }]);
  const plan = new GradientBuckets(four, 24);
  const full: number[] = [];
  const done = plan.counter((b) => full.push(b));
  done(3); done(1);
  assert.deepEqual(full, []);
  done(2);
  assert.deepEqual(full, [0]);
  done(0);
  assert.deepEqual(full, [0, 1]);
  assert.throws(() => new GradientBuckets(four, -1), /bucket bytes must be an integer >= 0/);
});

test('gradient sync in buckets, two workers: each bucket reduced as it is reported full, before the compute phase ends; bit for bit one whole-buffer all-reduce', async (t) => {
  const cluster = await startLocalCluster(2, loadProtos());
  t.after(() => cluster.close());
  const g = (r: number): Float32Array => gradient().map((x, i) => x * (r + 1) + i * 1e-4 * (r + 1));
  const plan = new GradientBuckets(layout, 12).buckets;   // [b | a + loss]
  assert.equal(plan.length, 2);
  const run = async (epoch: number, buckets?: typeof plan): Promise<Array<{ fused: Float32Array; overlappedMs: number; reducedEarly: boolean }>> => {
    const rings = cluster.formRing([0, 1], { transport: 'tcp', timeoutMs: 10_000, epoch });
    const out = await Promise.all(rings.map(async (ring, r) => {
      const s = new GradientSync({ size: layout.total, scaler: LossScaler.initial('fp32', 1, 100), masks: { active: undefined }, maskLayout: layout, ...(buckets ? { buckets } : {}) });
      s.ring = ring;
      s.gradientView().set(g(r));
      // the compute phase ends only after bucket 0 came back reduced: proof that it went over the ring during it
      let endCompute: (loss: number) => void = () => undefined;
      const ended = new Promise<number>((resolve) => { endCompute = resolve; });
      let reducedEarly = false;
      const first = (buckets?.[0]?.start ?? 0);
      const watch = setInterval(() => {
        if (buckets && s.fused[first] !== g(r)[first - 1]) { reducedEarly = true; endCompute(r + 1); }
      }, 5);
      if (!buckets) endCompute(r + 1);
      t.after(() => clearInterval(watch));
      const o = await s.reduceAsComputed(0, { bucketFull: () => Promise.resolve(), ended });
      clearInterval(watch);
      assert.equal(o.loss, 1.5);
      return { fused: Float32Array.from(s.fused), overlappedMs: o.ring?.overlappedMs ?? 0, reducedEarly };
    }));
    await Promise.all(rings.map((ring) => ring.close()));
    return out;
  };
  const whole = await run(0);
  const bucketed = await run(1, plan);
  for (const r of [0, 1]) {
    assert.deepEqual(bucketed[r]?.fused, whole[r]?.fused, `rank ${r}: the same bits`);
    assert.equal(bucketed[r]?.reducedEarly, true, `rank ${r}: bucket 0 was reduced while computing`);
    assert.ok((bucketed[r]?.overlappedMs ?? 0) > 0);
    assert.equal(whole[r]?.overlappedMs, 0);
  }
});

test('ring: ranks that disagree on the bucket fail naming both buckets', async (t) => {
  const cluster = await startLocalCluster(2, loadProtos());
  t.after(() => cluster.close());
  const rings = cluster.formRing([0, 1], { transport: 'tcp', timeoutMs: 5_000 });
  const out = await Promise.allSettled(rings.map((ring, r) => ring.allReduceMean(new Float32Array(8).fill(1), { step: 3, bucket: r === 0 ? 2 : 1 })));
  const messages = out.map((o) => (o.status === 'rejected' ? String((o.reason as Error).message) : 'fulfilled'));
  assert.ok(messages.some((m) => /it is for bucket [12] of the gradient, this rank reduces bucket [12]/.test(m)), messages.join(' | '));
});
