/**
 * Mutual TLS with a CA made by openssl in the test: the ring's data plane over both transports, and
 * a whole run (coordinator gRPC, workers' gRPC, raw TCP). A certificate from another CA is refused
 * everywhere, even holding the ring's secret, and every failed handshake is logged (peer, reason)
 * and counted: on the coordinator in /metrics, on a worker in what it reports with each step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import type { TlsMaterial } from '../shared/runtime/security.js';
import { CollectiveServer } from '../worker/collective/grpc_peer.js';
import { createPeer, TRANSPORTS } from '../worker/collective/peers.js';
import { Ring } from '../worker/collective/ring.js';
import { frame, FRAME_KIND, preamble } from '../worker/collective/tcp_frames.js';
import { LogWatcher } from './run_cli.js';
import { makeCa, makeCert, type CertFiles } from './tls_certs.js';

const protos = loadProtos();

function certs(t: { after(fn: () => void): void }): { dir: string; node: CertFiles; rogue: CertFiles } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa(dir, 'run'), other = makeCa(dir, 'other');
  return { dir, node: makeCert(dir, 'node', ca), rogue: makeCert(dir, 'rogue', other) };
}

function material(f: CertFiles, ca = f.ca): TlsMaterial {
  return { cert: readFileSync(f.cert), key: readFileSync(f.key), ca: readFileSync(ca) };
}

/** Connects with `m` to a ring TLS listener and sends a well-formed open; what came back and how it ended. */
async function rawTls(port: number, m: TlsMaterial, open: Buffer): Promise<{ bytes: number; error: string }> {
  const socket = tls.connect({ host: '127.0.0.1', port, cert: m.cert, key: m.key, ca: m.ca });
  let bytes = 0, error = '';
  socket.on('data', (b: Buffer) => { bytes += b.length; });
  socket.on('error', (e) => { error = e.message; });
  socket.once('secureConnect', () => socket.write(Buffer.concat([preamble(), open])));
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { bytes, error };
}

for (const transport of TRANSPORTS) {
  test(`${transport} over mutual TLS: the ring all-reduces; a peer whose certificate comes from another CA is refused though it holds the ring's secret`, { timeout: 60_000 }, async (t) => {
    const { node, rogue } = certs(t);
    const good = material(node), bad = material(rogue, node.ca);   // the rogue trusts the run's CA; the run does not trust its CA
    const [s0, s1] = await Promise.all([0, 1].map(() => CollectiveServer.start({ protos, tls: good })));
    const intruder = await CollectiveServer.start({ protos, tls: bad });
    t.after(async () => { for (const s of [s0, s1, intruder]) await s?.close(); });
    const runId = `tls-${transport}`, secret = randomBytes(32);
    const addresses = [s0?.address ?? '', s1?.address ?? ''];
    const p0 = createPeer(transport, { server: s0 as CollectiveServer, runId, rank: 0, addresses, ringSecret: secret });
    // the intruder, with the secret, dials rank 0 as its right neighbour: the TLS handshake refuses it
    const stranger = createPeer(transport, { server: intruder, runId, rank: 1, addresses: [addresses[0] ?? '', intruder.address], ringSecret: secret });
    t.after(() => stranger.close());
    const refused = await stranger.receive().next().then(() => '', (e: Error) => e.message);
    assert.ok(refused !== '', 'the stranger received nothing');
    const handshakes = s0?.refused.tlsHandshakes ?? 0;
    assert.ok(handshakes >= 1, 'rank 0 counted the failed handshake on its gRPC port');
    if (transport === 'tcp') {
      // the raw listener itself: a TLS client with the other CA's certificate never gets an answer to its open
      const open = frame(FRAME_KIND.RELAY_REQUEST, protos.grpc.dsi.v1.Collective.service.Relay.requestSerialize({ open: { runId, ringEpoch: 0, receiverRank: 1, ringSecret: secret } }));
      // (had it been accepted, it would be rank 0's right neighbour now and the members' all-reduce below would fail)
      const raw = await rawTls(s0?.tcp.port ?? 0, bad, open);
      assert.equal(raw.bytes, 0, `answered: ${raw.error}`);
      assert.ok((s0?.refused.tlsHandshakes ?? 0) > handshakes, 'rank 0 counted the failed handshake on its raw-TCP port');
    }
    const p1 = createPeer(transport, { server: s1 as CollectiveServer, runId, rank: 1, addresses, ringSecret: secret });
    const rings = [new Ring(p0, { runId, rank: 0, worldSize: 2, timeoutMs: 10_000 }), new Ring(p1, { runId, rank: 1, worldSize: 2, timeoutMs: 10_000 })];
    t.after(async () => { for (const r of rings) await r.close(); });
    const n = 300_001;
    const bufs = rings.map((_, rank) => Float32Array.from({ length: n }, (_, i) => rank * 4 + (i % 3)));
    await Promise.all(rings.map((r, rank) => r.allReduceMean(bufs[rank] as Float32Array, { step: 0 })));
    const want = Float32Array.from({ length: n }, (_, i) => 2 + (i % 3));
    for (const b of bufs) assert.deepEqual(b, want);
  });
}

