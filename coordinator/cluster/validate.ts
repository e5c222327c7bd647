/**
 * Bounds of every field the Coordinator service accepts, checked at the edge before any state
 * changes: anything outside them is refused with the field's name and what was wrong (never an
 * echo of a long or binary value). Membership decides; this only says whether a message is well-formed.
 */
import type { HeartbeatRequest__Output } from '../../proto/gen/dsi/v1/HeartbeatRequest.js';
import type { JoinRequest__Output } from '../../proto/gen/dsi/v1/JoinRequest.js';
import type { StateChunk__Output } from '../../proto/gen/dsi/v1/StateChunk.js';
import type { WorkerMetrics__Output } from '../../proto/gen/dsi/v1/WorkerMetrics.js';
import { MAX_TOKEN_CHARS, SECRET_BYTES } from '../../shared/runtime/security.js';

/** A field that is out of bounds, and why. */
export interface Invalid {
  field: string;
  reason: string;
}

/** Worker and run ids: names in logs, labels and NATS subjects, so short and plain. */
export const MAX_ID_CHARS = 128;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
/** host:port (DNS name, IPv4, or [IPv6]); 253 is DNS's limit on a name. */
const ADDRESS_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\]):(\d{1,5})$/;
const BACKEND_RE = /^[a-z0-9-]{1,32}$/;
const HASH_RE = /^[0-9a-f]{64}$/;
/** Ring sizes and ranks: far above any real run, low enough that no loop or map over them hurts. */
export const MAX_WORLD_SIZE = 4096;
/** FNV-1a hex and the parameter count (worker_process.ts paramChecksum). */
const CHECKSUM_RE = /^[0-9a-f]{8}:\d{1,12}$/;
/** Free text (reasons) is logged: kept to a line. */
export const MAX_REASON_CHARS = 2048;
/** Largest StateChunk payload (workers send 2 MiB; gRPC's message limit is 4 MiB). */
export const MAX_STATE_CHUNK_BYTES = 4 << 20;
/** The worker part of an upload is a small JSON object (Adam's t, the loss scale). */
export const MAX_WORKER_STATE_BYTES = 64 << 10;
/** Tensors an upload may name (coordinator_client.ts uploadState). */
export const STATE_TENSORS = ['params', 'adamw.exp_avg', 'adamw.exp_avg_sq'] as const;

export function checkId(field: string, v: string): Invalid | undefined {
  if (v.length === 0) return { field, reason: 'is empty' };
  if (v.length > MAX_ID_CHARS) return { field, reason: `has ${v.length} characters, more than ${MAX_ID_CHARS}` };
  if (!ID_RE.test(v)) return { field, reason: 'may hold only letters, digits and . _ / - (starting with a letter or digit)' };
  return undefined;
}

export function checkSecret(field: string, v: Uint8Array): Invalid | undefined {
  if (v.byteLength !== SECRET_BYTES) return { field, reason: `has ${v.byteLength} bytes, expected ${SECRET_BYTES} (the secret from JoinReply)` };
  return undefined;
}

function uint(field: string, v: number, max: number): Invalid | undefined {
  return Number.isInteger(v) && v >= 0 && v <= max ? undefined : { field, reason: `${v} is not an integer in [0, ${max}]` };
}

export function checkJoin(r: JoinRequest__Output): Invalid | undefined {
  if (r.joinToken.length > MAX_TOKEN_CHARS) return { field: 'join_token', reason: `is longer than ${MAX_TOKEN_CHARS} characters` };
  const id = checkId('worker_id', r.workerId);
  if (id) return id;
  const port = ADDRESS_RE.exec(r.address)?.[1];
  if (!port || Number(port) < 1 || Number(port) > 65535) return { field: 'address', reason: `is not host:port (${r.address.length} characters)` };
  if (!BACKEND_RE.test(r.backend)) return { field: 'backend', reason: 'is not a backend name (a-z, 0-9, -; at most 32)' };
  if (!HASH_RE.test(r.modelConfigHash)) return { field: 'model_config_hash', reason: 'is not 64 lower-case hex digits' };
  return undefined;
}

