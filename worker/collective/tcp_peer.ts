/**
 * The ring's raw-TCP transport (cluster.transport = tcp): the Relay call of collective.proto over a
 * plain socket instead of an HTTP/2 stream. grpc-js spends 3-4x the CPU per byte of a plain socket
 * (HTTP/2 framing in JS, a copy per frame, 16 KiB DATA frames), and when the ranks share cores that
 * CPU is what limits the all-reduce. gRPC stays the control plane: the port comes from the left
 * neighbour's TcpEndpoint RPC, and the frames carry the proto's messages (tcp_frames.ts).
 *
 * Same roles as GrpcPeer: this rank connects to its LEFT neighbour's TCP listener and receives what
 * that neighbour sends to the right; its RIGHT neighbour's connection arrives at this process's
 * listener (tcp_relay_server.ts) and this rank writes its chunks there.
 */
import net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { channelCredentials, channelOptions, type TlsMaterial } from '../../shared/runtime/security.js';
import type { CollectiveClient } from '../../proto/gen/dsi/v1/Collective.js';
import type { RingChunk__Output } from '../../proto/gen/dsi/v1/RingChunk.js';
import type { TcpEndpointReply__Output } from '../../proto/gen/dsi/v1/TcpEndpointReply.js';
import type { OutgoingChunk, Peer } from './ring.js';
import { MAX_CHUNK_BYTES } from './ring.js';
import { FRAME_KIND, FrameReader, frame, preamble, TCP_FRAMING_VERSION, type Frame } from './tcp_frames.js';
import type { TcpRelay } from './tcp_relay_server.js';
import type { PeerOptions } from './peers.js';

/** A chunk's frame: at most MAX_CHUNK_BYTES of data plus its header fields (as gRPC's 4 MiB message limit). */
export const MAX_CHUNK_FRAME_BYTES = MAX_CHUNK_BYTES + (1 << 16);
/** Received chunks the ring has not taken yet, in bytes, before the socket is paused (like an HTTP/2 window). */
const RECEIVE_HIGH_WATER_BYTES = 16 * (1 << 20);
/** Reads that are not into a chunk's frame: headers, small frames, the start of the next frame. */
const SCRATCH_READ_BYTES = 64 * 1024;
/** How long the TcpEndpoint lookup and the connect may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/** On close, how long to wait for the left neighbour to close the connection before destroying it. */
const CLOSE_GRACE_MS = 200;

export type TcpPeerOptions = PeerOptions;

