/**
 * The coordinator's side of a lost worker, over real gRPC (Membership behind its service, clients
 * that Join, hold Control streams and heartbeat): who is dropped, what the survivors are told, which
 * messages are stale, that a dropped worker is no member until it re-joins, and that a survivor that stays silent cannot
 * hang the regroup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { createLogger } from '../shared/runtime/log.js';
import { PROTOCOL_VERSION } from '../shared/training/cluster_plan.js';
import type { CoordinatorClient } from '../proto/gen/dsi/v1/Coordinator.js';
import type { ControlMessage__Output } from '../proto/gen/dsi/v1/ControlMessage.js';
import type { HeartbeatRequest } from '../proto/gen/dsi/v1/HeartbeatRequest.js';
import { Membership } from '../coordinator/cluster/membership.js';
import { RingBroken } from '../coordinator/cluster/errors.js';
import { coordinatorHandlers } from '../coordinator/cluster/service.js';
import { UploadRegistry } from '../coordinator/cluster/uploads.js';

/** Exit code and stderr of the built `worker` executable. */
async function workerCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'worker', 'cli.js'), ...args], { cwd: REPO_ROOT, env: { ...process.env, DSI_LOG_LEVEL: 'info' } });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  return { code, stderr };
}

const RUN = 'run-el', HASH = 'ab'.repeat(32), RING_TIMEOUT_MS = 300, HEARTBEAT_MS = 50;

