/**
 * The coordinator's telemetry: where NATS is (the configured URL, a local nats-server it starts,
 * or none), the subscription to every worker's step metrics, the run's event log in JetStream, and
 * the aggregator every view reads. Without NATS the gRPC heartbeats feed the same aggregator.
 */
import type { Config } from '../../shared/runtime/config.js';
import type { Logger } from '../../shared/runtime/log.js';
import type { WorkerMetrics__Output } from '../../proto/gen/dsi/v1/WorkerMetrics.js';
import { TelemetryConnection } from '../../shared/runtime/telemetry/connection.js';
import type { NatsAuth } from '../../shared/runtime/telemetry/nats_auth.js';
import { EventLog } from '../../shared/runtime/telemetry/events.js';
import { NatsServer, findNatsServer } from '../../shared/runtime/telemetry/nats_server.js';
import { parseStepTelemetry, stepSubject, type RunEventBody, type StepTelemetry } from '../../shared/runtime/telemetry/payloads.js';
import { telemetryFromHeartbeat } from '../../shared/training/step_record.js';
import { TelemetryAggregator } from './aggregator.js';

/** Where the run's telemetry goes. */
export type TelemetryMode = 'nats' | 'nats-local' | 'grpc';

export interface TelemetrySummary {
  mode: TelemetryMode;
  nats_url: string;
  /** Steps the aggregator took from each source. */
  received: { nats: number; grpc: number };
  /** NATS connection gaps of the coordinator (the first connection included when it had to wait). */
  gaps: Array<{ ms: number }>;
  events_stored: number;
  /** The coordinator's /metrics and /api/workers base URL while it ran; empty when off. */
  metrics_url?: string;
  /** The Chrome-trace timeline file; empty when off. */
  timeline?: string;
}

export class CoordinatorTelemetry {
  readonly aggregator: TelemetryAggregator;
  /** A rank's heartbeat figures wait one step for NATS to bring the same step first. */
  private readonly heldBack = new Map<number, StepTelemetry>();
  private readonly subscription: Promise<void>;
  private readonly eventListeners: Array<(e: RunEventBody) => void> = [];
  private readonly refusalListeners: Array<(method: string, reason: string) => void> = [];
  /** Calls refused by the Coordinator service (bad token or secret, malformed), by method and reason. */
  readonly refusals = new Map<string, number>();

  private constructor(
    readonly mode: TelemetryMode, readonly natsUrl: string, readonly runId: string,
    private readonly conn: TelemetryConnection | undefined, private readonly events: EventLog | undefined,
    private readonly server: NatsServer | undefined,
  ) {
    this.aggregator = new TelemetryAggregator(runId);
    this.subscription = this.subscribe();
  }

  /** Resolves NATS (configured, local, or none: said in the log) and subscribes. */
  static async start(cfg: Config['telemetry'], runId: string, log: Logger, auth: NatsAuth = {}): Promise<CoordinatorTelemetry> {
    const tlog = log.child({ component: 'telemetry' });
    if (!cfg.nats) {
      tlog.info('NATS telemetry off (--no-nats): per-step metrics arrive with the gRPC heartbeats');
      return new CoordinatorTelemetry('grpc', '', runId, undefined, undefined, undefined);
    }
    let url = cfg.natsUrl, server: NatsServer | undefined, mode: TelemetryMode = 'nats';
    if (!url) {
      const binary = findNatsServer();
      if (!binary) {
        tlog.warn('no --nats-url and no nats-server on PATH (apt-get install nats-server): per-step metrics arrive with the gRPC heartbeats, run events are only logged');
        return new CoordinatorTelemetry('grpc', '', runId, undefined, undefined, undefined);
      }
      server = await NatsServer.start({ binary });
      url = server.url;
      mode = 'nats-local';
      tlog.info({ url, binary, storeDir: server.storeDir, pid: server.pid }, 'started a local nats-server with JetStream for telemetry (give --nats-url to use your own)');
    }
    // the local nats-server (loopback only) is open; a configured one gets this process's credentials
    const conn = new TelemetryConnection({ url, name: `dsi-coordinator-${runId}`, log: tlog, ...(server ? {} : { auth }) });
    const events = new EventLog({ runId, telemetry: conn, log: tlog });
    return new CoordinatorTelemetry(mode, url, runId, conn, events, server);
  }

  private async subscribe(): Promise<void> {
    if (!this.conn) return;
    for await (const t of this.conn.subscribe(stepSubject(this.runId, '*'), parseStepTelemetry)) this.aggregator.record(t, 'nats');
  }

  /** Appends a run event (JetStream when NATS is there; always logged by the caller's own lines). */
  event(body: RunEventBody): void {
    this.events?.append(body);
    for (const l of this.eventListeners) l(body);
  }

  /** Calls `fn` for every run event from now on; returns the function that stops it. */
  onEvent(fn: (e: RunEventBody) => void): () => void {
    this.eventListeners.push(fn);
    return () => { const i = this.eventListeners.indexOf(fn); if (i >= 0) this.eventListeners.splice(i, 1); };
  }

  /** A call was refused (counted for /metrics; not a run event: a flood of them must not fill the event log). */
  refused(method: string, reason: string): void {
    const key = `${method} ${reason}`;
    this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
    for (const l of this.refusalListeners) l(method, reason);
  }

  onRefused(fn: (method: string, reason: string) => void): () => void {
    this.refusalListeners.push(fn);
    return () => { const i = this.refusalListeners.indexOf(fn); if (i >= 0) this.refusalListeners.splice(i, 1); };
  }

  /** A heartbeat's step figures: taken at once without NATS, else one step later if NATS did not bring them. */
  fromHeartbeat(h: { rank: number; workerId: string; step: number; lossScale: number }, x: WorkerMetrics__Output): void {
    const t = telemetryFromHeartbeat({ runId: this.runId, ...h }, x);
    if (!this.conn) { this.aggregator.record(t, 'grpc'); return; }
    const held = this.heldBack.get(h.rank);
    if (held) this.aggregator.record(held, 'grpc');   // a duplicate when NATS delivered it: dropped
    this.heldBack.set(h.rank, t);
  }

  summary(): TelemetrySummary {
    return {
      mode: this.mode, nats_url: this.natsUrl, received: { ...this.aggregator.received },
      gaps: (this.conn?.gaps ?? []).map((g) => ({ ms: g.ms })), events_stored: this.events?.stored ?? 0,
    };
  }

  /**
   * Stores the queued events, lets NATS deliver what is in flight (flush: the server has seen
   * everything sent before it), fills remaining steps from the held-back heartbeats, and closes.
   */
  async close(): Promise<void> {
    await this.events?.close();
    const nc = this.conn?.connected ? await this.conn.connection() : undefined;
    await nc?.flush().catch(() => undefined);
    for (const t of this.heldBack.values()) this.aggregator.record(t, 'grpc');
    this.heldBack.clear();
    await this.conn?.close();
    await this.subscription;
    if (this.server) await this.server.close();
  }
}
