import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { RingClosedError, RingProtocolError, RingTimeoutError } from '../worker/collective/errors.js';
import { startLocalCluster } from '../coordinator/bench/local_ring.js';
import { TRANSPORTS } from '../worker/collective/peers.js';
import type { AllReduceResult, Ring } from '../worker/collective/ring.js';
import { ProcessRing, type RingProcess as RingProcessHandle } from '../coordinator/bench/ring_cluster.js';
import { f16BitsToNumber, f32BitsToBf16, f32BitsToF16, type WireName, wireErrorBound } from '../worker/collective/wire.js';

const protos = loadProtos();
/** Small chunks, so that even short test buffers are cut into many unequal chunks. */
const CHUNK_BYTES = 16 * 1024;
/** Odd, and prime to the chunk size: segments and chunks of unequal lengths. */
const N_ELEMENTS = 100_003;
/** Values r * 1000 + (i % 1009): integers below 2^24, so the mean of 2 or 4 ranks is exact in fp32. */
const exactInput = (rank: number, n = N_ELEMENTS): Float32Array => Float32Array.from({ length: n }, (_, i) => rank * 1000 + (i % 1009));
const exactMean = (ranks: number[], n = N_ELEMENTS): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => ranks.reduce((s, r) => s + r * 1000, 0) / ranks.length + (i % 1009));

/** Deterministic values in roughly [-2, 2] (mulberry32). */
function randomInput(seed: number, n: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) - 0.5) * 4;
  });
}

