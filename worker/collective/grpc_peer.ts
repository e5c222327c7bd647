/**
 * The ring's gRPC transport, and the Collective server both transports share.
 *
 * `CollectiveServer`: one per worker process, bound once (port 0 allowed), serving the Collective
 * service for every ring the process joins; it also owns the raw-TCP listener (tcp_relay_server.ts)
 * and announces its port (TcpEndpoint). `GrpcPeer`: one per ring (run id + epoch); it
 *   - receives: calls Relay on its LEFT neighbour's server; that neighbour streams chunks back
 *     (the receiver is the client because grpc-js only enlarges a client's receive window:
 *     `grpc-node.flow_control_window`; see collective.proto);
 *   - sends: writes into the Relay call its RIGHT neighbour opened on this process's server.
 * A new ring (other members, higher epoch) is a new GrpcPeer on the same server: no restart.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../shared/runtime/log.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { loadProtos, type LoadedProtos } from '../../shared/runtime/proto_load.js';
import { channelCredentials, channelOptions, type TlsMaterial } from '../../shared/runtime/security.js';
import { listenGrpc, type GrpcListener } from '../../shared/runtime/grpc_listen.js';
import { formatHostPort } from '../../shared/runtime/host_port.js';
import type { CollectiveClient, CollectiveDefinition, CollectiveHandlers } from '../../proto/gen/dsi/v1/Collective.js';
import type { RelayOpen__Output } from '../../proto/gen/dsi/v1/RelayOpen.js';
import type { RelayRequest, RelayRequest__Output } from '../../proto/gen/dsi/v1/RelayRequest.js';
import type { RingChunk, RingChunk__Output } from '../../proto/gen/dsi/v1/RingChunk.js';
import { fastChunkSerializer } from './chunk_codec.js';
import { MAX_REASON_CHARS, noRefusals, RelayBase, RelayRegistry, type RefusalCounts } from './relay_registry.js';
import { TCP_FRAMING_VERSION } from './tcp_frames.js';
import { TcpRelayServer } from './tcp_relay_server.js';
import type { Health } from '../../shared/runtime/health.js';
import type { OutgoingChunk, Peer } from './ring.js';
import type { PeerOptions } from './peers.js';

const MiB = 1 << 20;
export const DEFAULT_HOST = '127.0.0.1';
/** gRPC's default; chunks stay below it (ring.ts MAX_CHUNK_BYTES). */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * MiB;
/** HTTP/2's default 64 KiB window capped one loopback stream at ~550 MiB/s; 16 MiB let it reach ~2.5 GiB/s. */
export const DEFAULT_FLOW_CONTROL_WINDOW_BYTES = 16 * MiB;
/** HTTP/2 window limits (RFC 9113 6.9.1): its default, and 2^31 - 1. */
const HTTP2_MIN_WINDOW_BYTES = 65_535;
const HTTP2_MAX_WINDOW_BYTES = 2 ** 31 - 1;
/** Longest a TcpEndpoint lookup waits for its ring to form here (the caller's deadline, if shorter). */
const LOOKUP_WAIT_MS = 10_000;
/** On close, how long to wait for the left neighbour to end the Relay call before cancelling it. */
const CLOSE_GRACE_MS = 200;

type RelayCall = grpc.ServerDuplexStream<RelayRequest__Output, RingChunk>;

export interface CollectiveServerOptions {
  /** Interface to bind. @default DEFAULT_HOST */
  host?: string;
  /** Port; 0 picks a free one (see `address`). @default 0 */
  port?: number;
  /** Port of the raw-TCP ring listener (tcp_relay_server.ts) on the same host; 0 picks a free one. @default 0 */
  tcpPort?: number;
  /** Largest message sent or received. @default DEFAULT_MAX_MESSAGE_BYTES */
  maxMessageBytes?: number;
  /** Loaded contracts; @default loadProtos() */
  protos?: LoadedProtos;
  /** Mutual TLS for the gRPC server, the raw-TCP listener and this worker's calls to its neighbours. @default plaintext */
  tls?: TlsMaterial;
  log?: Logger;
  /** grpc.health.v1 statuses to serve on this server too. @default none */
  health?: Health;
}

/** This process's Collective server; rings come and go on it. */
export class CollectiveServer {
  /** host:port the other workers dial (the bound port when `port` was 0). */
  address = '';
  readonly relays: RelayRegistry<ServerRelay>;
  private isClosed = false;
  private readonly closedWaiters: Array<(v: void | Error) => void> = [];

  private listener: GrpcListener | undefined;

  private constructor(
    private readonly server: grpc.Server,
    /** Connections refused since start (TLS handshakes, ring secrets, malformed): the worker reports them with each step. */
    readonly refused: RefusalCounts,
    /** The raw-TCP transport's listener (cluster.transport = tcp); always up, it costs one idle port. */
    readonly tcp: TcpRelayServer,
    readonly protos: LoadedProtos,
    readonly maxMessageBytes: number,
    readonly log: Logger | undefined,
    readonly tls: TlsMaterial | undefined,
  ) {
    this.relays = new RelayRegistry(log, refused);
  }

