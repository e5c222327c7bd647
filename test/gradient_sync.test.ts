import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { startLocalCluster } from '../coordinator/bench/local_ring.js';
import { Ring, type Peer } from '../worker/collective/ring.js';
import { GradientSync } from '../shared/training/gradient_sync.js';
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

test('gradient sync, two workers, the gradient the head of the fused buffer in shared memory: reduced in place, bit for bit as with a copy (fp32 scale 1, fp16 scale 1024)', async (t) => {
  const cluster = await startLocalCluster(2, loadProtos());
  t.after(() => cluster.close());
  const g = (r: number): Float32Array => gradient().map((x, i) => x * (r + 1) + i * 1e-4 * (r + 1));
  for (const [epoch, [wire, scale]] of ([['fp32', 1], ['fp16', 1024]] as const).entries()) {
    const rings = cluster.formRing([0, 1], { transport: 'grpc', timeoutMs: 10_000, wire, epoch });
    const run = async (inPlace: boolean): Promise<Array<{ grad: Float32Array; loss: number; fused?: Float32Array }>> => Promise.all(rings.map(async (ring, r) => {
      const fused = new Float32Array(new SharedArrayBuffer((layout.total + 1) * 4));
      const s = new GradientSync({ size: layout.total, scaler: LossScaler.initial(wire, scale, 100), masks: { active: undefined }, maskLayout: layout, ...(inPlace ? { fused } : {}) });
      s.ring = ring;
      const grad = inPlace ? fused.subarray(0, layout.total) : new Float32Array(layout.total);
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
      assert.equal(inPlace[r]?.fused?.[layout.total], 1.5, 'the loss rode in the shared buffer');
    }
    assert.notDeepEqual(copied[0]?.grad, g(0), 'the mean differs from rank 0\'s own gradient');
    await Promise.all(rings.map((ring) => ring.close()));
  }
  assert.throws(() => new GradientSync({ size: 7, scaler: LossScaler.initial('fp32', 1, 100), masks: { active: undefined }, maskLayout: layout, fused: new Float32Array(7) }), /fused has 7 elements, not size \+ 1 = 8/);
});
