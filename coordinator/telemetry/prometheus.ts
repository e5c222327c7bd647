/**
 * The run's Prometheus metrics, fed by the telemetry aggregator and the run events. Names follow
 * Prometheus conventions: a `dsi_` prefix, base units in the name (seconds, bytes), `_total` on
 * counters, the rank as a label; rates (samples/s, tokens/s) are PromQL's rate() over counters.
 * One registry per run (no module-global default registry), with Node's process metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunEvent, RunEventBody, StepTelemetry } from '../../shared/runtime/telemetry/payloads.js';
import type { TelemetrySource } from './aggregator.js';

/** Step time buckets (seconds): 10 ms to 2 minutes, t5-tiny on a CPU to t5-base on a slow node. */
const STEP_SECONDS_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Phase label values, in step order (StepPhasesMs keys in snake_case). */
const PHASES = [['data', 'data'], ['forwardBackward', 'forward_backward'], ['waiting', 'all_reduce_waiting'], ['allReduce', 'all_reduce'], ['optimizer', 'optimizer']] as const;

/** prom-client default metrics whose names break Prometheus's conventions. */
const NON_CONVENTIONAL_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class RunMetrics {
  readonly registry = new Registry();
  private readonly steps: Counter<'rank'>;
  private readonly samples: Counter<'rank'>;
  private readonly tokens: Counter<'rank'>;
  private readonly phaseSeconds: Counter<'rank' | 'phase'>;
  private readonly stepSeconds: Histogram<'rank'>;
  private readonly sentBytes: Counter<'rank'>;
  private readonly skipped: Counter<'rank'>;
  private readonly lastStep: Gauge<'rank'>;
  private readonly loss: Gauge<'rank'>;
  private readonly gradNorm: Gauge<'rank'>;
  private readonly lossScale: Gauge<'rank'>;
  private readonly sparsity: Gauge<'rank'>;
  private readonly rss: Gauge<'rank'>;
  private readonly tensorBytes: Gauge<'rank'>;
  private readonly workerRefusals: Gauge<'rank' | 'reason'>;
  private readonly received: Counter<'source'>;
  private readonly events: Counter<'type'>;
  private readonly refusals: Counter<'method' | 'reason'>;
  private readonly workers: Gauge;

  constructor(runId: string, worldSize: number, telemetryMode: string) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool says so)
    for (const name of NON_CONVENTIONAL_DEFAULTS) this.registry.removeSingleMetric(name);
    const info = new Gauge({ name: 'dsi_run_info', help: 'The run this coordinator drives (always 1).', labelNames: ['run_id', 'telemetry'], registers });
    info.set({ run_id: runId, telemetry: telemetryMode }, 1);
    new Gauge({ name: 'dsi_run_world_size', help: 'Workers the run trains with.', registers }).set(worldSize);
    this.workers = new Gauge({ name: 'dsi_run_workers_joined', help: 'Workers joined and not yet left.', registers });
    this.steps = new Counter({ name: 'dsi_worker_steps_total', help: 'Training steps a worker finished.', labelNames: ['rank'], registers });
    this.samples = new Counter({ name: 'dsi_worker_samples_total', help: 'Training examples a worker processed.', labelNames: ['rank'], registers });
    this.tokens = new Counter({ name: 'dsi_worker_tokens_total', help: 'Input + target tokens a worker processed.', labelNames: ['rank'], registers });
    this.phaseSeconds = new Counter({ name: 'dsi_worker_step_phase_seconds_total', help: 'Step time by phase: data, forward_backward, all_reduce_waiting, all_reduce, optimizer.', labelNames: ['rank', 'phase'], registers });
    this.stepSeconds = new Histogram({ name: 'dsi_worker_step_duration_seconds', help: 'Wall time of one training step on a worker.', labelNames: ['rank'], buckets: STEP_SECONDS_BUCKETS, registers });
    this.sentBytes = new Counter({ name: 'dsi_worker_allreduce_sent_bytes_total', help: 'All-reduce bytes a worker put on the wire.', labelNames: ['rank'], registers });
    this.skipped = new Counter({ name: 'dsi_worker_skipped_steps_total', help: 'Steps skipped for a non-finite gradient (loss-scale overflow).', labelNames: ['rank'], registers });
    this.lastStep = new Gauge({ name: 'dsi_worker_last_step', help: 'Last step a worker reported.', labelNames: ['rank'], registers });
    this.loss = new Gauge({ name: 'dsi_worker_loss', help: 'Training loss of the last step (global batch, token mean).', labelNames: ['rank'], registers });
    this.gradNorm = new Gauge({ name: 'dsi_worker_grad_norm', help: 'Global gradient norm before clipping, last step.', labelNames: ['rank'], registers });
    this.lossScale = new Gauge({ name: 'dsi_worker_loss_scale', help: 'Dynamic loss scale in force.', labelNames: ['rank'], registers });
    this.sparsity = new Gauge({ name: 'dsi_worker_sparsity_ratio', help: 'Share of zero prunable weights (once pruning masks apply).', labelNames: ['rank'], registers });
    this.rss = new Gauge({ name: 'dsi_worker_resident_memory_bytes', help: 'Resident memory of the worker process.', labelNames: ['rank'], registers });
    this.tensorBytes = new Gauge({ name: 'dsi_worker_tensor_bytes', help: 'Bytes held in TensorFlow.js tensors after the step.', labelNames: ['rank'], registers });
    // a gauge: the worker reports its running total (a worker that restarts starts again at 0)
    this.workerRefusals = new Gauge({ name: 'dsi_worker_refused_connections', help: 'Connections a worker refused since it started: failed TLS handshakes (reason tls_handshake), ring connections or port lookups without the ring secret, malformed or too many (reason ring).', labelNames: ['rank', 'reason'], registers });
    this.received = new Counter({ name: 'dsi_telemetry_steps_received_total', help: 'Worker steps the coordinator took, by source (nats or grpc heartbeat).', labelNames: ['source'], registers });
    this.events = new Counter({ name: 'dsi_run_events_total', help: 'Run events, by type.', labelNames: ['type'], registers });
    this.refusals = new Counter({ name: 'dsi_coordinator_refused_calls_total', help: 'Coordinator gRPC calls refused (wrong or missing join token or membership secret, malformed fields), by method and reason.', labelNames: ['method', 'reason'], registers });
  }

  step(t: StepTelemetry, source: TelemetrySource): void {
    const rank = { rank: String(t.rank) };
    this.steps.inc(rank);
    this.samples.inc(rank, t.samples);
    this.tokens.inc(rank, t.tokens);
    for (const [key, phase] of PHASES) this.phaseSeconds.inc({ ...rank, phase }, t.phasesMs[key] / 1000);
    this.stepSeconds.observe(rank, t.stepMs / 1000);
    this.sentBytes.inc(rank, t.bytesSent);
    this.skipped.inc(rank, t.skipped ? 1 : 0);   // 0 too: the series exists (at 0) before the first overflow
    this.lastStep.set(rank, t.step);
    if (Number.isFinite(t.loss)) this.loss.set(rank, t.loss);
    if (Number.isFinite(t.gradNorm)) this.gradNorm.set(rank, t.gradNorm);
    this.lossScale.set(rank, t.lossScale);
    if (t.sparsity !== null) this.sparsity.set(rank, t.sparsity);
    this.rss.set(rank, t.rssBytes);
    this.tensorBytes.set(rank, t.tensorBytes);
    if (t.refused) {
      this.workerRefusals.set({ ...rank, reason: 'tls_handshake' }, t.refused.tlsHandshakes);
      this.workerRefusals.set({ ...rank, reason: 'ring' }, t.refused.ringConnections);
    }
    this.received.inc({ source });
  }

  event(e: RunEventBody | RunEvent): void {
    this.events.inc({ type: e.type });
    if (e.type === 'worker_joined') this.workers.inc();
    else if (e.type === 'worker_left') this.workers.dec();
  }

  refused(method: string, reason: string): void {
    this.refusals.inc({ method, reason });
  }

  /** The text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
