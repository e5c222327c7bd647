/**
 * What the coordinator hands every worker at Join (JoinReply.config_json): the resolved run
 * configuration and where the run starts. Both sides build the model from it the same way.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../runtime/config.js';
import { PRESET_CONFIGS, configFingerprint } from '../model/config.js';

/** Version of the coordinator/worker contract; a worker speaking another is refused at Join. */
export const PROTOCOL_VERSION = 2;
export const RUN_CONFIG_KEY = 'config';
/**
 * Words in a Join refusal (and the prefix of a Stop reason) meaning "the run goes on without this
 * worker": it is done, not failed, so it exits 0 and a Kubernetes Job does not restart it forever.
 */
export const RUN_GOES_ON = 'the run goes on without it';
export const STOP_DROPPED = 'dropped: ';
export const STOP_RELEASED = 'released: ';

export interface RunPlan {
  config: Config;
  /** Resolved prepared-dataset folder (every worker reads examples from it). */
  dataDir: string;
  /** Checkpoint folder to resume from; empty: fresh start. */
  resumeFrom: string;
  /** Dynamic loss scale to start with (from the checkpoint when resuming). */
  lossScale?: number;
  /** NATS server(s) workers publish telemetry to; empty: telemetry over the gRPC heartbeats only. */
  natsUrl?: string;
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
