/**
 * Several ranks of a ring inside one process, each with its own real Collective server (gRPC + ring TCP) on 127.0.0.1:0
 * (tests, demos). `formRing` can be called again on the same servers with another membership and a
 * higher epoch: that is how a ring re-forms without restarting anything.
 */
import type { LoadedProtos } from '../../shared/runtime/proto_load.js';
import { loadProtos } from '../../shared/runtime/proto_load.js';
import { CollectiveServer } from '../../worker/collective/grpc_peer.js';
import { createPeer, type Transport } from '../../worker/collective/peers.js';
import { Ring, type RingOptions } from '../../worker/collective/ring.js';

export type LocalRingOptions = Omit<RingOptions, 'rank' | 'worldSize' | 'runId' | 'epoch'> & { runId?: string; epoch?: number; /** @default 'tcp' */ transport?: Transport };

export interface LocalCluster {
  servers: CollectiveServer[];
  /** A ring over `members` (indices into `servers`, in ring order); ring rank i is servers[members[i]]. */
  formRing(members: readonly number[], options?: LocalRingOptions): Ring[];
  close(): Promise<void>;
}

const DEFAULT_RUN_ID = 'local';

/** `count` collective servers on 127.0.0.1:0, sharing one loaded proto set. */
export async function startLocalCluster(count: number, protos: LoadedProtos = loadProtos()): Promise<LocalCluster> {
  const servers = await Promise.all(Array.from({ length: count }, () => CollectiveServer.start({ protos })));
  const rings: Ring[] = [];
  return {
    servers,
    formRing(members, options = {}) {
      const addresses = members.map((m) => (servers[m] as CollectiveServer).address); // members index servers
      const runId = options.runId ?? DEFAULT_RUN_ID;
      const formed = members.map((m, rank) => {
        const server = servers[m] as CollectiveServer;
        const { transport = 'tcp', ...ringOptions } = options;
        const peer = createPeer(transport, { server, runId, epoch: options.epoch, rank, addresses });
        return new Ring(peer, { ...ringOptions, runId, rank, worldSize: members.length });
      });
      rings.push(...formed);
      return formed;
    },
    async close() {
      await Promise.all(rings.map((r) => r.close()));
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