async function until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A Membership behind its real gRPC service, and clients that joined as `ids` and hold Control streams. */
async function cluster(
  t: { after(fn: () => void): void }, ids: string[], minWorkers: number, microBatches: number, maxStepMs = 0,
  o: { livenessTimeoutMs?: number; joinEveryMs?: number } = {},
) {
  const log = createLogger({ level: 'silent' });
  const members = new Membership({
    runId: RUN, worldSize: ids.length, minWorkers, microBatches, modelConfigHash: HASH, plan: {}, startStep: 0,
    heartbeatMs: HEARTBEAT_MS, livenessTimeoutMs: o.livenessTimeoutMs ?? 60_000, wire: 'fp32', chunkBytes: 1 << 20, ringTimeoutMs: RING_TIMEOUT_MS, maxStepMs, log,
  });
  const protos = loadProtos();
  const server = new grpc.Server();
  server.addService(protos.grpc.dsi.v1.Coordinator.service, coordinatorHandlers(members, new UploadRegistry({ tensorBytes: 1 << 20 }), log, { maxStep: 1000 }));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.after(() => server.forceShutdown());
  const client = new protos.grpc.dsi.v1.Coordinator(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as CoordinatorClient;
  t.after(() => client.close());

  // each worker's membership secret from its JoinReply: every later call carries it
  const secrets = new Map<string, Buffer>();
  const join = (workerId: string, deadlineMs = 5_000): Promise<grpc.ServiceError | null> => new Promise((resolve) => {
    client.join({ workerId, address: `127.0.0.1:${40000 + Number(workerId.slice(1))}`, modelConfigHash: HASH, backend: 'cpu', protocolVersion: PROTOCOL_VERSION },
      { deadline: Date.now() + deadlineMs }, (e, r) => { if (r) secrets.set(workerId, r.memberSecret); resolve(e); });
  });
  const heartbeat = (req: Omit<HeartbeatRequest, 'runId' | 'lossScale'>): Promise<grpc.ServiceError | null> => new Promise((resolve) => {
    client.heartbeat({ runId: RUN, lossScale: 1, memberSecret: secrets.get(String(req.workerId)), ...req }, { deadline: Date.now() + 5_000 }, (e) => resolve(e));
  });
  // each Join is answered once all have joined; joinEveryMs: they arrive that far apart
  const joins = ids.map((id, i) => new Promise((r) => setTimeout(r, i * (o.joinEveryMs ?? 0))).then(() => join(id)));
  assert.deepEqual(await Promise.all(joins), ids.map(() => null));
  const inbox = new Map<string, ControlMessage__Output[]>();
  const controls = ids.map((workerId) => {
    const call = client.control({ runId: RUN, workerId, memberSecret: secrets.get(workerId) });
    inbox.set(workerId, []);
    call.on('data', (m: ControlMessage__Output) => inbox.get(workerId)?.push(m));
    call.on('error', () => undefined);   // cancelled by the tests
    return call;
  });
  t.after(() => { for (const c of controls) c.cancel(); });
  await members.ready(5_000);
  return { members, join, heartbeat, inbox, controls, address: `127.0.0.1:${port}` };
}

test('lost worker: dropped by a silent-neighbour report, survivors get a new ring at the interrupted step, stale heartbeats ignored, the dropped worker held at Join (not a member), a silent survivor cannot hang the regroup', { timeout: 30_000 }, async (t) => {
  const ids = ['w0', 'w1', 'w2'];
  const { members, join, heartbeat, inbox, controls, address } = await cluster(t, ids, 2, 12);
  const rankOf = (id: string): number | undefined => members.members.get(id)?.rank;
  assert.deepEqual(ids.map(rankOf), [0, 1, 2]);

  // step 1 in flight: w0 finished it (its all-reduce completed), w1 heard nothing from rank 2 for the ring timeout
  members.startStep(0);
  const waiting = assert.rejects(members.waitForStep(1), RingBroken);   // awaited below, handled from now on
  assert.equal(await heartbeat({ workerId: 'w0', rank: 0, step: 1, ringEpoch: 0 }), null);
  assert.equal(await heartbeat({ workerId: 'w1', rank: 1, step: 0, ringEpoch: 0, ringFailure: { neighbourRank: 2, timedOut: true, reason: 'step 0: rank 2 did not answer within 300 ms' } }), null);
  await waiting;
  assert.equal(members.lost.length, 0);   // judged once the others have settled: it may have been waiting on a dead rank itself

  // w2 never reports and everyone else has settled: dropped at once (not after the ring timeout);
  // the survivors get a new epoch, ranks 0..1, and the step to redo (w0 rolls its applied step back)
  const t1 = Date.now();
  assert.equal(await members.regroup(0), true);
  assert.ok(Date.now() - t1 < RING_TIMEOUT_MS, `regroup took ${Date.now() - t1} ms`);
  assert.deepEqual(members.lost.map((l) => [l.workerId, l.rank, l.step, l.worldSize]), [['w2', 2, 1, 2]]);
  assert.match(members.lost[0]?.reason ?? '', /rank 1 \(w1\) heard nothing from it for 300 ms/);
  await until('w2 told it was dropped', () => inbox.get('w2')?.some((m) => m.stop?.reason.startsWith('dropped: ')) === true);
  assert.equal(members.ringEpoch, 1);
  await until('the new ring on both Control streams', () => ['w0', 'w1'].every((id) => inbox.get(id)?.at(-1)?.ring?.ringEpoch === 1));
  for (const [id, rank] of [['w0', 0], ['w1', 1]] as const) {
    const ring = inbox.get(id)?.at(-1)?.ring;
    assert.deepEqual([ring?.rank, ring?.step, ring?.addresses.length], [rank, 0, 2], id);
  }
  // a heartbeat of the old ring (w0's step 1 of epoch 0, arriving late) does not count for the redo
  assert.equal(await heartbeat({ workerId: 'w0', rank: 0, step: 1, ringEpoch: 0 }), null);
  assert.equal(members.members.get('w0')?.step, 0);

  // the dropped worker is no member now (its calls are refused by name and step) but may join again:
  // its Join is held until a step boundary; a third worker beyond the run's size is turned away
  const hb = await heartbeat({ workerId: 'w2', rank: 2, step: 0, ringEpoch: 1 });
  assert.equal(hb?.code, grpc.status.NOT_FOUND);
  assert.match(hb?.details ?? '', /'w2' was dropped from run run-el at step 1/);
  const again = join('w2', 60_000);   // held while a worker process starts below (seconds on a loaded machine)
  await until('w2 held', () => members.joinersDue().map((m) => m.workerId).join() === 'w2');
  assert.match((await join('w9'))?.details ?? '', /run run-el is under way with its 3 workers \(2 in the ring, 1 joining\)/);
  // the real worker executable, turned away this way (a pod beyond the run's size), exits 0: the run does not need it
  const refused = await workerCli(['--coordinator', address, '--worker-id', 'w9', '--no-nats', '--backend', 'cpu']);
  assert.equal(refused.code, 0, refused.stderr);
  assert.match(refused.stderr, /not needed by the run: exiting 0/);
  // the run ends before a step boundary lets w2 in: its Join is answered with why
  members.refuseJoiners('the run is finishing');
  assert.match((await again)?.details ?? '', /worker 'w2' cannot join: the run is finishing/);

  // w0's Control stream ends; w1 neither finishes nor reports: the regroup drops it after the ring timeout, below minWorkers
  members.startStep(0);
  controls[0]?.cancel();
  await until('w0 lost', () => members.lost.length === 2);
  const t0 = Date.now();
  assert.equal(await members.regroup(0), false);
  const took = Date.now() - t0;
  assert.ok(took >= RING_TIMEOUT_MS && took < RING_TIMEOUT_MS + 2 * HEARTBEAT_MS + 1_000, `regroup took ${took} ms`);
  assert.deepEqual(members.lost.map((l) => l.workerId), ['w2', 'w0', 'w1']);
  assert.match(members.lost[2]?.reason ?? '', /neither finished step 1 nor reported a ring failure within 400 ms/);
});

test('a ring must divide the global batch: of 3 survivors of 4 with 8 micro-batches, 2 go on and the third is released', { timeout: 30_000 }, async (t) => {
  const ids = ['w0', 'w1', 'w2', 'w3'];
  const { members, inbox, controls } = await cluster(t, ids, 2, 8);
  controls[1]?.cancel();   // between steps: nothing in flight
  await until('w1 lost', () => members.lost.length === 1);
  assert.equal(await members.regroup(0), true);
  assert.deepEqual(members.ordered().map((m) => [m.rank, m.workerId]), [[0, 'w0'], [1, 'w2']]);
  await until('w3 released', () => inbox.get('w3')?.some((m) => m.stop?.reason.startsWith('released: 2 workers split the global batch, 3 survived')) === true);
  for (const id of ['w0', 'w2']) {
    await until(`the new ring on ${id}'s Control stream`, () => inbox.get(id)?.at(-1)?.ring?.ringEpoch === 1);
    assert.equal(inbox.get(id)?.at(-1)?.ring?.addresses.length, 2);
  }
});

test('a slow survivor: named by a neighbour\'s ring timeout but heartbeating from inside its step, it is waited for (not dropped) and joins the new ring; past cluster.maxStepMs it is dropped', { timeout: 30_000 }, async (t) => {
  const { members, heartbeat, inbox } = await cluster(t, ['w0', 'w1'], 1, 2, 2_000);
  members.startStep(0);
  const waiting = assert.rejects(members.waitForStep(1), RingBroken);
  // w1 computes step 1 for long: its main thread heartbeats "computing" meanwhile
  const computing = { workerId: 'w1', rank: 1, step: 0, ringEpoch: 0, progress: { step: 1, phase: 'STEP_PHASE_COMPUTE' as const, elapsedMs: 1_500 } };
  assert.equal(await heartbeat(computing), null);
  const beats = setInterval(() => void heartbeat(computing), HEARTBEAT_MS);
  t.after(() => clearInterval(beats));
  // w0 waited for w1's chunks for the ring timeout and names it silent
  assert.equal(await heartbeat({ workerId: 'w0', rank: 0, step: 0, ringEpoch: 0, ringFailure: { neighbourRank: 1, timedOut: true, reason: 'step 0: rank 1 did not answer within 300 ms' } }), null);
  await waiting;
  const settleMs = RING_TIMEOUT_MS + 2 * HEARTBEAT_MS;
  // past the settle time w1 ends its step: its all-reduce fails (w0 left the ring), and it says so
  setTimeout(() => {
    clearInterval(beats);
    void heartbeat({ ...computing, progress: { step: 1, phase: 'STEP_PHASE_REDUCE', elapsedMs: 300 }, ringFailure: { neighbourRank: 0, timedOut: true, reason: 'step 0: rank 0 did not answer within 300 ms' } });
  }, settleMs + 400);
  const t0 = Date.now();
  assert.equal(await members.regroup(0), true);
  const took = Date.now() - t0;
  assert.ok(took > settleMs + 300, `regroup took ${took} ms: it did not wait for the working rank`);
  assert.equal(members.lost.length, 0, JSON.stringify(members.lost));
  assert.deepEqual(members.ordered().map((m) => [m.rank, m.workerId]), [[0, 'w0'], [1, 'w1']]);
  await until('the new ring on w1\'s Control stream', () => inbox.get('w1')?.at(-1)?.ring?.ringEpoch === 1);

  // in the new ring w1 is inside step 1 again: under cluster.maxStepMs (2 s) it stays, past it it is dropped
  members.startStep(0);
  const broken = assert.rejects(members.waitForStep(1), RingBroken);
  assert.equal(await heartbeat({ ...computing, ringEpoch: 1, progress: { step: 1, phase: 'STEP_PHASE_COMPUTE', elapsedMs: 1_900 } }), null);
  members.checkLiveness();
  assert.equal(members.lost.length, 0, JSON.stringify(members.lost));
  assert.equal(await heartbeat({ ...computing, ringEpoch: 1, progress: { step: 1, phase: 'STEP_PHASE_COMPUTE', elapsedMs: 2_100 } }), null);
  members.checkLiveness();
  assert.deepEqual(members.lost.map((l) => l.workerId), ['w1']);
  assert.match(members.lost[0]?.reason ?? '', /^computing step 1 for 2100 ms, past cluster\.maxStepMs \(2000 ms\): it answers, but its step does not end$/);
  await broken;
});

test('an early joiner waits for the last one without heartbeats (its JoinReply has not come): its liveness clock starts when the ring forms', { timeout: 30_000 }, async (t) => {
  // w0 joins 3 s before w1, with a liveness timeout of 1.5 s (room for a loaded machine between the ring and the check)
  const { members } = await cluster(t, ['w0', 'w1'], 1, 2, 0, { livenessTimeoutMs: 1_500, joinEveryMs: 3_000 });
  members.checkLiveness();
  await new Promise((r) => setImmediate(r));   // silence is judged after a turn of I/O
  assert.equal(members.lost.length, 0, JSON.stringify(members.lost));
  assert.equal(members.members.size, 2);
});