  static async start(options: CollectiveServerOptions = {}): Promise<CollectiveServer> {
    const host = options.host ?? DEFAULT_HOST;
    const port = options.port ?? 0;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('collective.port', `${port} is not a port number`);
    const protos = options.protos ?? loadProtos();
    const base = protos.grpc.dsi.v1.Collective.service;
    const service: CollectiveDefinition = {
      ...base,
      Relay: { ...base.Relay, responseSerialize: fastChunkSerializer(base.Relay.responseSerialize) },
    };
    const server = new grpc.Server({
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
    });
    const refused = noRefusals();
    const tcp = await TcpRelayServer.start({ host, port: options.tcpPort ?? 0, protos, log: options.log, counts: refused, ...(options.tls ? { tls: options.tls } : {}) });
    const self = new CollectiveServer(server, refused, tcp, protos, maxMessageBytes, options.log, options.tls);
    server.addService(service, collectiveHandlers(self.relays, tcp));
    options.health?.addTo(server);
    self.listener = await listenGrpc(server, {
      host, port, ...(options.tls ? { tls: options.tls } : {}),
      onTlsFailure: (f) => {
        options.log?.warn({ peer: f.peer, reason: f.reason, err: f.message }, 'TLS handshake refused');
        refused.tlsHandshakes += 1;
      },
    }).catch(async (e: Error) => { await tcp.close(); throw new Error(`collective server cannot bind ${host}:${port}: ${e.message}`, { cause: e }); });
    self.address = formatHostPort(host, self.listener.port);
    options.log?.debug({ address: self.address }, 'collective server listening');
    return self;
  }

  /** Cancels every Relay call and releases the port. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.relays.closeAll();
    this.server.forceShutdown();
    await this.listener?.close();
    await this.tcp.close();
    for (const w of this.closedWaiters.splice(0)) w(undefined);
  }

  /** Resolves (never rejects) once close() ran. */
  closed(): Promise<void | Error> {
    if (this.isClosed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }
}

/** The Collective service: decode, hand the call to the registry, nothing else. */
function collectiveHandlers(relays: RelayRegistry<ServerRelay>, tcp: TcpRelayServer): CollectiveHandlers {
  return {
    // the port only for a member of the ring it names (the same check as the RelayOpen that follows)
    TcpEndpoint(call, callback) {
      const deadline = call.getDeadline();
      const waitMs = Math.min(LOOKUP_WAIT_MS, deadline instanceof Date ? deadline.getTime() - Date.now() : Number.isFinite(deadline) ? deadline - Date.now() : LOOKUP_WAIT_MS);
      void tcp.relays.admits(call.request, call.getPeer(), Math.max(0, waitMs)).then((refused) =>
        callback(refused ?? null, refused ? undefined : { port: tcp.port, framingVersion: TCP_FRAMING_VERSION }));
    },
    Relay(call: RelayCall) {
      let relay: ServerRelay | undefined;
      call.on('data', (req: RelayRequest__Output) => {
        if (!relay) {
          if (req.kind !== 'open' || !req.open) {
            call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `first RelayRequest must be 'open', got '${String(req.kind)}'` });
            return;
          }
          relay = new ServerRelay(call, req.open, call.getPeer());
          relays.offer(relay);
        } else if (req.kind === 'abort' && req.abort) {
          relay.markGone(new Error(`rank ${relay.open.receiverRank} aborted the ring: ${req.abort.reason.slice(0, MAX_REASON_CHARS)}`));
        }
      });
      call.on('end', () => {
        relay?.markGone(new Error(`rank ${relay.open.receiverRank} ended its Relay call (it closed the ring, or its process is gone)`));
        call.end();
      });
      call.on('cancelled', () => relay?.markGone(new Error(`rank ${relay.open.receiverRank} cancelled its Relay call (it closed the ring, or its process is gone)`)));
      call.on('error', (e: Error) => relay?.markGone(e));
    },
  };
}

/** The sending half of one Relay call: what a GrpcPeer writes its chunks into. */
class ServerRelay extends RelayBase {
  constructor(private readonly call: RelayCall, open: RelayOpen__Output, from: string) {
    super(open, from);
  }

  // grpc-js serializes and frames the chunk before it calls back: `data` is free again then
  write(chunk: RingChunk): Promise<void> {
    return this.track((done) => this.call.write(chunk, done));
  }

  protected end(code: grpc.status, details: string): void {
    if (code === grpc.status.OK) this.call.end();
    else this.call.emit('error', { code, details });
  }
}

export interface GrpcPeerOptions extends PeerOptions {
  /** Receive window of the call to the left neighbour. @default DEFAULT_FLOW_CONTROL_WINDOW_BYTES */
  flowControlWindowBytes?: number;
}

