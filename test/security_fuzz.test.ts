/**
 * Hostile input against a running training, seeded: malformed and forged messages to every
 * endpoint a stranger on the network can reach (the coordinator's gRPC methods, a worker's gRPC
 * Collective service and raw-TCP data port, the NATS step subjects, the dashboard's HTTP API). The
 * run must neither crash nor hang, accept none of it, keep its memory bounded and end with exactly
 * the weights of the same run without the fuzzing. "Bounded": the coordinator's RSS, sampled every
 * second, never exceeds the highest it reached during warm-up (its first two checkpoints: state
 * uploads have been buffered and freed) by more than RSS_GROWTH_MB from then to its exit; the run
 * checkpoints every CHECKPOINT_EVERY steps so that memory kept per checkpoint or per message (each
 * ~60 MB state upload, the fuzzing's traffic) shows.
 *
 * DSI_FUZZ_COUNT messages per endpoint (default FUZZ_COUNT, sized for CI; the issue's 10,000 is
 * `DSI_FUZZ_COUNT=10000 DSI_FUZZ_STEPS=120`), DSI_FUZZ_SEED the seed, DSI_FUZZ_STEPS the run's
 * length; they, and how much was sent while the run trained, are printed as test diagnostics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect } from 'nats';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { Rng } from '../shared/runtime/random.js';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { readSafetensors } from '../shared/model/safetensors.js';
import type { CoordinatorClient } from '../proto/gen/dsi/v1/Coordinator.js';
import type { CollectiveClient } from '../proto/gen/dsi/v1/Collective.js';
import { frame, frameHeader, preamble, FRAME_KIND } from '../worker/collective/tcp_frames.js';
import { cli, LogWatcher } from './run_cli.js';

const FUZZ_COUNT = 300;
const COUNT = Number(process.env['DSI_FUZZ_COUNT'] ?? FUZZ_COUNT);
const SEED = Number(process.env['DSI_FUZZ_SEED'] ?? 15);
/** Steps of the fuzzed run (and of its unfuzzed twin): enough for the fuzzing to land while it trains. */
const STEPS = Number(process.env['DSI_FUZZ_STEPS'] ?? 16);
/** Messages in flight per endpoint. */
const IN_FLIGHT = 16;
/**
 * Longest a single hostile exchange may take before the test calls it a hang. Generous: a worker's
 * event loop is busy for a whole forward/backward (seconds on a loaded machine) before it answers.
 */
const EXCHANGE_MS = 30_000;
/** Checkpoint cadence of both runs: often, so that memory kept per checkpoint adds up within the test. */
const CHECKPOINT_EVERY = 2;
/**
 * Growth of the coordinator's RSS allowed over its warm-up high. A state upload's buffers (~60 MB
 * for t5-tiny, several copies in flight) come and go with every checkpoint and RSS swings by ~150
 * MB with them (glibc returns freed memory lazily), hence a high, not a sample, as the base; a
 * state kept per checkpoint (the leak this bound caught, through a Promise.race) exceeds it within
 * three checkpoints.
 */
const RSS_GROWTH_MB = 128;
/** Checkpoints of the warm-up. */
const WARM_UP_CHECKPOINTS = 2;
/**
 * The fuzzed run's processes get a V8 heap of this size at most: what they were sent must be
 * collectable garbage, or they die of it. (RSS alone proves little: V8 grows its heap lazily, and
 * 10,000 messages per endpoint are ~1 GB of traffic; RSS is printed.)
 */
const MAX_HEAP_MB = 384;
const RUN = ['--workers', '2', '--steps', String(STEPS), '--batch-size', '8', '--lr', '1e-3', '--warmup-steps', '2', '--checkpoint-every', String(CHECKPOINT_EVERY), '--log-every', '1', '--max-queries', '4', '--json'];
const protos = loadProtos();