export class TcpPeer implements Peer {
  private readonly runId: string;
  private readonly epoch: number;
  private readonly left: number;
  private readonly toRight: Promise<TcpRelay> | undefined;
  private relay: TcpRelay | undefined;
  private socket: net.Socket | undefined;
  private readonly connected: Promise<net.Socket> | undefined;
  // received chunks not yet taken by the ring, and the ring's wait for the next one
  private readonly queue: RingChunk__Output[] = [];
  private queuedBytes = 0;
  private paused = false;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: TcpPeerOptions) {
    const { server, rank, addresses } = options;
    const N = addresses.length;
    if (N < 1) throw new ConfigError('ring.addresses', 'is empty');
    if (!Number.isInteger(rank) || rank < 0 || rank >= N) throw new ConfigError('ring.rank', `${rank} is not in [0, ${N - 1}]`);
    this.runId = options.runId;
    this.epoch = options.epoch ?? 0;
    this.left = (rank - 1 + N) % N;
    if (N === 1) return;
    this.toRight = server.tcp.relays.want(this.runId, this.epoch, (rank + 1) % N, options.ringSecret ?? new Uint8Array(0));
    this.toRight.then((r) => { this.relay = r; }, () => undefined);
    this.connected = this.connect(addresses[this.left] as string);
    this.connected.catch((e: Error) => this.fail(e));
  }

  send(chunk: OutgoingChunk): Promise<void> {
    if (this.relay) return this.relay.write(chunk);
    if (!this.toRight) return Promise.reject(new Error('a ring of one has no neighbour'));
    return this.toRight.then((r) => r.write(chunk));
  }

  receive(): AsyncIterator<RingChunk__Output> {
    return this.chunks();
  }

  close(reason?: Error): Promise<void> {
    this.closing ??= this.shutdown(reason);
    return this.closing;
  }

  private async *chunks(): AsyncGenerator<RingChunk__Output> {
    if (!this.connected) return;
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk) {
        this.queuedBytes -= chunk.data.byteLength;
        if (this.paused && this.queuedBytes < RECEIVE_HIGH_WATER_BYTES) { this.paused = false; this.socket?.resume(); }
        yield chunk;
        continue;
      }
      if (this.error) throw this.error;
      if (this.ended) return;
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private fail(e: Error): void {
    this.error ??= e;
    this.notify();
  }

  /** TcpEndpoint on the left neighbour's gRPC server, then connect, preamble and `open`. */
  private async connect(leftAddress: string): Promise<net.Socket> {
    const { server, rank, log } = this.options;
    const where = `rank ${this.left} (${leftAddress})`;
    const host = hostOf(leftAddress);
    const client = new server.protos.grpc.dsi.v1.Collective(leftAddress, channelCredentials(server.tls), channelOptions(server.tls)) as CollectiveClient;
    let reply: TcpEndpointReply__Output;
    try {
      reply = await new Promise<TcpEndpointReply__Output>((resolve, reject) => {
        const ask = { runId: this.runId, ringEpoch: this.epoch, ringSecret: this.options.ringSecret ?? new Uint8Array(0) };
        client.TcpEndpoint(ask, { deadline: Date.now() + CONNECT_TIMEOUT_MS }, (e, r) => (e || !r ? reject(e ?? new Error('empty reply')) : resolve(r)));
      });
    } catch (e) {
      throw new Error(`cannot ask ${where} for its ring TCP port: ${(e as grpc.ServiceError).details || (e as Error).message}`, { cause: e });
    } finally {
      client.close();
    }
    if (reply.framingVersion !== TCP_FRAMING_VERSION)
      throw new Error(`${where} speaks ring TCP framing version ${reply.framingVersion}, this worker speaks ${TCP_FRAMING_VERSION}`);
    if (this.closing) throw new Error('ring closed while connecting');
    const relayMethod = server.protos.grpc.dsi.v1.Collective.service.Relay;
    const reader = new FrameReader({ maxFrameBytes: MAX_CHUNK_FRAME_BYTES, accept: [FRAME_KIND.RING_CHUNK, FRAME_KIND.RELAY_END], preamble: false, from: where });
    // reads go straight into the frame being received when there is one (no copy of a chunk's bytes
    // in JS), else into one reused scratch buffer (frame headers, and the start of the next frame)
    const scratch = Buffer.allocUnsafe(SCRATCH_READ_BYTES);
    const take = (read: () => Frame[]): boolean => {
      try {
        for (const f of read()) {
          if (f.kind === FRAME_KIND.RELAY_END) {
            const { reason } = server.protos.grpc.dsi.v1.RelayAbort.deserialize(f.payload);
            throw new Error(`${where} aborted the ring: ${reason}`);
          }
          let chunk: RingChunk__Output;
          try { chunk = relayMethod.responseDeserialize(f.payload); } catch (e) { throw new Error(`${where} sent a RingChunk that does not decode: ${(e as Error).message}`); }
          this.queue.push(chunk);
          this.queuedBytes += chunk.data.byteLength;
        }
      } catch (e) {
        this.fail(e as Error);
        socket.destroy();
        return false;
      }
      this.notify();
      this.paused = this.queuedBytes >= RECEIVE_HIGH_WATER_BYTES; // false pauses the socket: the ring catches up first
      return !this.paused;
    };
    const onRead = (n: number, buf: Uint8Array): boolean => take(() => (buf === scratch ? reader.push(scratch.subarray(0, n), true) : reader.filledDirect(n)));
    const socket = server.tls
      ? connectTls(host, reply.port, server.tls, (b) => take(() => reader.push(b)))
      : net.connect({ host, port: reply.port, noDelay: true, onread: { buffer: () => reader.directTarget() ?? scratch, callback: onRead } });
    this.socket = socket;
    socket.on('end', () => {
      if (reader.midFrame) this.fail(new Error(`${where} ended its connection in the middle of a frame`));
      this.ended = true;
      this.notify();
    });
    socket.on('error', (e) => this.fail(new Error(`connection to ${where} failed: ${e.message}`, { cause: e })));
    socket.on('close', () => { this.ended = true; this.notify(); });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cannot connect to ${where} at ${host}:${reply.port} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      socket.once(server.tls ? 'secureConnect' : 'connect', () => { clearTimeout(timer); resolve(); });
      socket.once('error', (e) => { clearTimeout(timer); reject(new Error(`cannot connect to ${where} at ${host}:${reply.port}: ${e.message}`, { cause: e })); });
    });
    const open = relayMethod.requestSerialize({ open: { runId: this.runId, ringEpoch: this.epoch, receiverRank: rank, ringSecret: this.options.ringSecret ?? new Uint8Array(0) } });
    socket.write(Buffer.concat([preamble(), frame(FRAME_KIND.RELAY_REQUEST, open)]));
    log?.debug({ runId: this.runId, epoch: this.epoch, left: this.left, port: reply.port }, 'ring TCP connection open');
    return socket;
  }

  private async shutdown(reason: Error | undefined): Promise<void> {
    const { server, log } = this.options;
    server.tcp.relays.retire(this.runId, this.epoch);
    // the right neighbour: FIN, or the reason first
    if (this.relay) this.relay.finish(reason ? grpc.status.ABORTED : grpc.status.OK, reason?.message ?? '');
    // the left neighbour: say why, half-close, give it a moment to close, then drop the socket
    const socket = this.socket;
    if (socket && !socket.destroyed) {
      if (reason && socket.writable) {
        const abort = server.protos.grpc.dsi.v1.Collective.service.Relay.requestSerialize({ abort: { reason: reason.message } });
        socket.write(frame(FRAME_KIND.RELAY_REQUEST, abort));
      }
      socket.end();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_GRACE_MS);
        socket.once('close', () => { clearTimeout(timer); resolve(); });
      });
      socket.destroy();
    }
    this.ended = true;
    this.notify();
    log?.debug({ runId: this.runId, epoch: this.epoch, reason: reason?.message }, 'ring TCP peer closed');
  }
}

/**
 * A mutual-TLS connection to a ring listener. node:tls has no `onread` (reads into a caller's
 * buffer), so bytes arrive as 'data' events and `take` returns false to pause until the ring catches up.
 */
function connectTls(host: string, port: number, m: TlsMaterial, take: (bytes: Buffer) => boolean): tls.TLSSocket {
  // SNI is for names; the certificate of an IP address is checked against its IP SANs
  const servername = m.serverName ?? (net.isIP(host) ? undefined : host);
  const socket = tls.connect({ host, port, ca: m.ca, key: m.key, cert: m.cert, ...(servername ? { servername } : {}) });
  socket.setNoDelay(true);
  socket.on('data', (b: Buffer) => { if (!take(b)) socket.pause(); });
  return socket;
}

/** Host part of host:port or [v6]:port. */
function hostOf(address: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(address) ?? /^(.*):\d+$/.exec(address);
  if (!m) throw new ConfigError('ring.addresses', `'${address}' is not host:port`);
  return m[1] as string;
}