/** One rank's link in one ring over gRPC. */
export class GrpcPeer implements Peer {
  private readonly runId: string;
  private readonly epoch: number;
  private readonly client: CollectiveClient | undefined;
  private readonly call: grpc.ClientDuplexStream<RelayRequest, RingChunk__Output> | undefined;
  private readonly toRight: Promise<ServerRelay> | undefined;
  private relay: ServerRelay | undefined;
  private callError: Error | undefined;
  private statusSeen = false;
  private closing: Promise<void> | undefined;
  private closeReason: Error | undefined;
  private readonly closedWaiters: Array<(v: void | Error) => void> = [];

  constructor(private readonly options: GrpcPeerOptions) {
    const { server, rank, addresses } = options;
    const N = addresses.length;
    if (N < 1) throw new ConfigError('ring.addresses', 'is empty');
    if (!Number.isInteger(rank) || rank < 0 || rank >= N) throw new ConfigError('ring.rank', `${rank} is not in [0, ${N - 1}]`);
    const window = options.flowControlWindowBytes ?? DEFAULT_FLOW_CONTROL_WINDOW_BYTES;
    if (!Number.isInteger(window) || window < HTTP2_MIN_WINDOW_BYTES || window > HTTP2_MAX_WINDOW_BYTES)
      throw new ConfigError('collective.flowControlWindowBytes', `${window} is not an integer in [${HTTP2_MIN_WINDOW_BYTES}, ${HTTP2_MAX_WINDOW_BYTES}]`);
    this.runId = options.runId;
    this.epoch = options.epoch ?? 0;
    if (N === 1) return; // a ring of one moves nothing
    const left = addresses[(rank - 1 + N) % N] as string; // index in [0, N)
    const secret = options.ringSecret ?? new Uint8Array(0);
    this.toRight = server.relays.want(this.runId, this.epoch, (rank + 1) % N, secret);
    this.toRight.then((r) => { this.relay = r; }, () => undefined);
    const Client = server.protos.grpc.dsi.v1.Collective;
    this.client = new Client(left, channelCredentials(server.tls), {
      ...channelOptions(server.tls),
      'grpc.max_receive_message_length': server.maxMessageBytes,
      'grpc.max_send_message_length': server.maxMessageBytes,
      'grpc-node.flow_control_window': window,
      'grpc.use_local_subchannel_pool': 1, // this ring's own connection: closing it touches no other ring
    });
    // not waitForReady: every server is bound before its address is handed out, so a refused
    // connection means the left neighbour is gone, and the first receive reports it at once
    this.call = this.client.Relay();
    this.call.on('error', (e: Error) => { this.callError ??= e; });
    this.call.on('status', () => { this.statusSeen = true; });
    this.call.write({ open: { runId: this.runId, ringEpoch: this.epoch, receiverRank: rank, ringSecret: secret } });
  }

  send(chunk: OutgoingChunk): Promise<void> {
    if (this.relay) return this.relay.write(chunk);
    if (!this.toRight) return Promise.reject(new Error('a ring of one has no neighbour'));
    return this.toRight.then((r) => r.write(chunk));
  }

  receive(): AsyncIterator<RingChunk__Output> {
    return this.chunks();
  }

  private async *chunks(): AsyncGenerator<RingChunk__Output> {
    if (!this.call) return;
    // proto-loader's deserializer builds RingChunk__Output objects (defaults: every field present)
    for await (const chunk of this.call as AsyncIterable<RingChunk__Output>) yield chunk;
    if (this.callError) throw this.callError;
  }

  close(reason?: Error): Promise<void> {
    this.closing ??= this.shutdown(reason).then(() => {
      for (const w of this.closedWaiters.splice(0)) w(reason);
    });
    return this.closing;
  }

  /** Resolves (never rejects) once closed: undefined, or the reason close() was given. */
  closed(): Promise<void | Error> {
    return new Promise((resolve) => {
      if (this.closing) void this.closing.then(() => resolve(this.closeReason));
      else this.closedWaiters.push(resolve);
    });
  }

  private async shutdown(reason: Error | undefined): Promise<void> {
    const { server, log } = this.options;
    this.closeReason = reason;
    server.relays.retire(this.runId, this.epoch);
    // the right neighbour: end our stream to it (with the reason as its error status)
    if (this.relay) this.relay.finish(reason ? grpc.status.ABORTED : grpc.status.OK, reason?.message ?? '');
    // the left neighbour: say why, half-close, give it a moment to end the call, then cancel
    const call = this.call;
    if (call && !this.statusSeen) {
      if (reason) call.write({ abort: { reason: reason.message } });
      call.end();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_GRACE_MS);
        call.once('status', () => { clearTimeout(timer); resolve(); });
      });
      call.cancel();
    }
    this.client?.close();
    log?.debug({ runId: this.runId, epoch: this.epoch, reason: reason?.message }, 'ring peer closed');
  }
}