/** Helpers that draw hostile values from one seeded generator. */
class Hostile {
  constructor(readonly rng: Rng) {}
  int(n: number): number { return this.rng.nextUint32() % n; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)] as T; }
  bytes(max: number): Buffer { const b = Buffer.alloc(this.int(max + 1)); for (let i = 0; i < b.length; i++) b[i] = this.int(256); return b; }
  /** Numbers a well-behaved sender never sends. */
  number(): number { return this.pick([0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 32 - 1, 2 ** 31, 1e300, -1e-300, this.int(1e9)]); }
  string(): string {
    return this.pick(['', 'a'.repeat(200), 'x'.repeat(5000), '<img src=x onerror=alert(1)>', '../../etc/passwd', 'w\u0000id', '\ud800', 'local-000', 'dsi.*.>', '🦀'.repeat(100), this.bytes(64).toString('latin1')]);
  }
}

async function pool(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < count) await work(next++);
  }));
}

/** `p`, or a failure naming `what` after EXCHANGE_MS: a hostile message must not hang its receiver's answer. */
function bounded<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${EXCHANGE_MS} ms`)), EXCHANGE_MS); })]).finally(() => clearTimeout(timer));
}

/** A client that sends raw bytes to any method of `service` (its messages need not decode). */
function rawClient(address: string, service: string, methods: Record<string, { req: boolean; res: boolean }>): grpc.Client & Record<string, (...a: unknown[]) => unknown> {
  const id = (b: Buffer): Buffer => b;
  const def: grpc.ServiceDefinition = Object.fromEntries(Object.entries(methods).map(([m, s]) => [m, {
    path: `/${service}/${m}`, requestStream: s.req, responseStream: s.res, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
  }]));
  const Ctor = grpc.makeGenericClientConstructor(def, service);
  return new Ctor(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
}

/** One hostile call to the Coordinator service; resolves 'accepted' only if the coordinator took it. */
function coordinatorMessage(h: Hostile, typed: CoordinatorClient, raw: ReturnType<typeof rawClient>, ids: { runId: string; workers: string[] }): Promise<string> {
  const opts = (): grpc.CallOptions => ({ deadline: Date.now() + 2_000 });
  const done = (resolve: (s: string) => void) => (e: grpc.ServiceError | null): void => resolve(e ? grpc.status[e.code] ?? 'error' : 'accepted');
  const workerId = h.pick([...ids.workers, h.string()]), runId = h.pick([ids.runId, h.string()]), secret = h.pick([randomBytes(32), h.bytes(80)]);
  return new Promise((resolve) => {
    switch (h.int(6)) {
      case 0: {   // bytes that may not decode, to any method
        const method = h.pick(['Join', 'Heartbeat', 'Leave']);
        (raw[method] as (b: Buffer, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void)(h.bytes(4096), opts(), done(resolve));
        break;
      }
      case 1: typed.join({ workerId: h.string(), address: h.string(), modelConfigHash: h.string(), backend: h.string(), protocolVersion: h.number(), joinToken: h.string() }, opts(), done(resolve)); break;
      case 2: typed.heartbeat({
        runId, workerId, rank: h.number(), step: h.number(), ringEpoch: h.number(), paramChecksum: h.string(), lossScale: h.number(), memberSecret: secret,
        metrics: { loss: h.number(), stepMs: h.number(), samples: h.number(), rssBytes: h.number() }, ringFailure: { neighbourRank: h.number(), timedOut: true, reason: h.string() },
      }, opts(), done(resolve)); break;
      case 3: typed.leave({ runId, workerId, reason: h.string(), memberSecret: secret }, opts(), done(resolve)); break;
      case 4: {
        const call = typed.uploadState(opts(), done(resolve));
        for (let i = h.int(4); i >= 0; i--) call.write({
          runId, checkpointId: h.pick([`${ids.runId}-checkpoint-8`, h.string()]), workerId, rank: h.number(), step: h.number(), part: h.pick(['STATE_PART_WEIGHTS', 'STATE_PART_WORKER', 'STATE_PART_OPTIMIZER']),
          tensorName: h.pick(['params', h.string()]), shape: [h.number()], offsetBytes: h.number(), data: h.bytes(64 << 10), lastChunk: h.int(2) === 0, lastOfUpload: h.int(2) === 0, memberSecret: secret,
        });
        call.end();
        break;
      }
      default: {
        const call = typed.control({ runId, workerId, rank: h.number(), memberSecret: secret }, opts());
        call.on('data', () => { call.cancel(); resolve('accepted'); });
        call.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code] ?? 'error'));
      }
    }
  });
}

/** One hostile exchange with a worker's raw-TCP ring listener: resolves with the bytes it answered. */
function tcpMessage(h: Hostile, port: number, runId: string): Promise<number> {
  const open = (secret: Buffer): Buffer => frame(FRAME_KIND.RELAY_REQUEST, protos.grpc.dsi.v1.Collective.service.Relay.requestSerialize({ open: { runId, ringEpoch: 0, receiverRank: h.int(3), ringSecret: secret } }));
  const bad = preamble();
  bad.writeUInt32LE(2 + h.int(100), 4);
  const bytes = h.pick([
    () => h.bytes(2048),                                                                  // not a ring peer at all
    () => bad,                                                                            // another framing version
    () => Buffer.concat([preamble(), frameHeader(FRAME_KIND.RELAY_REQUEST, 2 ** 32 - 1)]),   // oversized frame
    () => Buffer.concat([preamble(), frameHeader(h.pick([0, 2, 3, 9, 255]) as never, 4), h.bytes(4)]), // kinds this side must not take
    () => Buffer.concat([preamble(), frame(FRAME_KIND.RELAY_REQUEST, h.bytes(300))]),     // a payload that may not decode
    () => Buffer.concat([preamble(), open(h.pick([randomBytes(32), Buffer.alloc(0), h.bytes(100)]))]),   // the real run and epoch, a guessed secret
    () => Buffer.concat([preamble(), open(randomBytes(32))]).subarray(0, 8 + h.int(20)),   // truncated
  ])();
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answered = 0;
    socket.on('data', (b: Buffer) => { answered += b.length; });
    socket.on('error', () => undefined);
    socket.once('connect', () => socket.end(bytes));
    socket.once('close', () => resolve(answered));
  });
}

/** One hostile call to a worker's Collective gRPC service: a Relay, raw bytes, or the TcpEndpoint lookup with guessed credentials. */
function collectiveMessage(h: Hostile, typed: CollectiveClient, raw: ReturnType<typeof rawClient>, runId: string): Promise<string> {
  return new Promise((resolve) => {
    const kind = h.int(3);
    if (kind === 2) {
      const ask = { runId: h.pick([runId, h.string()]), ringEpoch: h.pick([0, 1, h.number()]), ringSecret: h.pick([randomBytes(32), h.bytes(80)]) };
      typed.TcpEndpoint(ask, { deadline: Date.now() + 2_000 }, (e, r) => resolve(e ? grpc.status[e.code] ?? 'error' : `accepted: port ${r?.port}`));
    } else if (kind === 0) {
      const call = typed.Relay();
      call.on('data', () => { call.cancel(); resolve('accepted'); });
      call.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code] ?? 'error'));
      call.on('end', () => resolve('ended'));
      call.write(h.int(3) === 0 ? { abort: { reason: h.string() } } : { open: { runId: h.pick([runId, h.string()]), ringEpoch: h.pick([0, h.number()]), receiverRank: h.number(), ringSecret: h.bytes(40) } });
      call.end();
    } else {
      const call = (raw['Relay'] as (o: grpc.CallOptions) => grpc.ClientDuplexStream<Buffer, Buffer>)({ deadline: Date.now() + 2_000 });
      call.on('data', () => { call.cancel(); resolve('accepted'); });
      call.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code] ?? 'error'));
      call.on('end', () => resolve('ended'));
      call.write(h.bytes(1024));
      call.end();
    }
  });
}

/** A NATS step message on the run's subject that no joined worker sent. */
function natsPayload(h: Hostile, runId: string): Uint8Array {
  const forged = {
    v: 1, type: 'step', runId, rank: h.pick([2, 7, 4095, -1, 1.5]), workerId: h.pick(['<script>alert(1)</script>', 'local-000', h.string()]), step: h.number(),
    startedAtMs: h.number(), stepMs: h.number(), phasesMs: { data: h.number(), forwardBackward: 1, waiting: 1, allReduce: 1, optimizer: 1 },
    samplesPerSec: 1, tokensPerSec: 1, samples: h.number(), tokens: h.number(), loss: 1, gradNorm: 1, skipped: false, bytesSent: h.number(), lossScale: 1, sparsity: null, rssBytes: 1, tensorBytes: 1,
  };
  return h.pick([() => h.bytes(512), () => Buffer.from(JSON.stringify(forged)), () => Buffer.from(JSON.stringify({ ...forged, rank: 0, workerId: 'intruder' })), () => Buffer.from('{"v":1,"type":"step"')])();
}

/** The coordinator's RSS after warm-up never exceeds its warm-up high by more than RSS_GROWTH_MB. */
function assertMemoryBounded(t: { diagnostic: (s: string) => void }, samples: MemorySample[], fuzzedUntil: number): void {
  const highest = (xs: MemorySample[]): MemorySample | undefined => xs.reduce<MemorySample | undefined>((a, m) => (a && a.rss >= m.rss ? a : m), undefined);
  const warm = highest(samples.filter((m) => m.checkpoints >= 1 && m.checkpoints <= WARM_UP_CHECKPOINTS));
  const after = samples.filter((m) => m.checkpoints > WARM_UP_CHECKPOINTS);
  const peak = highest(after), last = after.at(-1);
  assert.ok(warm && peak && last, `no memory samples during or after warm-up (${samples.length} samples)`);
  const series = samples.filter((m, i) => m.checkpoints >= 1 && m.checkpoints !== samples[i - 1]?.checkpoints).map((m) => `${m.checkpoints}:${m.rss}/${m.external}`).join(' ');
  t.diagnostic(`coordinator memory, MiB: RSS warm-up high ${warm.rss} (checkpoints 1-${WARM_UP_CHECKPOINTS}), then peak ${peak.rss} (at ${peak.second} s, ${peak.checkpoints} checkpoints), ${last.rss} at ${last.second} s (${last.checkpoints} checkpoints; fuzzed until ${fuzzedUntil} s); external ${last.external}; heap used ${last.heapUsed} (limit ${MAX_HEAP_MB}); at each checkpoint, checkpoints:RSS/external: ${series}`);
  assert.ok(last.checkpoints >= WARM_UP_CHECKPOINTS + 3, `only ${last.checkpoints - WARM_UP_CHECKPOINTS} checkpoints sampled after warm-up: too few to show memory bounded`);
  assert.ok(peak.rss - warm.rss <= RSS_GROWTH_MB, `the coordinator's RSS rose ${peak.rss - warm.rss} MiB over its warm-up high (at most ${RSS_GROWTH_MB}): ${series}`);
}

