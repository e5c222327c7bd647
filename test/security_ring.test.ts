/**
 * The ring's data plane admits only the ring's members: a Relay (gRPC) or raw-TCP connection must
 * carry the ring's secret, and so must the lookup of a worker's raw-TCP port (TcpEndpoint). Real
 * servers and sockets: intruders that connect before the ring forms and after it formed are
 * refused, and the members' all-reduce goes on unharmed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { CollectiveClient } from '../proto/gen/dsi/v1/Collective.js';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { CollectiveServer } from '../worker/collective/grpc_peer.js';
import { createPeer, TRANSPORTS } from '../worker/collective/peers.js';
import { Ring } from '../worker/collective/ring.js';
import { MAX_PARKED_PER_RING } from '../worker/collective/relay_registry.js';

const protos = loadProtos();

/** The first receive of `peer` fails; its error's message. */
async function refusal(peer: ReturnType<typeof createPeer>): Promise<string> {
  const e = await peer.receive().next().then((r) => new Error(`received ${JSON.stringify(r).slice(0, 80)}`), (x: Error) => x);
  return e.message;
}

for (const transport of TRANSPORTS) {
  test(`${transport}: a ring peer without the ring's secret cannot connect to a worker's data port, before or after the ring forms; the members all-reduce as usual`, { timeout: 30_000 }, async (t) => {
    const [s0, s1, intruder] = await Promise.all([0, 1, 2].map(() => CollectiveServer.start({ protos })));
    t.after(async () => { for (const s of [s0, s1, intruder]) await s?.close(); });
    const runId = `sec-${transport}`, secret = randomBytes(32);
    const victim = (s: CollectiveServer | undefined): string => s?.address ?? '';
    // an intruder dials rank 0 as its right neighbour before rank 0 formed the ring (its call waits there)...
    const early = createPeer(transport, { server: intruder as CollectiveServer, runId, rank: 1, addresses: [victim(s0), victim(intruder)], ringSecret: randomBytes(32) });
    t.after(() => early.close());
    await new Promise((r) => setTimeout(r, 300));   // let its open arrive first (the test holds either way)
    // ...rank 0 forms the ring with its secret: the waiting intruder is refused, the ring waits on
    const p0 = createPeer(transport, { server: s0 as CollectiveServer, runId, rank: 0, addresses: [victim(s0), victim(s1)], ringSecret: secret });
    t.after(() => p0.close());
    assert.match(await refusal(early), /ring_secret: not the secret of run 'sec-\w+' epoch 0/);
    // an intruder after the ring formed, with no secret at all, is refused at once
    const late = createPeer(transport, { server: intruder as CollectiveServer, runId, epoch: 0, rank: 1, addresses: [victim(s0), victim(intruder)] });
    t.after(() => late.close());
    assert.match(await refusal(late), /ring_secret: not the secret/);
    // the member with the secret connects and the all-reduce is the mean
    const p1 = createPeer(transport, { server: s1 as CollectiveServer, runId, rank: 1, addresses: [victim(s0), victim(s1)], ringSecret: secret });
    const rings = [new Ring(p0, { runId, rank: 0, worldSize: 2, timeoutMs: 10_000 }), new Ring(p1, { runId, rank: 1, worldSize: 2, timeoutMs: 10_000 })];
    t.after(async () => { for (const r of rings) await r.close(); });
    const n = 10_001;
    const bufs = rings.map((_, rank) => Float32Array.from({ length: n }, (_, i) => rank * 2 + (i % 5)));
    await Promise.all(rings.map((r, rank) => r.allReduceMean(bufs[rank] as Float32Array, { step: 0 })));   // in place
    const want = Float32Array.from({ length: n }, (_, i) => 1 + (i % 5));
    for (const b of bufs) assert.deepEqual(b, want);
  });
}

test('connections waiting for a ring that has not formed are bounded per ring: the next is refused, not buffered', { timeout: 30_000 }, async (t) => {
  const [victim, intruder] = await Promise.all([0, 1].map(() => CollectiveServer.start({ protos })));
  t.after(async () => { await victim?.close(); await intruder?.close(); });
  // five intruders open Relay calls for the same ring, which never forms on the victim: four wait, the fifth is refused
  const same = Array.from({ length: MAX_PARKED_PER_RING + 1 }, () =>
    createPeer('grpc', { server: intruder as CollectiveServer, runId: 'flood', epoch: 0, rank: 1, addresses: [victim?.address ?? '', intruder?.address ?? ''] }));
  t.after(async () => { for (const p of same) await p.close(); });
  const first = await Promise.race(same.map((p) => refusal(p)));
  assert.match(first, /too many Relay calls wait for rings that have not formed on this worker/);
});

test('TcpEndpoint (where a worker\'s raw-TCP ring port is): a caller without the ring\'s secret learns nothing; a member asking before the ring formed is answered once it does', { timeout: 30_000 }, async (t) => {
  const [s0, s1] = await Promise.all([0, 1].map(() => CollectiveServer.start({ protos })));
  t.after(async () => { await s0?.close(); await s1?.close(); });
  const server = s0 as CollectiveServer;
  const client = new protos.grpc.dsi.v1.Collective(server.address, grpc.credentials.createInsecure()) as CollectiveClient;
  t.after(() => client.close());
  const runId = 'sec-lookup', secret = randomBytes(32);
  const lookup = (ringSecret: Uint8Array, ms = 5_000, ringEpoch = 0): Promise<string> => new Promise((resolve) => {
    client.TcpEndpoint({ runId, ringEpoch, ringSecret }, { deadline: Date.now() + ms }, (e, r) => resolve(e ? `${grpc.status[e.code]}: ${e.details}` : `port ${r?.port}`));
  });
  // a member that asks before the ring formed here waits for it...
  const early = lookup(secret, 20_000);
  await new Promise((r) => setTimeout(r, 200));
  // ...rank 0 forms the ring (with its secret) and the waiting member gets the port
  const p0 = createPeer('tcp', { server, runId, rank: 0, addresses: [server.address, s1?.address ?? ''], ringSecret: secret });
  t.after(() => p0.close());
  assert.equal(await early, `port ${server.tcp.port}`);
  // strangers: a guessed secret, none at all, and a ring that never forms here: no port in any answer
  assert.match(await lookup(randomBytes(32)), /^PERMISSION_DENIED: ring_secret: not the secret of run 'sec-lookup' epoch 0/);
  assert.match(await lookup(new Uint8Array(0)), /^PERMISSION_DENIED: ring_secret/);
  assert.match(await lookup(secret, 1_000, 7), /^(DEADLINE_EXCEEDED|UNAVAILABLE)/);
  assert.equal(await lookup(secret), `port ${server.tcp.port}`);
});