for (const transport of TRANSPORTS) {
  test(`${transport} over mutual TLS with certificates that name only dsi-cluster (no address): each side checks that name (--tls-server-name), as in Kubernetes`, { timeout: 60_000 }, async (t) => {
    const { dir } = certs(t);
    const ca = makeCa(dir, 'pods');
    const named = makeCert(dir, 'pod', ca, 'DNS:dsi-cluster');
    const m = { ...material(named), serverName: 'dsi-cluster' };
    const servers = await Promise.all([0, 1].map(() => CollectiveServer.start({ protos, tls: m })));
    t.after(async () => { for (const s of servers) await s.close(); });
    const runId = `named-${transport}`, secret = randomBytes(32), addresses = servers.map((s) => s.address);
    const rings = servers.map((server, rank) => new Ring(createPeer(transport, { server, runId, rank, addresses, ringSecret: secret }), { runId, rank, worldSize: 2, timeoutMs: 10_000 }));
    t.after(async () => { for (const r of rings) await r.close(); });
    const bufs = rings.map((_, rank) => Float32Array.from({ length: 1001 }, () => rank));
    await Promise.all(rings.map((r, rank) => r.allReduceMean(bufs[rank] as Float32Array, { step: 0 })));
    for (const b of bufs) assert.deepEqual(b, new Float32Array(1001).fill(0.5));
    // without the name override the same certificates do not match 127.0.0.1: refused
    const plain = await CollectiveServer.start({ protos, tls: material(named) });
    t.after(() => plain.close());
    const p = createPeer(transport, { server: plain, runId: 'x', rank: 1, addresses: [addresses[0] ?? '', plain.address], ringSecret: secret });
    t.after(() => p.close());
    assert.notEqual(await p.receive().next().then(() => '', (e: Error) => e.message), '');
  });
}

test('a run over mutual TLS (coordinator gRPC, workers\' gRPC, raw-TCP ring) trains; a worker with a certificate from another CA cannot join and exits non-zero', { timeout: 180_000 }, async (t) => {
  const { dir, node, rogue } = certs(t);
  const tlsArgs = (f: CertFiles): string[] => ['--tls-cert', f.cert, '--tls-key', f.key, '--tls-ca', f.ca];
  const coordinator = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js'), 'start', '--workers', '2', '--steps', '6', '--batch-size', '8',
    '--checkpoint-every', '2', '--max-queries', '4', '--no-nats', '--json', '--log-level', 'info', '--run-dir', path.join(dir, 'run'), ...tlsArgs(node)], { cwd: REPO_ROOT });
  t.after(() => coordinator.kill('SIGKILL'));
  const log = new LogWatcher(coordinator);
  let stdout = '';
  coordinator.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  const done = new Promise<number | null>((resolve) => coordinator.on('exit', resolve));
  const address = String((await log.until((l) => l.msg === 'coordinator listening'))['address']);
  const metricsUrl = String((await log.until((l) => l.msg.startsWith('serving /metrics')))['metrics']);
  const worker = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'worker', 'cli.js'), '--coordinator', address, '--worker-id', 'rogue', '--join-timeout-ms', '3000', '--no-nats', ...tlsArgs(rogue)], { cwd: REPO_ROOT });
  let stderr = '';
  worker.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const code = await new Promise<number | null>((resolve) => worker.on('exit', resolve));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /cannot reach the coordinator at 127\.0\.0\.1:\d+ within 3000 ms/);
  // the coordinator logged the failed handshake (who, why; no key material) and counted it
  const refusedLine = await log.until((l) => l.msg === 'TLS handshake refused');
  assert.match(String(refusedLine['peer']), /^127\.0\.0\.1:\d+$/);
  assert.match(String(refusedLine['reason']), /^[A-Z0-9_]+$/);
  assert.doesNotMatch(JSON.stringify(refusedLine), /PRIVATE KEY|BEGIN CERTIFICATE/);
  const metrics = await (await fetch(metricsUrl)).text();   // the workers are still starting: the run goes on for seconds
  assert.match(metrics, /^dsi_coordinator_refused_calls_total\{method="TLS",reason="[A-Z0-9_]+"\} [1-9]\d*$/m);
  assert.equal(await done, 0, log.lines.slice(-5).map((l) => JSON.stringify(l)).join('\n'));
  const summary = JSON.parse(stdout) as { steps: number; final_world_size: number };
  assert.deepEqual([summary.steps, summary.final_world_size], [6, 2]);
});