async function weights(checkpoint: string): Promise<Float32Array[]> {
  const { tensors } = await readSafetensors(path.join(checkpoint, 'model.safetensors'));
  return [...tensors.values()].map((t) => t.data as Float32Array);
}

/** A figure of a /metrics page, in MiB. */
function mibOf(metrics: string, name: string): number {
  return Math.round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN) / 2 ** 20);
}

interface MemorySample { second: number; checkpoints: number; rss: number; external: number; heapUsed: number }

/**
 * Samples the coordinator's memory (its /metrics) every second until stopped: RSS, V8 external
 * memory (Buffers, typed arrays: where uploaded state lives) and heap in use.
 */
function sampleMemory(metricsUrl: string, init: RequestInit, checkpoints: () => number): { samples: MemorySample[]; stop: () => void } {
  const samples: MemorySample[] = [];
  const t0 = performance.now();
  const timer = setInterval(() => {
    void fetch(metricsUrl, init).then((r) => r.text()).then((m) => {
      samples.push({ second: Math.round((performance.now() - t0) / 1000), checkpoints: checkpoints(), rss: mibOf(m, 'process_resident_memory_bytes'), external: mibOf(m, 'nodejs_external_memory_bytes'), heapUsed: mibOf(m, 'nodejs_heap_size_used_bytes') });
    }, () => undefined);   // the coordinator is busy or gone: the next sample will tell
  }, 1000);
  return { samples, stop: () => clearInterval(timer) };
}

