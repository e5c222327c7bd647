/**
 * What the coordinator hands every worker at Join (JoinReply.plan, a RunPlan message): the resolved
 * run configuration and where the run starts. Both sides build the model from it the same way.
 */
import { createHash } from 'node:crypto';
import { loadConfig, type Config } from '../runtime/config.js';
import { PRESET_CONFIGS, configFingerprint } from '../model/config.js';
import type { RunPlan as RunPlanMessage, RunPlan__Output } from '../../proto/gen/dsi/v1/RunPlan.js';

/** Version of the coordinator/worker contract; a worker speaking another is refused at Join. */
export const PROTOCOL_VERSION = 6;
/** Trailing-metadata key of a refused Join: the JoinRefusal's name (proto/dsi/v1/coordinator.proto). */
export const JOIN_REFUSAL_METADATA = 'dsi-join-refusal';

export interface RunPlan {
  config: Config;
  /** Resolved prepared-dataset folder (every worker reads examples from it). */
  dataDir: string;
  /** Checkpoint folder to resume from; empty: fresh start. */
  resumeFrom: string;
  /** Dynamic loss scale to start with (from the checkpoint when resuming); undefined: cluster.lossScale. */
  lossScale?: number;
  /** NATS server(s) workers publish telemetry to; empty: telemetry over the gRPC heartbeats only. */
  natsUrl: string;
}

export function encodeRunPlan(p: RunPlan): RunPlanMessage {
  return { configJson: JSON.stringify(p.config), dataDir: p.dataDir, resumeFrom: p.resumeFrom, lossScale: p.lossScale ?? 0, natsUrl: p.natsUrl };
}

/** The plan a worker received, its configuration validated by the same schema as the coordinator's. */
export function decodeRunPlan(m: RunPlan__Output): RunPlan {
  const config = loadConfig({ args: [], env: {}, defaults: JSON.parse(m.configJson) as Record<string, unknown> });
  return { config, dataDir: m.dataDir, resumeFrom: m.resumeFrom, natsUrl: m.natsUrl, ...(m.lossScale > 0 ? { lossScale: m.lossScale } : {}) };
}

/**
 * Hash of the model a process would build from its own settings (preset shapes, or the
 * Hugging Face folder it starts from, and the training mode). The vocabulary is left out: atomic
 * docids grow it from the data, which the coordinator sends.
 */
export function modelConfigHash(cfg: Config): string {
  const shape = cfg.model.from ? `from:${cfg.model.from}` : configFingerprint({ ...PRESET_CONFIGS[cfg.model.preset], vocabSize: 0 });
  return createHash('sha256').update(JSON.stringify([shape, cfg.train.mode, cfg.lora])).digest('hex');
}
