/**
 * The standard gRPC health service (grpc.health.v1, the grpc-health-check package) of a coordinator
 * or worker process: on its own gRPC server (mutual TLS when configured), and on a plaintext health
 * port of its own (cluster.healthPort) for probes that cannot present a client certificate, such as
 * the kubelet's native gRPC probe.
 *
 * Service names (HealthCheckRequest.service):
 *   - "liveness": SERVING from the moment the process can answer until it exits. Answering at all is
 *     the liveness signal; it says NOT_SERVING only as the process exits, so a liveness probe restarts a process
 *     whose event loop no longer answers, never one that is waiting for a coordinator or a ring.
 *   - "readiness", "" (the server as a whole) and the process's own gRPC service
 *     (dsi.v1.Coordinator, dsi.v1.Collective): SERVING only while ready, NOT_SERVING otherwise.
 * The kubelet's probe asks for one name (`grpc.service` in the pod spec; empty: ""), which is how the
 * manifests tell their liveness probe from their readiness probe.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { listenGrpc, type GrpcListener } from './grpc_listen.js';
import { formatHostPort } from './host_port.js';
import type { Logger } from './log.js';

export const LIVENESS_SERVICE = 'liveness';
export const READINESS_SERVICE = 'readiness';

/** One process's health statuses; the same object serves on every server it is added to. */
export class Health {
  private readonly impl: HealthImplementation;
  private readonly readinessNames: string[];
  private isReady = false;
  private endpoint: { server: grpc.Server; listener: GrpcListener } | undefined;

  /** `service`: the process's gRPC service (dsi.v1.Coordinator or dsi.v1.Collective), answered like readiness. */
  constructor(service: string, private readonly log?: Logger) {
    this.readinessNames = ['', READINESS_SERVICE, service];
    this.impl = new HealthImplementation({
      [LIVENESS_SERVICE]: 'SERVING',
      ...Object.fromEntries(this.readinessNames.map((n) => [n, 'NOT_SERVING' as ServingStatus])),
    });
  }

  /** Ready (SERVING) or not (NOT_SERVING), with the reason in the log when it changes. */
  setReady(ready: boolean, reason: string): void {
    if (ready === this.isReady) return;
    this.isReady = ready;
    for (const n of this.readinessNames) this.impl.setStatus(n, ready ? 'SERVING' : 'NOT_SERVING');
    this.log?.info({ status: ready ? 'SERVING' : 'NOT_SERVING', reason }, 'health');
  }

  /** Serves grpc.health.v1 on `server` too (before it binds). */
  addTo(server: grpc.Server): void {
    this.impl.addToServer(server);
  }

  /**
   * Binds the plaintext health port: only grpc.health.v1, which tells nothing but the statuses above,
   * so it needs neither certificate nor token. port -1: none; 0: any free port (logged).
   */
  async listen(host: string, port: number): Promise<void> {
    if (port < 0 || this.endpoint) return;
    const server = new grpc.Server();
    this.addTo(server);
    const listener = await listenGrpc(server, { host, port }).catch((e: Error) => {
      throw new Error(`cluster.healthPort: cannot bind the health port ${formatHostPort(host, port)}: ${e.message}`, { cause: e });
    });
    this.endpoint = { server, listener };
    this.log?.info({ address: formatHostPort(host, listener.port) }, 'health port listening');
  }

  /** NOT_SERVING everywhere, then the health port closes (the process is about to exit). */
  close(reason: string): void {
    this.setReady(false, reason);
    this.impl.setStatus(LIVENESS_SERVICE, 'NOT_SERVING');
    this.endpoint?.server.forceShutdown();
    this.endpoint = undefined;
  }
}