test(`fuzz: ${COUNT} hostile messages per endpoint (seed ${SEED}) against a running training: no crash, no hang, nothing accepted, memory bounded, the weights of an unfuzzed run`, { timeout: 600_000 + STEPS * 10_000 + COUNT * 100 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = path.join(dir, 'join-token'), metricsFile = path.join(dir, 'metrics-token');
  writeFileSync(tokenFile, randomBytes(24).toString('base64'));
  const metricsToken = randomBytes(24).toString('hex');
  writeFileSync(metricsFile, metricsToken);
  const common = [...RUN, '--join-token-file', tokenFile, '--metrics-token-file', metricsFile];

  const ref = await cli(['start', ...common, '--run-dir', path.join(dir, 'ref')]);
  assert.equal(ref.code, 0, ref.stderr.slice(-2000));

  const coordinator = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js'), 'start', ...common, '--run-dir', path.join(dir, 'fuzzed'), '--log-level', 'info'],
    { cwd: REPO_ROOT, env: { ...process.env, NODE_OPTIONS: `--max-old-space-size=${MAX_HEAP_MB}` } });   // the workers inherit it
  t.after(() => coordinator.kill('SIGKILL'));
  const log = new LogWatcher(coordinator);
  let stdout = '';
  coordinator.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  let running = true;
  const exited = new Promise<number | null>((resolve) => coordinator.on('exit', (code) => { running = false; resolve(code); }));
  const listening = await log.until((l) => l.msg === 'coordinator listening');
  const address = String(listening['address']), runId = String(listening['runId']);
  const metricsUrl = String((await log.until((l) => l.msg.startsWith('serving /metrics')))['metrics']);
  const natsUrl = String((await log.until((l) => l.msg.startsWith('started a local nats-server')))['url']);
  const ring = (await log.until((l) => l.msg === 'ring formed'))['ring'] as string[];
  const workers = ring.map((r) => /^\d+:([^@]+)@/.exec(r)?.[1] ?? '');
  const workerAddress = /@(.+)$/.exec(ring[1] ?? '')?.[1] ?? '';
  // its raw-TCP port from its own log: TcpEndpoint answers only the ring's members
  const tcpPort = Number((await log.until((l) => l.msg === 'joined' && l['workerId'] === workers[1]))['ringPort']);
  await log.until((l) => l.msg === 'step' && l['step'] === 1);
  const auth = { headers: { authorization: `Bearer ${metricsToken}` } };
  const memory = sampleMemory(metricsUrl, auth, () => log.lines.filter((l) => l.msg === 'checkpoint written').length);
  t.after(() => memory.stop());

  const typed = new protos.grpc.dsi.v1.Coordinator(address, grpc.credentials.createInsecure()) as CoordinatorClient;
  const raw = rawClient(address, 'dsi.v1.Coordinator', { Join: { req: false, res: false }, Heartbeat: { req: false, res: false }, Leave: { req: false, res: false } });
  const collective = new protos.grpc.dsi.v1.Collective(workerAddress, grpc.credentials.createInsecure()) as CollectiveClient;
  const rawCollective = rawClient(workerAddress, 'dsi.v1.Collective', { Relay: { req: true, res: true } });
  t.after(() => { for (const c of [typed, raw, collective, rawCollective]) c.close(); });
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());

  const sentLive: Record<string, number> = {};
  const outcomes: Record<string, Record<string, number>> = {};
  const slowest: Record<string, number> = {};
  const timed = async <T>(endpoint: string, p: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    try { return await p(); } finally { slowest[endpoint] = Math.max(slowest[endpoint] ?? 0, Math.round(performance.now() - s)); }
  };
  const count = (endpoint: string, outcome: string): void => {
    const o = outcomes[endpoint] ??= {};
    o[outcome] = (o[outcome] ?? 0) + 1;
    if (running) sentLive[endpoint] = (sentLive[endpoint] ?? 0) + 1;
  };
  const t0 = performance.now();
  const endpoints: Record<string, (h: Hostile) => Promise<void>> = {
    'coordinator gRPC': async (h) => count('coordinator gRPC', await timed('coordinator gRPC', () => bounded('coordinator', coordinatorMessage(h, typed, raw, { runId, workers })))),
    'worker gRPC': async (h) => count('worker gRPC', await timed('worker gRPC', () => bounded('worker gRPC', collectiveMessage(h, collective, rawCollective, runId)))),
    'worker raw TCP': async (h) => count('worker raw TCP', (await timed('worker raw TCP', () => bounded('worker TCP', tcpMessage(h, tcpPort, runId)))) > 0 ? 'answered' : 'closed'),
    'NATS step subjects': async (h) => { nc.publish(`dsi.${runId}.worker.${h.pick(['0', '1', '7', '*', 'x'])}.step`, natsPayload(h, runId)); count('NATS step subjects', 'published'); },
    'dashboard API': async (h) => {
      const res = await bounded('dashboard', fetch(`${metricsUrl.replace(/\/metrics$/, '')}${h.pick(['/', '/api/workers', '/metrics', '/dashboard.js', `/${encodeURIComponent(h.string().replace(/[\ud800-\udfff]/g, '').slice(0, 100))}`, '/?token=x'])}`, {
        method: h.pick(['GET', 'POST', 'DELETE', 'OPTIONS']), redirect: 'manual',
        headers: h.pick<Record<string, string>>([{}, { authorization: `Bearer ${h.string().replace(/[^\x20-\x7e]/g, '')}` }, { cookie: `dsi_metrics_token=${h.pick(['%E0%A4%A', '%', encodeURIComponent(h.string().replace(/[\ud800-\udfff]/g, ''))])}` }]),
      }).catch((e: Error) => ({ status: `fetch failed: ${e.message}` })));
      count('dashboard API', String(res.status));
    },
  };
  await Promise.all(Object.entries(endpoints).map(([name, send], k) => {
    const h = new Hostile(new Rng(SEED * 31 + k));
    return pool(COUNT, () => send(h));
  }));
  await nc.flush();
  const seconds = (performance.now() - t0) / 1000;
  const metrics = running ? await (await fetch(metricsUrl, auth)).text() : '';
  const fuzzedUntil = memory.samples.at(-1)?.second ?? 0;
  t.diagnostic(`seed ${SEED}, ${COUNT} messages per endpoint in ${seconds.toFixed(1)} s; sent while the run trained: ${JSON.stringify(sentLive)}`);
  t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}; slowest exchange (ms): ${JSON.stringify(slowest)}`);

  // nothing hostile was taken
  assert.equal(outcomes['coordinator gRPC']?.['accepted'] ?? 0, 0, 'a hostile coordinator call was accepted');
  assert.equal(outcomes['worker gRPC']?.['accepted'] ?? 0, 0, 'a hostile Relay received chunks');
  assert.deepEqual(Object.keys(outcomes['worker gRPC'] ?? {}).filter((o) => o.startsWith('accepted')), [], 'a TcpEndpoint lookup without the ring secret learned the port');
  for (const [status] of Object.entries(outcomes['dashboard API'] ?? {})) assert.ok(!/^5|fetch failed/.test(status), `dashboard answered ${status}`);
  if (metrics) {
    const ranks = new Set([...metrics.matchAll(/dsi_worker_steps_total\{rank="([^"]+)"\}/g)].map((m) => m[1]));
    assert.deepEqual([...ranks].sort(), ['0', '1'], 'NATS created no ranks');
  }
  // the run went on, within its heap limit: it ends normally with exactly the unfuzzed weights
  assert.equal(await exited, 0, log.lines.slice(-5).map((l) => JSON.stringify(l)).join('\n'));
  memory.stop();
  assertMemoryBounded(t, memory.samples, fuzzedUntil);
  const summary = JSON.parse(stdout) as { checkpoint: string; steps: number; final_world_size: number };
  assert.deepEqual([summary.steps, summary.final_world_size], [STEPS, 2]);
  const [got, want] = [await weights(summary.checkpoint), await weights((JSON.parse(ref.stdout) as { checkpoint: string }).checkpoint)];
  got.forEach((w, i) => assert.deepEqual(w, want[i], `tensor ${i} differs from the unfuzzed run`));
});
