import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { RingPeerError, RingProtocolError } from '../worker/collective/errors.js';
import { CollectiveServer } from '../worker/collective/grpc_peer.js';
import { Ring } from '../worker/collective/ring.js';
import { FRAME_KIND, FrameReader, frame, frameHeader, preamble } from '../worker/collective/tcp_frames.js';
import { TcpFrameError } from '../worker/collective/errors.js';
import { MAX_CHUNK_FRAME_BYTES, TcpPeer } from '../worker/collective/tcp_peer.js';
import type { TcpRelay } from '../worker/collective/tcp_relay_server.js';

const protos = loadProtos();
const relayMethod = protos.grpc.dsi.v1.Collective.service.Relay;

test('frame kinds are the values of TcpFrameKind in collective.proto', () => {
  const def = protos.definition['dsi.v1.TcpFrameKind'] as unknown as { type: { value: Array<{ name: string; number: number }> } };
  const fromProto = Object.fromEntries(def.type.value.map((v) => [v.name.replace('TCP_FRAME_KIND_', ''), v.number]));
  assert.deepEqual(fromProto, { UNSPECIFIED: 0, ...FRAME_KIND });
});

test('FrameReader: frames split at every byte boundary come out whole and in order', () => {
  const a = Buffer.from('first message');
  const b = Buffer.alloc(70_000, 9);
  const stream = Buffer.concat([preamble(), frame(FRAME_KIND.RELAY_REQUEST, a), frame(FRAME_KIND.RELAY_REQUEST, Buffer.alloc(0)), frame(FRAME_KIND.RELAY_REQUEST, b)]);
  for (const piece of [1, 3, 7, 4096, stream.length]) {
    const reader = new FrameReader({ maxFrameBytes: 1 << 20, accept: [FRAME_KIND.RELAY_REQUEST], preamble: true, from: 'test' });
    const got = [];
    for (let at = 0; at < stream.length; at += piece) got.push(...reader.push(stream.subarray(at, at + piece)));
    assert.deepEqual(got.map((f) => f.payload), [a, Buffer.alloc(0), b], `pieces of ${piece}`);
    assert.equal(reader.midFrame, false);
  }
});

test('FrameReader: reads straight into the frame being received (as TcpPeer does) give the same frames', () => {
  const payloads = [Buffer.alloc(200_000, 1), Buffer.from('x'), Buffer.alloc(70_001, 2), Buffer.alloc(3, 3)];
  const stream = Buffer.concat(payloads.map((p) => frame(FRAME_KIND.RING_CHUNK, p)));
  for (const piece of [5, 1000, 65_536]) {
    const reader = new FrameReader({ maxFrameBytes: 1 << 20, accept: [FRAME_KIND.RING_CHUNK], preamble: false, from: 'test' });
    const scratch = Buffer.alloc(piece);
    const got: Buffer[] = [];
    let direct = 0;
    for (let at = 0; at < stream.length;) {
      const target = reader.directTarget() ?? scratch; // what the socket's onread.buffer returns
      const n = stream.copy(target, 0, at, at + Math.min(target.length, piece));
      at += n;
      if (target === scratch) got.push(...reader.push(scratch.subarray(0, n), true).map((f) => f.payload));
      else { direct += n; got.push(...reader.filledDirect(n).map((f) => f.payload)); }
    }
    assert.deepEqual(got, payloads, `reads of ${piece}`);
    assert.ok(direct > 100_000, `only ${direct} bytes went straight into frames`);
  }
});

test('FrameReader: bad preamble, other version, unknown kind, wrong direction and oversized frames are refused by name', () => {
  const reader = (pre = false): FrameReader => new FrameReader({ maxFrameBytes: 1000, accept: [FRAME_KIND.RING_CHUNK, FRAME_KIND.RELAY_END], preamble: pre, from: 'rank 3' });
  assert.throws(() => reader(true).push(Buffer.from('GET / HTTP/1.1\r\n')), (e: Error) => e instanceof TcpFrameError && /rank 3 is not a ring peer: its connection starts with "GET "/.test(e.message));
  const v2 = preamble();
  v2.writeUInt32LE(2, 4);
  assert.throws(() => reader(true).push(v2), /rank 3 speaks ring TCP framing version 2, this worker speaks 1/);
  assert.throws(() => reader().push(frameHeader(7 as never, 10)), /rank 3 sent a frame of unknown kind 7 \(10 bytes\); expected RING_CHUNK, RELAY_END/);
  assert.throws(() => reader().push(frameHeader(FRAME_KIND.RELAY_REQUEST, 10)), /rank 3 sent a RELAY_REQUEST frame, which this side does not accept/);
  // refused from the header alone, before any of the 100 MiB is buffered
  assert.throws(() => reader().push(frameHeader(FRAME_KIND.RING_CHUNK, 100 << 20)), /rank 3 sent a RING_CHUNK frame of 104857600 bytes, over the limit of 1000/);
});

/** Connects a raw socket to `port`, writes `bytes`, and returns what comes back before the close. */
async function rawExchange(port: number, bytes: Buffer): Promise<Buffer> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  socket.on('data', (b: Buffer) => chunks.push(b));
  socket.write(bytes);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return Buffer.concat(chunks);
}

