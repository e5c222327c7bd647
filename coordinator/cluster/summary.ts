/** The run's summary (summary.json, `start --json`) and its progress lines. */
import type { GpuAdapterReport } from '../../shared/runtime/webgpu.js';
import type { MemoryFigures } from '../../shared/model/peft.js';
import type { PruningSchedule } from '../../shared/training/pruning.js';
import type { EvaluationPoint } from '../telemetry/aggregator.js';
import type { TelemetrySummary } from '../telemetry/coordinator_telemetry.js';
import type { EvalSummary } from './evaluate_run.js';
import type { Member, Membership } from './membership.js';
import type { ExampleAccounting } from './applied_steps.js';

export interface WorkerSummary {
  rank: number;
  worker_id: string;
  backend: string;
  samples_per_s: number;
  tokens_per_s: number;
  compute_share: number;
  all_reduce_share: number;
  waiting_share: number;
  step_ms: number;
  peak_rss_bytes: number;
  peak_tensor_bytes: number;
}

export interface ClusterSummary {
  run_dir: string;
  run_id: string;
  data_dir: string;
  backend: string;
  /** The WebGPU adapter (name, api, software or hardware) when the backend is webgpu. */
  device?: GpuAdapterReport;
  preset: string;
  mode: string;
  memory: MemoryFigures;
  parameters: number;
  trainable_parameters: number;
  world_size: number;
  /** Workers at the end: world_size less those lost mid-run (lost_workers). */
  final_world_size: number;
  /** Workers dropped mid-run, each with the step it was lost in and the workers left after it. */
  lost_workers: Array<{ worker_id: string; rank: number; step: number; reason: string; world_size: number }>;
  /** Workers that entered the ring again after a loss (or replaced a lost one): the first step they trained, and the ring's size then. */
  rejoined_workers: Array<{ worker_id: string; step: number; world_size: number }>;
  /** Local worker processes started again (cluster.maxRestarts). */
  worker_restarts: number;
  /** The example positions the applied steps used, against the plan (applied_steps.ts): each of steps 1..steps exactly once. */
  examples: ExampleAccounting;
  wire: string;
  start_step: number;
  steps: number;
  loss_first: number;
  loss_last: number;
  losses: number[];
  skipped_steps: number;
  samples_per_s: number;
  tokens_per_s: number;
  train_seconds: number;
  interrupted: boolean;
  eval?: EvalSummary;
  /** --eval-every: retrieval on a subset of the split during training (the final `eval` is on all of it). */
  eval_curve?: EvaluationPoint[];
  /** What the run trained on: the sampler's mix (shared/training/sampler.ts) and the decoder's output rows. */
  training_data: { mix: string; decoder_output: 'docids' | 'vocab'; output_rows: number };
  checkpoint: string;
  workers: WorkerSummary[];
  /** Where per-step metrics and run events went (NATS, a local nats-server, or the gRPC heartbeats only). */
  telemetry: TelemetrySummary;
  /** Dynamic pruning: the schedule, each mask set (target and reached sparsity), the final sparsity per layer. */
  pruning?: { schedule: PruningSchedule; masks: Array<{ step: number; target: number; reached: number }>; final: { overall: number; perLayer: Record<string, number> } };
}

/** A step's progress as the 'step' log record carries it: step, steps, loss, seconds left, each rank's figures. */
export type StepProgress = {
  step: number; steps: number; loss: number; etaSec: number;
  workers: Array<{ rank: number; samplesPerSec: number; tokensPerSec: number; compute: number; allReduce: number; waiting: number }>;
};

export function stepProgress(step: number, steps: number, members: Membership, t0: number, startStep: number): StepProgress {
  const elapsed = (performance.now() - t0) / 1000;
  const per = members.ordered().map((m) => {
    const x = m.metrics;
    const total = x ? x.stepMs : 0;
    return {
      rank: m.rank, samplesPerSec: round(x?.samplesPerSec ?? 0), tokensPerSec: round(x?.tokensPerSec ?? 0),
      compute: share(x?.computeMs, total), allReduce: share(x?.allReduceMs, total), waiting: share(x?.waitingMs, total),
    };
  });
  const loss = members.ordered()[0]?.metrics?.loss ?? NaN;
  return { step, steps, loss: round(loss), etaSec: Math.round((elapsed / (step - startStep)) * (steps - step)), workers: per };
}

export function workerSummary(m: Member): WorkerSummary {
  const t = m.totals, n = Math.max(1, t.steps);
  return {
    rank: m.rank, worker_id: m.workerId, backend: m.backend, samples_per_s: t.samplesPerSec / n, tokens_per_s: t.tokensPerSec / n,
    compute_share: t.stepMs ? t.computeMs / t.stepMs : 0, all_reduce_share: t.stepMs ? t.allReduceMs / t.stepMs : 0,
    waiting_share: t.stepMs ? t.waitingMs / t.stepMs : 0,
    step_ms: t.stepMs / n, peak_rss_bytes: t.peakRssBytes, peak_tensor_bytes: t.peakTensorBytes,
  };
}

function share(part: number | undefined, total: number): number {
  return total > 0 ? round((part ?? 0) / total) : 0;
}

export function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
