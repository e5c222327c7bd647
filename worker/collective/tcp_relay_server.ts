/**
 * The listening half of the raw-TCP transport: one per worker process, next to its Collective gRPC
 * server (same host, its own port, announced by the TcpEndpoint RPC). Each accepted connection is a
 * right neighbour's Relay call: after the preamble and a RelayRequest `open` it becomes a `TcpRelay`
 * that a TcpPeer writes its chunks into. Framing: tcp_frames.ts; the messages are collective.proto's.
 */
import net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../shared/runtime/log.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import type { LoadedProtos } from '../../shared/runtime/proto_load.js';
import type { TlsMaterial } from '../../shared/runtime/security.js';
import { mutualTlsServerOptions, screenMutualTls } from '../../shared/runtime/grpc_listen.js';
import type { RelayOpen__Output } from '../../proto/gen/dsi/v1/RelayOpen.js';
import type { RingChunk } from '../../proto/gen/dsi/v1/RingChunk.js';
import { chunkHeadEncoder } from './chunk_codec.js';
import { MAX_REASON_CHARS, noRefusals, RelayBase, RelayRegistry, type RefusalCounts } from './relay_registry.js';
import type { OutgoingChunk } from './ring.js';
import { FRAME_KIND, FrameReader, frame, frameHeader } from './tcp_frames.js';

/** RelayRequests are small: a run id and a reason. */
const MAX_REQUEST_FRAME_BYTES = 64 * 1024;
/** A connection that has not sent its `open` within this long is dropped (a port scanner, a stuck peer). */
const OPEN_TIMEOUT_MS = 10_000;

export interface TcpRelayServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  protos: LoadedProtos;
  /** Mutual TLS (node:tls): a client without a certificate from `ca` never gets to send a byte. @default plaintext */
  tls?: TlsMaterial;
  log?: Logger;
  /** Where refused connections are counted (shared with the worker's gRPC server). @default its own */
  counts?: RefusalCounts;
}

export class TcpRelayServer {
  readonly relays: RelayRegistry<TcpRelay>;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server, readonly port: number, private readonly protos: LoadedProtos, private readonly log: Logger | undefined,
    private readonly counts: RefusalCounts,
  ) {
    this.relays = new RelayRegistry(log, counts);
  }

  static async start(o: TcpRelayServerOptions): Promise<TcpRelayServer> {
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new ConfigError('collective.tcpPort', `${o.port} is not a port number`);
    const server = o.tls ? tls.createServer(mutualTlsServerOptions(o.tls, OPEN_TIMEOUT_MS)) : net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`ring TCP listener cannot bind ${o.host}:${o.port}: ${e.message}`, { cause: e })));
      server.listen(o.port, o.host, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error(`ring TCP listener has no port: ${String(address)}`);
    const self = new TcpRelayServer(server, address.port, o.protos, o.log, o.counts ?? noRefusals());
    if (server instanceof tls.Server) {
      screenMutualTls(server, (socket) => self.accept(socket), (f) => {
        o.log?.warn({ from: f.peer, reason: f.reason, err: f.message }, 'ring TLS connection refused');
        self.counts.tlsHandshakes += 1;
      });
    } else {
      server.on('connection', (socket) => self.accept(socket));
    }
    return self;
  }

  /** Drops every connection and releases the port. */
  async close(): Promise<void> {
    this.relays.closeAll();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    const relayMethod = this.protos.grpc.dsi.v1.Collective.service.Relay;
    const reader = new FrameReader({ maxFrameBytes: MAX_REQUEST_FRAME_BYTES, accept: [FRAME_KIND.RELAY_REQUEST], preamble: true, from });
    let relay: TcpRelay | undefined;
    const refuse = (details: string): void => {
      this.log?.warn({ from, details }, 'ring TCP connection refused');
      this.counts.ringConnections += 1;
      if (relay) relay.finish(grpc.status.INVALID_ARGUMENT, details);
      else TcpRelay.end(socket, this.protos, details);
    };
    const openTimer = setTimeout(() => refuse(`no RelayRequest 'open' within ${OPEN_TIMEOUT_MS} ms`), OPEN_TIMEOUT_MS);
    socket.on('data', (bytes: Buffer) => {
      let frames;
      try { frames = reader.push(bytes); } catch (e) { refuse((e as Error).message); return; }
      for (const f of frames) {
        let req;
        try { req = relayMethod.requestDeserialize(f.payload); } catch (e) { refuse(`${from}: RelayRequest does not decode: ${(e as Error).message}`); return; }
        if (!relay) {
          if (req.kind !== 'open' || !req.open) { refuse(`first RelayRequest must be 'open', got '${String(req.kind)}'`); return; }
          clearTimeout(openTimer);
          relay = new TcpRelay(socket, req.open, this.protos, from);
          this.relays.offer(relay);
        } else if (req.kind === 'abort' && req.abort) {
          relay.markGone(new Error(`rank ${relay.open.receiverRank} aborted the ring: ${req.abort.reason.slice(0, MAX_REASON_CHARS)}`));
        } else {
          refuse(`RelayRequest '${String(req.kind)}' after 'open' (only 'abort' may follow)`);
          return;
        }
      }
    });
    const gone = (what: string): void => relay?.markGone(new Error(`rank ${relay.open.receiverRank} ${what} (it closed the ring, or its process is gone)`));
    socket.on('end', () => { gone('ended its connection'); socket.end(); });
    socket.on('error', (e) => gone(`connection failed: ${e.message}`));
    socket.on('close', () => { clearTimeout(openTimer); this.sockets.delete(socket); gone('closed its connection'); });
  }
}

/** The sending half of one raw-TCP Relay: what a TcpPeer writes its chunks into. */
export class TcpRelay extends RelayBase {
  private readonly chunkHead: (chunk: RingChunk & { data: Uint8Array }) => Buffer;

  constructor(readonly socket: net.Socket, open: RelayOpen__Output, private readonly protos: LoadedProtos, from: string) {
    super(open, from);
    this.chunkHead = chunkHeadEncoder(protos.grpc.dsi.v1.Collective.service.Relay.responseSerialize);
  }

  /** Frame header and message head in one small buffer, then `data` itself: one writev, no copy of `data`. */
  write(chunk: OutgoingChunk): Promise<void> {
    return this.track((done) => {
      const head = this.chunkHead(chunk);
      const { socket } = this;
      socket.cork();
      socket.write(Buffer.concat([frameHeader(FRAME_KIND.RING_CHUNK, head.length + chunk.data.byteLength), head]));
      // the callback comes once the kernel has every byte: `data` is free again then
      socket.write(chunk.data, done);
      socket.uncork();
    });
  }

  /** A FIN when all is well, else a RELAY_END frame carrying `details` first. */
  protected end(code: grpc.status, details: string): void {
    if (code === grpc.status.OK && !details) this.socket.end();
    else TcpRelay.end(this.socket, this.protos, details);
  }

  /** RELAY_END with `reason`, then FIN (the receiver reads the reason before the end of the stream). */
  static end(socket: net.Socket, protos: LoadedProtos, reason: string): void {
    if (socket.destroyed || socket.writableEnded) return;
    const payload = protos.grpc.dsi.v1.RelayAbort.serialize({ reason });
    socket.end(frame(FRAME_KIND.RELAY_END, payload));
  }
}