function relayEndReason(reply: Buffer): string {
  const [f] = new FrameReader({ maxFrameBytes: 1 << 16, accept: [FRAME_KIND.RELAY_END], preamble: false, from: 'listener' }).push(reply);
  assert.ok(f, `no RELAY_END frame in ${reply.toString('hex')}`);
  return protos.grpc.dsi.v1.RelayAbort.deserialize(f.payload).reason;
}

test('the TCP listener answers a stranger, a missing open and an oversized request with RELAY_END naming the problem', async (t) => {
  const server = await CollectiveServer.start({ protos });
  t.after(() => server.close());
  const port = server.tcp.port;
  assert.match(relayEndReason(await rawExchange(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))), /is not a ring peer: its connection starts with "GET "/);
  const abort = relayMethod.requestSerialize({ abort: { reason: 'x' } });
  assert.match(relayEndReason(await rawExchange(port, Buffer.concat([preamble(), frame(FRAME_KIND.RELAY_REQUEST, abort)]))), /first RelayRequest must be 'open', got 'abort'/);
  assert.match(relayEndReason(await rawExchange(port, Buffer.concat([preamble(), frameHeader(FRAME_KIND.RELAY_REQUEST, 1 << 20)]))), /RELAY_REQUEST frame of 1048576 bytes, over the limit of 65536/);
  assert.match(relayEndReason(await rawExchange(port, Buffer.concat([preamble(), frame(FRAME_KIND.RELAY_REQUEST, Buffer.from([0xff, 0xff, 0xff]))]))), /RelayRequest does not decode/);
});

/**
 * Rank 1 of a 2-ring is a real TcpPeer + Ring; rank 0 is the test, holding the real TcpRelay that
 * rank 1's connection became on server 0, and writing whatever bytes it likes into it.
 */
async function ringWithHandWrittenLeft(t: { after(fn: () => unknown): void }, runId: string): Promise<{ ring: Ring; relay: TcpRelay }> {
  const [s0, s1] = await Promise.all([CollectiveServer.start({ protos }), CollectiveServer.start({ protos })]);
  t.after(async () => { await s0.close(); await s1.close(); });
  const peer = new TcpPeer({ server: s1, runId, rank: 1, addresses: [s0.address, s1.address] });
  const ring = new Ring(peer, { runId, rank: 1, worldSize: 2, timeoutMs: 10_000 });
  t.after(() => ring.close());
  const relay = await s0.tcp.relays.want(runId, 0, 1);
  return { ring, relay };
}

const goodChunk = (runId: string, elements: number, dataBytes: number) => ({
  runId, ringEpoch: 0, step: 5, phase: 'RING_PHASE_REDUCE_SCATTER' as const, ringPosition: 0, hop: 0, segment: 0, chunkIndex: 0,
  dtype: 'WIRE_DTYPE_FP32' as const, elementCount: elements, nonfinite: false, data: Buffer.alloc(dataBytes),
});

test('a RingChunk whose data is not element_count x 4 bytes is rejected by the ring, which tells the sender why', async (t) => {
  const { ring, relay } = await ringWithHandWrittenLeft(t, 'short');
  const aborted = new Promise<string>((resolve) => relay.onGone(() => resolve('gone')));
  const payload = relayMethod.responseSerialize(goodChunk('short', 10, 12));
  relay.socket.write(frame(FRAME_KIND.RING_CHUNK, payload));
  const e = await ring.allReduceMean(new Float32Array(20), { step: 5 }).then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof RingProtocolError, String(e));
  assert.match(e.message, /step 5: chunk from rank 0 rejected: reduce-scatter hop 0 segment 0 chunk 0 carries 12 bytes, expected 40 \(10 x fp32\)/);
  assert.equal(await aborted, 'gone'); // rank 1's abort (or its close) reached the sending side
});

test('an oversized, undecodable or unknown frame from the left neighbour fails the all-reduce with a clear error', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['oversized', frameHeader(FRAME_KIND.RING_CHUNK, 64 << 20), new RegExp(`sent a RING_CHUNK frame of ${64 << 20} bytes, over the limit of ${MAX_CHUNK_FRAME_BYTES}`)],
    // field 15 (data), its length varint cut off
    ['garbage', frame(FRAME_KIND.RING_CHUNK, Buffer.from([0x7a, 0x80])), /sent a RingChunk that does not decode: index out of range/],
    ['unknown', frameHeader(9 as never, 4), /sent a frame of unknown kind 9/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const { ring, relay } = await ringWithHandWrittenLeft(t, `bad-${name}`);
    relay.socket.write(bytes);
    const e = await ring.allReduceMean(new Float32Array(20), { step: 5 }).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof RingPeerError, `${name}: ${String(e)}`);
    assert.equal(e.rank, 0);
    assert.match(e.message, /^step 5: rank 0: stream failed while waiting for reduce-scatter hop 0 segment 0 chunk 0: rank 0 \(127\.0\.0\.1:\d+\) /, name);
    assert.match(e.message, pattern, name);
  }
});

test('RELAY_END from the left neighbour carries its reason into this rank\'s error', async (t) => {
  const { ring, relay } = await ringWithHandWrittenLeft(t, 'ended');
  relay.finish(undefined, 'rank 0 stops: step 5 overflowed its patience');
  const e = await ring.allReduceMean(new Float32Array(20), { step: 5 }).then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof RingPeerError, String(e));
  assert.match(e.message, /rank 0 \(127\.0\.0\.1:\d+\) aborted the ring: rank 0 stops: step 5 overflowed its patience/);
});
