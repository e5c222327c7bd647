/**
 * Which transport carries a ring's chunks (config `cluster.transport`): the algorithm (ring.ts) is the
 * same over both, and so are the messages and their checks (collective.proto).
 */
import type { Logger } from '../../shared/log.js';
import { type CollectiveServer, GrpcPeer } from './grpc_peer.js';
import type { Peer } from './ring.js';
import { TcpPeer } from './tcp_peer.js';

export const TRANSPORTS = ['tcp', 'grpc'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface PeerOptions {
  server: CollectiveServer;
  runId: string;
  epoch?: number;
  rank: number;
  addresses: readonly string[];
  log?: Logger;
}

export function createPeer(transport: Transport, options: PeerOptions): Peer {
  return transport === 'tcp' ? new TcpPeer(options) : new GrpcPeer(options);
}
