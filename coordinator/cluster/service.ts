/** The Coordinator gRPC service: decode, call the membership, encode. No decisions here. */
import { Metadata, status } from '@grpc/grpc-js';
import { JOIN_REFUSAL_METADATA } from '../../shared/training/cluster_plan.js';
import type { CoordinatorHandlers } from '../../proto/gen/dsi/v1/Coordinator.js';
import type { StateChunk__Output } from '../../proto/gen/dsi/v1/StateChunk.js';
import type { Logger } from '../../shared/runtime/log.js';
import type { Membership } from './membership.js';
import type { UploadRegistry } from './uploads.js';

export function coordinatorHandlers(members: Membership, uploads: UploadRegistry, log: Logger): CoordinatorHandlers {
  return {
    Join(call, callback) {
      const admitted = members.admit(call.request);
      if (!admitted.ok) {
        log.warn({ workerId: call.request.workerId, field: admitted.field, reason: admitted.reason }, 'join refused');
        const metadata = new Metadata();
        metadata.set(JOIN_REFUSAL_METADATA, admitted.refusal);
        callback({ code: status.FAILED_PRECONDITION, details: `${admitted.field}: ${admitted.reason}`, metadata });
        return;
      }
      admitted.reply.then((reply) => callback(null, reply), (e: Error) => callback({ code: status.ABORTED, details: e.message }));
    },

    Heartbeat(call, callback) {
      const problem = members.heartbeat(call.request);
      if (problem) {
        callback({ code: status.NOT_FOUND, details: problem });
        return;
      }
      callback(null, { ringEpoch: members.ringEpoch });
    },

    Control(call) {
      const problem = members.attachControl(call.request, call);
      if (problem) call.emit('error', { code: status.NOT_FOUND, details: problem });
    },

    UploadState(call, callback) {
      const chunks: StateChunk__Output[] = [];
      call.on('data', (c: StateChunk__Output) => chunks.push(c));
      call.on('error', (e) => log.warn({ err: e.message }, 'state upload failed'));
      call.on('end', () => {
        const state = uploads.assemble(chunks);
        if (typeof state === 'string') {
          callback({ code: status.INVALID_ARGUMENT, details: `state upload: ${state}` });
          return;
        }
        const checkpointId = chunks[0]?.checkpointId ?? '';
        if (!uploads.deliver(checkpointId, state)) {
          callback({ code: status.FAILED_PRECONDITION, details: `checkpoint_id: no checkpoint '${checkpointId}' was requested` });
          return;
        }
        callback(null, { tensors: state.tensors.size, bytes: state.bytes, path: '' });
      });
    },

    Leave(call, callback) {
      log.info({ workerId: call.request.workerId, reason: call.request.reason }, 'worker left');
      members.left(call.request.workerId, call.request.reason);
      callback(null, {});
    },
  };
}
