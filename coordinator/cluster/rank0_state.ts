/**
 * What the coordinator does with rank 0's state (replicas are identical, so one upload is enough):
 * checkpoints, evaluation during training, and the pruning masks it computes and broadcasts.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../shared/runtime/config.js';
import type { Logger } from '../../shared/runtime/log.js';
import type { ParamLayout } from '../../shared/model/params.js';
import { applyMasks } from '../../shared/model/pruning_masks.js';
import type { PreparedDataset } from '../../shared/dataset/reader.js';
import type { T5Tokenizer } from '../../shared/dataset/tokenizer.js';
import { writeCheckpoint, type TrainingSetup } from '../../shared/training/setup.js';
import { magnitudeMasks, sparsityReport, targetSparsity, type PruningSchedule } from '../../shared/training/pruning.js';
import type { LossScalerState } from '../../shared/training/loss_scaler.js';
import type { EvaluationPoint } from '../telemetry/aggregator.js';
import { evaluateRun, type EvalSummary } from './evaluate_run.js';
import { checkpointDir, pruneCheckpoints } from './checkpoints.js';
import type { Member, Membership } from './membership.js';
import { ClusterError } from './errors.js';
import type { UploadRegistry, UploadedState } from './uploads.js';
import { round } from './summary.js';
import type { AppliedStep } from './applied_steps.js';

/** The run's pruning schedule; endStep 0 means 3/4 of the run. */
export function pruningSchedule(cfg: Config): PruningSchedule {
  const p = cfg.prune;
  return { initial: p.initial, final: p.final, beginStep: p.beginStep, endStep: p.endStep || Math.floor((cfg.train.steps * 3) / 4), every: p.every, scope: p.scope };
}

/** What the coordinator keeps in a checkpoint's run config: the loss scaler's whole state, so a resume doubles the scale when the run would have. */
export interface ClusterState {
  runId: string; lossScale: number; lossScaleGoodSteps: number; losses: number[];
  /** The example positions every applied step used, as its ranks reported them (applied_steps.ts); absent in older checkpoints. */
  applied?: AppliedStep[];
}

/** What the coordinator stored about the cluster inside the checkpoint's run config. */
export function clusterStateOf(setup: TrainingSetup): ClusterState | undefined {
  const rc = setup.resumedRunConfig;
  return rc && typeof rc === 'object' && 'cluster_state' in rc ? (rc as { cluster_state: ClusterState }).cluster_state : undefined;
}

/** Rank 0's trainable state after its last step (replicas are identical, so one upload is enough). */
async function fetchRank0State(runId: string, step: number, members: Membership, uploads: UploadRegistry, n: number, includeOptimizer: boolean, purpose: string): Promise<UploadedState> {
  const rank0 = members.ordered()[0] as Member;
  const checkpointId = `${runId}-${purpose}-${step}`;
  const arriving = uploads.expect(checkpointId);
  members.send(rank0, { checkpoint: { checkpointId, step, includeWeights: true, includeOptimizer } });
  const state = await members.guard(arriving);
  const sizes = ['params', ...(includeOptimizer ? ['adamw.exp_avg', 'adamw.exp_avg_sq'] : [])].map((k) => state.tensors.get(k)?.length);
  if (sizes.some((x) => x !== n)) throw new ClusterError(`rank 0 uploaded state of the wrong size for step ${step}: ${sizes.join(', ')} values, expected ${n}`);
  return state;
}

export async function takeCheckpoint(
  runDir: string, runId: string, step: number, members: Membership, uploads: UploadRegistry, setup: TrainingSetup,
  cfg: Config, dataDir: string, losses: number[], applied: AppliedStep[], log: Logger,
): Promise<{ dir: string; state: ClusterState }> {
  const state = await fetchRank0State(runId, step, members, uploads, setup.trainLayout.total, true, 'checkpoint');
  const worker = state.worker as { adamT: number; lossScale: LossScalerState };
  setup.state.step = step;
  setup.state.params = state.tensors.get('params') as Float32Array;   // sizes checked by fetchRank0State
  setup.state.opt = { t: worker.adamT, m: state.tensors.get('adamw.exp_avg') as Float32Array, v: state.tensors.get('adamw.exp_avg_sq') as Float32Array };
  const dir = checkpointDir(runDir, step);
  mkdirSync(path.dirname(dir), { recursive: true });
  const clusterState: ClusterState = { runId, lossScale: worker.lossScale.scale, lossScaleGoodSteps: worker.lossScale.goodSteps, losses: [...losses], applied: [...applied] };
  await writeCheckpoint(dir, setup, { runConfig: { ...cfg, cluster_state: clusterState, world_size: members.members.size }, dataDir, losses });
  const removed = pruneCheckpoints(runDir, cfg.cluster.keepCheckpoints);
  log.info({ checkpoint: dir, step, bytes: state.bytes, removed }, 'checkpoint written');
  return { dir, state: clusterState };
}

