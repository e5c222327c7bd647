/**
 * The Coordinator gRPC service: decode, call the membership, encode. No decisions here. Every refusal
 * is logged with the caller's address and counted (onRefused: /metrics), never with a token or secret.
 */
import { Metadata, status, type sendUnaryData } from '@grpc/grpc-js';
import { JOIN_REFUSAL_METADATA } from '../../shared/training/cluster_plan.js';
import type { CoordinatorHandlers } from '../../proto/gen/dsi/v1/Coordinator.js';
import type { StateChunk__Output } from '../../proto/gen/dsi/v1/StateChunk.js';
import type { UploadStateReply } from '../../proto/gen/dsi/v1/UploadStateReply.js';
import type { Logger } from '../../shared/runtime/log.js';
import { secretsEqual } from '../../shared/runtime/security.js';
import { isMember, type CallRefusal, type Member, type Membership } from './membership.js';
import type { UploadAssembly, UploadRegistry } from './uploads.js';
import { checkStateChunk } from './validate.js';

export interface ServiceOptions {
  /** Last step of the run (train.steps): bounds the steps a call may name. */
  maxStep: number;
  /** A call was refused: `method` (Join, Heartbeat...) and a short reason label (join refusal, status name). */
  onRefused?: (method: string, reason: string) => void;
}

export function coordinatorHandlers(members: Membership, uploads: UploadRegistry, log: Logger, o: ServiceOptions): CoordinatorHandlers {
  const refuse = (method: string, peer: string, workerId: string, r: CallRefusal): { code: status; details: string } => {
    log.warn({ method, peer, workerId: workerId.slice(0, 128), code: status[r.code], reason: r.reason }, 'call refused');
    o.onRefused?.(method, status[r.code] ?? String(r.code));
    return { code: r.code, details: r.reason };
  };
  return {
    Join(call, callback) {
      const admitted = members.admit(call.request);
      if (!admitted.ok) {
        log.warn({ peer: call.getPeer(), workerId: call.request.workerId.slice(0, 128), field: admitted.field, reason: admitted.reason }, 'join refused');
        o.onRefused?.('Join', admitted.refusal);
        const metadata = new Metadata();
        metadata.set(JOIN_REFUSAL_METADATA, admitted.refusal);
        const code = admitted.refusal === 'JOIN_REFUSAL_UNAUTHENTICATED' ? status.UNAUTHENTICATED : status.FAILED_PRECONDITION;
        callback({ code, details: `${admitted.field}: ${admitted.reason}`, metadata });
        return;
      }
      admitted.reply.then((reply) => callback(null, reply), (e: Error) => callback({ code: status.ABORTED, details: e.message }));
    },

    Heartbeat(call, callback) {
      const problem = members.heartbeat(call.request);
      if (problem) {
        callback(refuse('Heartbeat', call.getPeer(), call.request.workerId, problem));
        return;
      }
      callback(null, { ringEpoch: members.ringEpoch });
    },

    Control(call) {
      const problem = members.attachControl(call.request, call);
      if (problem) call.emit('error', refuse('Control', call.getPeer(), call.request.workerId, problem));
    },

    UploadState(call, callback) {
      const upload = new StreamedUpload(members, uploads, o.maxStep);
      let done = false;
      const end = (r: CallRefusal | undefined, workerId: string): void => {
        if (done) return;
        done = true;
        if (r) { callback(refuse('UploadState', call.getPeer(), workerId, r)); return; }
        upload.deliver(callback);
      };
      call.on('data', (c: StateChunk__Output) => {
        if (done) return;
        const problem = upload.add(c);
        if (problem) end(problem, c.workerId);
      });
      call.on('error', (e) => { done = true; log.warn({ peer: call.getPeer(), err: e.message }, 'state upload failed'); });
      call.on('end', () => end(undefined, ''));
    },

    Leave(call, callback) {
      const problem = members.left(call.request, call.request.reason);
      if (problem) {
        callback(refuse('Leave', call.getPeer(), call.request.workerId, problem));
        return;
      }
      log.info({ workerId: call.request.workerId, reason: call.request.reason }, 'worker left');
      callback(null, {});
    },
  };
}

/** One UploadState call: every chunk checked (bounds, the sender is rank 0 with its secret) before it is kept. */
class StreamedUpload {
  private sender: Member | undefined;
  private readonly assembly: UploadAssembly;
  private checkpointId = '';

  constructor(private readonly members: Membership, private readonly uploads: UploadRegistry, private readonly maxStep: number) {
    this.assembly = uploads.begin();
  }

  add(c: StateChunk__Output): CallRefusal | undefined {
    const bad = checkStateChunk(c, this.maxStep);
    if (bad) return { code: status.INVALID_ARGUMENT, reason: `${bad.field}: ${bad.reason}` };
    if (!this.sender) {
      const m = this.members.uploader(c);
      if (!isMember(m)) return m;
      this.sender = m;
      this.checkpointId = c.checkpointId;
    } else if (c.workerId !== this.sender.workerId || c.rank !== 0 || !secretsEqual(c.memberSecret, this.sender.secret)) {
      return { code: status.UNAUTHENTICATED, reason: 'member_secret: chunks of one upload must all come from rank 0 with its secret' };
    }
    const problem = this.assembly.add(c);
    return problem ? { code: problem.startsWith('checkpoint_id') ? status.FAILED_PRECONDITION : status.INVALID_ARGUMENT, reason: `state upload: ${problem}` } : undefined;
  }

  deliver(callback: sendUnaryData<UploadStateReply>): void {
    const state = this.assembly.finish();
    if (typeof state === 'string') {
      callback({ code: status.INVALID_ARGUMENT, details: `state upload: ${state}` });
      return;
    }
    if (!this.uploads.deliver(this.checkpointId, state)) {
      callback({ code: status.FAILED_PRECONDITION, details: `checkpoint_id: no checkpoint '${this.checkpointId}' was requested` });
      return;
    }
    callback(null, { tensors: state.tensors.size, bytes: state.bytes, path: '' });
  }
}