/** Bounds of a heartbeat (`maxStep`: the run's last step). Ranks and epochs are checked against the membership. */
export function checkHeartbeat(r: HeartbeatRequest__Output, maxStep: number): Invalid | undefined {
  const first = checkId('worker_id', r.workerId) ?? checkId('run_id', r.runId) ?? checkSecret('member_secret', r.memberSecret)
    ?? uint('rank', r.rank, MAX_WORLD_SIZE - 1) ?? uint('step', r.step, maxStep) ?? uint('ring_epoch', r.ringEpoch, 0xffffffff);
  if (first) return first;
  if (r.paramChecksum !== '' && !CHECKSUM_RE.test(r.paramChecksum)) return { field: 'param_checksum', reason: 'is not <8 hex digits>:<parameter count>' };
  if (!(Number.isFinite(r.lossScale) && r.lossScale >= 0)) return { field: 'loss_scale', reason: `${r.lossScale} is not a finite number >= 0` };
  const f = r.ringFailure;
  if (f) {
    if (!Number.isInteger(f.neighbourRank) || f.neighbourRank < -1 || f.neighbourRank >= MAX_WORLD_SIZE) return { field: 'ring_failure.neighbour_rank', reason: `${f.neighbourRank} is not -1 or a rank` };
    if (f.reason.length > MAX_REASON_CHARS) return { field: 'ring_failure.reason', reason: `is longer than ${MAX_REASON_CHARS} characters` };
  }
  return r.metrics ? checkMetrics(r.metrics) : undefined;
}

/**
 * Figures go into sums, Prometheus and the dashboard: finite and not negative. Loss and gradient norm
 * are reported as they are (NaN before a step, Inf or NaN on an overflowed step the run skips).
 */
function checkMetrics(m: WorkerMetrics__Output): Invalid | undefined {
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'number' || k === 'loss' || k === 'gradNorm') continue;
    if (k === 'sparsity' && v === -1) continue;
    if (!Number.isFinite(v) || v < 0) return { field: `metrics.${snake(k)}`, reason: `${v} is not a finite number >= 0` };
  }
  if (m.sparsity > 1) return { field: 'metrics.sparsity', reason: `${m.sparsity} is above 1` };
  return undefined;
}

/** One state chunk's own bounds (the order of chunks and totals are the upload's: uploads.ts). */
export function checkStateChunk(c: StateChunk__Output, maxStep: number): Invalid | undefined {
  const first = checkId('worker_id', c.workerId) ?? checkId('run_id', c.runId) ?? checkId('checkpoint_id', c.checkpointId)
    ?? checkSecret('member_secret', c.memberSecret) ?? uint('rank', c.rank, MAX_WORLD_SIZE - 1) ?? uint('step', c.step, maxStep);
  if (first) return first;
  if (c.data.length > MAX_STATE_CHUNK_BYTES) return { field: 'data', reason: `${c.data.length} bytes, more than ${MAX_STATE_CHUNK_BYTES}` };
  if (!(Number.isSafeInteger(c.offsetBytes) && c.offsetBytes >= 0)) return { field: 'offset_bytes', reason: `${c.offsetBytes} is not an integer >= 0` };
  if (c.shape.length > 8) return { field: 'shape', reason: `${c.shape.length} dimensions` };
  if (c.part === 'STATE_PART_WORKER') return c.tensorName === '' ? undefined : { field: 'tensor_name', reason: 'must be empty for STATE_PART_WORKER' };
  if (c.part !== 'STATE_PART_WEIGHTS' && c.part !== 'STATE_PART_OPTIMIZER') return { field: 'part', reason: `'${String(c.part)}' is not a state part` };
  if (!(STATE_TENSORS as readonly string[]).includes(c.tensorName)) return { field: 'tensor_name', reason: `is not one of ${STATE_TENSORS.join(', ')}` };
  return undefined;
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