/** v survives a round trip through the wire format unchanged. */
function representable(wire: 'fp16' | 'bf16', v: number): boolean {
  const bits = new Uint32Array(Float32Array.of(v).buffer)[0] as number;
  if (wire === 'fp16') return f16BitsToNumber(f32BitsToF16(bits)) === v;
  return ((f32BitsToBf16(bits) << 16) >>> 0) === bits;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const allReduce = (rings: Ring[], inputs: Float32Array[], step: number, wire?: WireName): Promise<AllReduceResult[]> =>
  Promise.all(rings.map((ring, r) => ring.allReduceMean(inputs[r] as Float32Array, { step, wire })));

for (const transport of TRANSPORTS) {
  for (const world of [2, 4]) {
    test(`${transport} ring in one process, world ${world}: odd length, every rank ends with the exact fp32 mean`, async (t) => {
      const cluster = await startLocalCluster(world, protos);
      t.after(() => cluster.close());
      const rings = cluster.formRing(range(world), { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000 });
      const inputs = range(world).map((r) => exactInput(r));
      const results = await allReduce(rings, inputs, 1);
      const expected = exactMean(range(world));
      for (let r = 0; r < world; r++) {
        assert.deepEqual(inputs[r], expected, `rank ${r}`);
        assert.equal(results[r]?.overflow, false);
        const moved = (2 * (world - 1) * N_ELEMENTS * 4) / world; // 2(N-1)/N of the buffer each way
        assert.ok(Math.abs((results[r]?.bytesSent ?? 0) - moved) <= 8 * world, `rank ${r} sent ${results[r]?.bytesSent} bytes, expected ~${moved}`);
      }
      // the same ring again, next step: streams are reused across all-reduces
      const again = range(world).map((r) => exactInput(world - 1 - r));
      await allReduce(rings, again, 2);
      for (const out of again) assert.deepEqual(out, expected);
    });
  }

  test(`${transport}: world size 1 is a no-op that still reports non-finite values`, async (t) => {
    const cluster = await startLocalCluster(1, protos);
    t.after(() => cluster.close());
    const [ring] = cluster.formRing([0], { transport }) as [Ring];
    const x = Float32Array.of(1.5, -2, 3);
    const result = await ring.allReduceMean(x, { step: 0 });
    assert.equal(result.overflow, false);
    assert.equal(result.bytesSent + result.bytesReceived, 0);
    assert.deepEqual(x, Float32Array.of(1.5, -2, 3));
    assert.equal((await ring.allReduceMean(Float32Array.of(1, NaN), { step: 1 })).overflow, true);
  });

  for (const wire of ['fp16', 'bf16'] as const) {
    test(`${transport}: ${wire} wire: mean within the stated bound, identical on every rank, values representable in ${wire}`, async (t) => {
      const world = 4;
      const n = 20_011;
      const cluster = await startLocalCluster(world, protos);
      t.after(() => cluster.close());
      const rings = cluster.formRing(range(world), { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000, wire });
      const inputs = range(world).map((r) => randomInput(r + 1, n));
      const exact = Float64Array.from({ length: n }, (_, i) => inputs.reduce((s, x) => s + (x[i] as number), 0) / world);
      const maxAbs = Math.max(...inputs.map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
      const bound = wireErrorBound(wire, world, maxAbs);
      await allReduce(rings, inputs, 3);
      let maxErr = 0;
      for (let i = 0; i < n; i++) {
        const v = inputs[0]?.[i] as number;
        for (let r = 1; r < world; r++) assert.equal(inputs[r]?.[i], v, `rank ${r} differs from rank 0 at [${i}]`);
        assert.ok(representable(wire, v), `[${i}] = ${v} is not a ${wire} value`);
        maxErr = Math.max(maxErr, Math.abs(v - (exact[i] as number)));
      }
      assert.ok(maxErr <= bound, `max error ${maxErr} > stated bound ${bound}`);
      assert.ok(maxErr > 0, 'no rounding at all: the values did not travel as ' + wire);
    });
  }

  test(`${transport}: overflow: an Infinity at one rank gives the same flag on every rank; the flag is per call`, async (t) => {
    const world = 4;
    const cluster = await startLocalCluster(world, protos);
    t.after(() => cluster.close());
    const rings = cluster.formRing(range(world), { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000 });
    const inputs = range(world).map((r) => exactInput(r, 5_003));
    (inputs[2] as Float32Array)[4_999] = Infinity; // one element of one rank
    assert.deepEqual((await allReduce(rings, inputs, 10)).map((r) => r.overflow), [true, true, true, true]);
    const clean = range(world).map((r) => exactInput(r, 5_003));
    assert.deepEqual((await allReduce(rings, clean, 11)).map((r) => r.overflow), [false, false, false, false]);
    // finite in fp32 but past fp16's 65504 once summed: the fp16 wire overflows, every rank says so
    const big = range(world).map(() => new Float32Array(5_003).fill(40_000));
    assert.deepEqual((await allReduce(rings, big, 12, 'fp16')).map((r) => r.overflow), [true, true, true, true]);
  });

  test(`${transport}: a chunk of the wrong length is rejected, naming the sending rank and the step`, async (t) => {
    const cluster = await startLocalCluster(2, protos);
    t.after(() => cluster.close());
    const rings = cluster.formRing([0, 1], { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000 });
    // rank 1's buffer has two more elements: its segments are one element longer than rank 0 expects
    const outcomes = await Promise.allSettled([
      rings[0]?.allReduceMean(new Float32Array(1_000), { step: 7 }),
      rings[1]?.allReduceMean(new Float32Array(1_002), { step: 7 }),
    ]);
    const errors = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error) : undefined));
    for (const e of errors) assert.match(String(e?.message), /step 7: .*rank [01]/);
    const protocol = errors.filter((e): e is RingProtocolError => e instanceof RingProtocolError);
    assert.ok(protocol.length >= 1, `no RingProtocolError among ${errors.map(String).join(' | ')}`);
    for (const e of protocol) {
      assert.equal(e.step, 7);
      assert.match(e.message, /has 50[01] elements, expected 50[01]/);
    }
    const fromRank1 = protocol.find((e) => e.rank === 1);
    if (fromRank1) assert.match(fromRank1.message, /chunk from rank 1 rejected: reduce-scatter hop 0 segment 1 chunk 0 has 501 elements, expected 500/);
    // the ring is unusable afterwards, and says why
    await assert.rejects(rings[0]?.allReduceMean(new Float32Array(1_000), { step: 8 }) ?? Promise.resolve(), RingClosedError);
  });

  test(`${transport}: ranks at different steps or wire formats are rejected with both in the message`, async (t) => {
    const cluster = await startLocalCluster(4, protos);
    t.after(() => cluster.close());
    const [a, b] = cluster.formRing([0, 1], { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000, epoch: 0 }) as [Ring, Ring];
    const [s0] = await Promise.allSettled([a.allReduceMean(new Float32Array(64), { step: 3 }), b.allReduceMean(new Float32Array(64), { step: 4 })]);
    assert.equal(s0.status, 'rejected');
    assert.match(String((s0 as PromiseRejectedResult).reason), /step 3: chunk from rank 1 rejected: it is for step 4, this rank is at step 3|step 3: rank 1: /);
    const [c, d] = cluster.formRing([2, 3], { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000, epoch: 0, runId: 'other' }) as [Ring, Ring];
    const [w0] = await Promise.allSettled([c.allReduceMean(new Float32Array(64), { step: 5 }), d.allReduceMean(new Float32Array(64), { step: 5, wire: 'fp16' })]);
    assert.match(String((w0 as PromiseRejectedResult).reason), /step 5: chunk from rank 1 rejected: wire format fp16, expected fp32|step 5: rank 1: /);
  });

  test(`${transport}: a silent peer times out with RingTimeoutError naming its rank and the step`, async (t) => {
    const cluster = await startLocalCluster(3, protos);
    t.after(() => cluster.close());
    const rings = cluster.formRing([0, 1, 2], { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 300 });
    // rank 2 is up (its server answers) but never enters the all-reduce: hung, as far as the ring can tell
    const [r0, r1] = await Promise.allSettled([0, 1].map((r) => rings[r]?.allReduceMean(exactInput(r, 3_001), { step: 5 })));
    assert.equal(r0?.status, 'rejected');
    const e0 = (r0 as PromiseRejectedResult).reason as unknown;
    assert.ok(e0 instanceof RingTimeoutError, `rank 0 got ${String(e0)}`);
    assert.equal(e0.rank, 2);
    assert.equal(e0.step, 5);
    assert.match(e0.message, /step 5: rank 2 did not answer within 300 ms \(waiting for reduce-scatter hop 0 segment 2 chunk 0\)/);
    // rank 1 fails too (its own timeout, or rank 0's abort which carries the cause)
    assert.equal(r1?.status, 'rejected');
    assert.match(String((r1 as PromiseRejectedResult).reason), /step 5: rank [02]/);
  });

  test(`${transport}: a ring re-forms with another membership on the same servers, without restarting them`, async (t) => {
    const cluster = await startLocalCluster(4, protos);
    t.after(() => cluster.close());
    const addresses = cluster.servers.map((s) => s.address);
    const first = cluster.formRing([0, 1, 2, 3], { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000, epoch: 0 });
    const inputs = range(4).map((r) => exactInput(r));
    await allReduce(first, inputs, 1);
    for (const out of inputs) assert.deepEqual(out, exactMean([0, 1, 2, 3]));
    await Promise.all(first.map((r) => r.close()));
    // server 2 leaves; ranks 0, 1, 3 form epoch 1: means of three, exact because the sum is 3 * (i % 1009) + 3000
    const second = cluster.formRing([0, 1, 3], { transport, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000, epoch: 1 });
    const three = [0, 1, 2].map((r) => exactInput(r));
    await allReduce(second, three, 2);
    for (const out of three) assert.deepEqual(out, exactMean([0, 1, 2]));
    assert.deepEqual(cluster.servers.map((s) => s.address), addresses);
    await assert.rejects(first[0]?.allReduceMean(exactInput(0), { step: 3 }) ?? Promise.resolve(), RingClosedError);
  });

  for (const world of [2, 4]) {
    test(`${transport}: separate OS processes, world ${world}: exact fp32 mean of an odd-length buffer, same overflow flag everywhere`, async (t) => {
      const ring = await ProcessRing.start({ transport, worldSize: world, runId: `proc-${world}`, chunkBytes: CHUNK_BYTES, timeoutMs: 10_000 });
      t.after(() => ring.close());
      const pids = new Set(ring.processes.map((p) => p.child.pid));
      assert.equal(pids.size, world);
      const results = await ring.allReduceMean(range(world).map((r) => exactInput(r)), 1, 'fp32');
      const expected = exactMean(range(world));
      for (const [r, res] of results.entries()) {
        assert.deepEqual(res.output, expected, `rank ${r}`);
        assert.equal(res.overflow, false);
      }
      const withInf = range(world).map((r) => exactInput(r, 999));
      (withInf[world - 1] as Float32Array)[0] = -Infinity;
      const flags = (await ring.allReduceMean(withInf, 2, 'bf16')).map((r) => r.overflow);
      assert.deepEqual(flags, range(world).map(() => true));
    });
  }

  test(`${transport}: a worker process killed mid-run is named by both of its neighbours at once, not after a timeout`, async (t) => {
    const ring = await ProcessRing.start({ transport, worldSize: 3, runId: 'killed', chunkBytes: CHUNK_BYTES, timeoutMs: 20_000 });
    t.after(() => ring.close());
    const [p0, p1, p2] = ring.processes as [RingProcessHandle, RingProcessHandle, RingProcessHandle];
    await ring.allReduceMean([0, 1, 2].map((r) => exactInput(r, 5_000)), 0, 'fp32'); // all links up
    const exited = new Promise((resolve) => p1.child.once('exit', resolve));
    p1.kill();
    await exited;
    const started = performance.now();
    const outcomes = await Promise.allSettled([p0, p2].map((p, i) =>
      p.request({ type: 'allreduce', step: 1, wire: 'fp32', input: exactInput(2 * i, 5_000) })));
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      const e = (o as PromiseRejectedResult).reason as Error;
      assert.notEqual(e.name, 'RingTimeoutError', e.message);
      assert.match(e.message, /step 1: .*rank 1\b/);
    }
    assert.ok(performance.now() - started < 20_000 / 2, 'the failure should not wait for the timeout');
  });
}
