/** The checks every Join passes, before the run starts and during it: token, protocol, request, model. */
import type { JoinRequest__Output } from '../../proto/gen/dsi/v1/JoinRequest.js';
import type { JoinRefusal__Output } from '../../proto/gen/dsi/v1/JoinRefusal.js';
import { tokensEqual } from '../../shared/runtime/security.js';
import { PROTOCOL_VERSION } from '../../shared/training/cluster_plan.js';
import { checkJoin } from './validate.js';

export interface JoinRefusalReason { refusal: JoinRefusal__Output; field: string; reason: string }

/** Why `req` may not join (undefined: it may, as far as the request goes); `inRun`: the id is a member now. The model is checked after the run's capacity (modelRefusal). */
export function joinRefusal(req: JoinRequest__Output, o: { joinToken?: string | undefined; modelConfigHash: string }, inRun: boolean): JoinRefusalReason | undefined {
  // the token first: a peer without it learns nothing about the run (ids, whether it is under way)
  if (o.joinToken !== undefined && !tokensEqual(req.joinToken, o.joinToken))
    return { refusal: 'JOIN_REFUSAL_UNAUTHENTICATED', field: 'join_token', reason: req.joinToken ? 'is not the run\'s join token' : 'is missing: this run needs --join-token-file' };
  if (req.protocolVersion !== PROTOCOL_VERSION) return { refusal: 'JOIN_REFUSAL_PROTOCOL_VERSION', field: 'protocol_version', reason: `worker speaks protocol ${req.protocolVersion}, this coordinator ${PROTOCOL_VERSION}` };
  const bad = checkJoin(req);
  if (bad) return { refusal: 'JOIN_REFUSAL_BAD_REQUEST', ...bad };
  if (inRun) return { refusal: 'JOIN_REFUSAL_DUPLICATE_ID', field: 'worker_id', reason: `'${req.workerId}' has already joined this run` };
  return undefined;
}

/** A worker that would build another model than the run's. */
export function modelRefusal(req: JoinRequest__Output, modelConfigHash: string): JoinRefusalReason | undefined {
  if (req.modelConfigHash !== modelConfigHash)
    return { refusal: 'JOIN_REFUSAL_MODEL_MISMATCH', field: 'model_config_hash', reason: `worker '${req.workerId}' builds a different model (hash ${req.modelConfigHash.slice(0, 12)}, run ${modelConfigHash.slice(0, 12)}): start it with the run's --preset/--model-from/--mode` };
  return undefined;
}
