/**
 * The worker's side of the Coordinator service: Join (retried until the coordinator answers, a
 * refusal typed by its JoinRefusal), Heartbeat, Control, Leave, and the chunked UploadState of its
 * state. Join carries the run's join token; every later call the membership secret Join returned.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../shared/runtime/log.js';
import type { LoadedProtos } from '../shared/runtime/proto_load.js';
import { channelCredentials, channelOptions, type TlsMaterial } from '../shared/runtime/security.js';
import type { TrainState } from '../shared/training/setup.js';
import type { LossScalerState } from '../shared/training/loss_scaler.js';
import { JOIN_REFUSAL_METADATA } from '../shared/training/cluster_plan.js';
import type { CoordinatorClient } from '../proto/gen/dsi/v1/Coordinator.js';
import type { JoinRequest } from '../proto/gen/dsi/v1/JoinRequest.js';
import type { JoinReply__Output } from '../proto/gen/dsi/v1/JoinReply.js';
import { JoinRefusal, type JoinRefusal__Output } from '../proto/gen/dsi/v1/JoinRefusal.js';
import type { HeartbeatRequest } from '../proto/gen/dsi/v1/HeartbeatRequest.js';
import type { ControlRequest } from '../proto/gen/dsi/v1/ControlRequest.js';
import type { StateChunk } from '../proto/gen/dsi/v1/StateChunk.js';
import { CoordinatorUnreachableError } from './coordinator_watch.js';

/** Largest state chunk uploaded at once (gRPC's default message limit is 4 MiB). */
const STATE_CHUNK_BYTES = 2 << 20;
const JOIN_RETRY_MS = 250;
const JOIN_CALL_TIMEOUT_MS = 5_000;
const HEARTBEAT_TIMEOUT_MS = 10_000;
const LEAVE_TIMEOUT_MS = 5_000;

/** The coordinator answered Join with a refusal (not: could not be reached). */
export class JoinRefusedError extends Error {
  override name = 'JoinRefusedError';
  constructor(readonly refusal: JoinRefusal__Output, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The JoinRefusal a refused Join's trailing metadata names (UNSPECIFIED from an older coordinator). */
function refusalOf(e: grpc.ServiceError): JoinRefusal__Output {
  const value = e.metadata?.get(JOIN_REFUSAL_METADATA)[0];
  const names: readonly string[] = Object.values(JoinRefusal);
  return typeof value === 'string' && names.includes(value) ? value as JoinRefusal__Output : JoinRefusal.JOIN_REFUSAL_UNSPECIFIED;
}

function unary<Req, Res>(fn: (req: Req, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => unknown, req: Req, timeoutMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r as Res)));
  });
}

export interface CoordinatorConnectionOptions {
  /** The run's join token (security.joinTokenFile). @default none */
  joinToken?: string;
  /** Mutual TLS to the coordinator. @default plaintext */
  tls?: TlsMaterial;
}

export class CoordinatorConnection {
  readonly client: CoordinatorClient;
  /** JoinReply.member_secret, once joined: every later call carries it. */
  private secret: Buffer = Buffer.alloc(0);

  constructor(readonly address: string, protos: LoadedProtos, private readonly o: CoordinatorConnectionOptions = {}) {
    this.client = new protos.grpc.dsi.v1.Coordinator(address, channelCredentials(o.tls), channelOptions(o.tls)) as CoordinatorClient;
  }