export function evaluationPoint(step: number, seconds: number, r: EvalSummary): EvaluationPoint {
  return { step, seconds, queries: r.queries, hitsAt1: r.hits_at_1, hitsAt10: r.hits_at_10, mrrAt10: r.mrr_at_10 };
}

/** --eval-every: rank 0's weights after `step`, evaluated on the first eval.everyQueries queries (the workers wait). */
export async function evaluateDuringTraining(
  runId: string, step: number, seconds: number, members: Membership, uploads: UploadRegistry, setup: TrainingSetup,
  cfg: Config, data: PreparedDataset, tok: T5Tokenizer, runDir: string, log: Logger,
): Promise<EvaluationPoint> {
  const state = await fetchRank0State(runId, step, members, uploads, setup.trainLayout.total, false, 'eval');
  setup.state.params = state.tensors.get('params') as Float32Array;   // sizes checked by fetchRank0State
  const r = await evaluateRun({ ...cfg, eval: { ...cfg.eval, maxQueries: cfg.eval.everyQueries } }, setup, data, tok, runDir, log, `step-${step}`);
  const point = evaluationPoint(step, seconds, r);
  log.info({ ...point }, 'evaluated');
  return point;
}

/** What pruning applies to: the trained weights (full), or the frozen base (lora/qlora). */
export function prunedLayout(setup: TrainingSetup): ParamLayout {
  return setup.adapted ? setup.baseLayout : setup.trainLayout;
}

/** Mask bits per message: well under gRPC's 4 MiB. */
const MASK_CHUNK_BYTES = 1 << 20;

/** Computes magnitude masks from rank 0's weights and sends them to every worker, to apply at `step`. */
export async function broadcastMasks(
  runId: string, step: number, version: number, schedule: PruningSchedule, members: Membership, uploads: UploadRegistry,
  setup: TrainingSetup, log: Logger,
): Promise<{ step: number; target: number; reached: number }> {
  // full: the trained weights, as rank 0 has them now; lora/qlora: the frozen base, which every process holds
  const layout = prunedLayout(setup);
  const params = setup.adapted ? setup.baseParams
    : (await fetchRank0State(runId, step, members, uploads, setup.trainLayout.total, false, 'prune')).tensors.get('params') as Float32Array;
  const target = targetSparsity(schedule, step);
  const masks = magnitudeMasks(layout, params, target, schedule.scope);
  const names = [...masks.keys()];
  names.forEach((name, ti) => {
    const bits = masks.get(name) as Uint8Array;
    const elements = layout.byName.get(name)?.size ?? 0;
    for (let off = 0; off < bits.length; off += MASK_CHUNK_BYTES) {
      const end = Math.min(bits.length, off + MASK_CHUNK_BYTES);
      members.broadcast({ pruningMask: {
        maskVersion: version, tensorName: name, tensorElements: elements, offset: off * 8, bits: Buffer.from(bits.subarray(off, end)),
        lastChunk: end === bits.length, lastTensor: end === bits.length && ti === names.length - 1, applyAtStep: step,
      } });
    }
  });
  if (setup.adapted) setup.adapted.pruneBase(setup.baseParams, masks);   // the checkpoints' base is the pruned one
  else applyMasks(layout, params, masks);
  setup.masks = { version, step, masks };   // in force from `step`: the checkpoints after it store them
  const reached = sparsityReport(layout, params).overall;
  log.info({ step, version, target: round(target), reached: round(reached) }, 'pruning masks broadcast');
  return { step, target, reached };
}
