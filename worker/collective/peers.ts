/**
 * Which transport carries a ring's chunks (config `cluster.transport`): the algorithm (ring.ts) is the
 * same over both, and so are the messages and their checks (collective.proto).
 */
import type { Logger } from '../../shared/runtime/log.js';
import { type CollectiveServer, GrpcPeer } from './grpc_peer.js';
import type { Peer } from './ring.js';
import { TcpPeer } from './tcp_peer.js';

export const TRANSPORTS = ['tcp', 'grpc'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** What every transport's link needs: its own server, the run, the ring's generation and members. */
export interface PeerOptions {
  /** This process's Collective server: the right neighbour's link (gRPC call or TCP connection) arrives there. */
  server: CollectiveServer;
  runId: string;
  /** Ring generation. @default 0 */
  epoch?: number;
  rank: number;
  /** Collective (gRPC) server addresses in ring order (index = rank); the TCP port is asked there. */
  addresses: readonly string[];
  /** RingFormation.ring_secret: sent in this rank's RelayOpen, required in its right neighbour's. @default none (tests, benchmarks) */
  ringSecret?: Uint8Array;
  log?: Logger;
}

export function createPeer(transport: Transport, options: PeerOptions): Peer {
  return transport === 'tcp' ? new TcpPeer(options) : new GrpcPeer(options);
}