  /** Joins, retrying while the coordinator is not reachable yet; a refusal is final. */
  async join(req: Omit<JoinRequest, 'joinToken'>, timeoutMs: number, log: Logger): Promise<JoinReply__Output> {
    const deadline = Date.now() + timeoutMs;
    const withToken: JoinRequest = { ...req, joinToken: this.o.joinToken ?? '' };
    for (;;) {
      try {
        // no call outlives the caller's deadline (a worker waiting for a lost coordinator waits that long, not longer)
        const reply = await unary<JoinRequest, JoinReply__Output>(this.client.join.bind(this.client), withToken, Math.max(JOIN_RETRY_MS, Math.min(JOIN_CALL_TIMEOUT_MS, deadline - Date.now())));
        this.secret = reply.memberSecret;
        return reply;
      } catch (e) {
        const err = e as grpc.ServiceError;
        // refused for a reason (wrong model, run full, duplicate id): no point retrying
        if (err.code !== grpc.status.UNAVAILABLE && err.code !== grpc.status.DEADLINE_EXCEEDED)
          throw new JoinRefusedError(refusalOf(err), `join refused by ${this.address}: ${err.details || err.message}`, { cause: e });
        if (Date.now() > deadline) throw new CoordinatorUnreachableError(this.address, timeoutMs, err.details || err.message, { cause: e });
        log.debug({ coordinator: this.address }, 'coordinator not reachable yet');
        await new Promise((r) => setTimeout(r, JOIN_RETRY_MS));
      }
    }
  }

  heartbeat(req: Omit<HeartbeatRequest, 'memberSecret'>): Promise<unknown> {
    return unary(this.client.heartbeat.bind(this.client), { ...req, memberSecret: this.secret }, HEARTBEAT_TIMEOUT_MS);
  }

  /** The control stream (commands, in order, until Stop). */
  control(req: Omit<ControlRequest, 'memberSecret'>): grpc.ClientReadableStream<unknown> {
    return this.client.control({ ...req, memberSecret: this.secret });
  }

  /** Says goodbye; a coordinator already gone is no error. */
  async leave(runId: string, workerId: string): Promise<void> {
    await unary(this.client.leave.bind(this.client), { runId, workerId, reason: 'finished', memberSecret: this.secret }, LEAVE_TIMEOUT_MS).catch(() => undefined);
  }

  /** Streams the trainable parameters (and optimizer moments) to the coordinator in chunks. */
  async uploadState(
    ids: { runId: string; checkpointId: string; workerId: string; rank: number },
    s: TrainState, scaler: LossScalerState, includeOptimizer: boolean,
  ): Promise<void> {
    const parts: Array<{ part: StateChunk['part']; name: string; data: Uint8Array; dtype: StateChunk['dtype'] }> = [
      { part: 'STATE_PART_WEIGHTS', name: 'params', data: bytesOf(s.params), dtype: 'TENSOR_DTYPE_FLOAT32' },
    ];
    if (includeOptimizer) {
      parts.push({ part: 'STATE_PART_OPTIMIZER', name: 'adamw.exp_avg', data: bytesOf(s.opt.m), dtype: 'TENSOR_DTYPE_FLOAT32' });
      parts.push({ part: 'STATE_PART_OPTIMIZER', name: 'adamw.exp_avg_sq', data: bytesOf(s.opt.v), dtype: 'TENSOR_DTYPE_FLOAT32' });
    }
    const worker = Buffer.from(JSON.stringify({ adamT: s.opt.t, lossScale: scaler }));
    parts.push({ part: 'STATE_PART_WORKER', name: '', data: worker, dtype: 'TENSOR_DTYPE_BYTES' });
    await new Promise<void>((resolve, reject) => {
      const call = this.client.uploadState((e) => (e ? reject(e) : resolve()));
      parts.forEach((p, pi) => {
        for (let off = 0; off < p.data.length || off === 0; off += STATE_CHUNK_BYTES) {
          const end = Math.min(p.data.length, off + STATE_CHUNK_BYTES);
          call.write({
            ...ids, memberSecret: this.secret, step: s.step, part: p.part, tensorName: p.name, shape: [p.data.length / (p.dtype === 'TENSOR_DTYPE_BYTES' ? 1 : 4)],
            dtype: p.dtype, offsetBytes: off, data: Buffer.from(p.data.buffer, p.data.byteOffset + off, end - off),
            lastChunk: end === p.data.length, lastOfUpload: end === p.data.length && pi === parts.length - 1,
          });
          if (p.data.length === 0) break;
        }
      });
      call.end();
    });
  }

  close(): void {
    this.client.close();
  }
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
