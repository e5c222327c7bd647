/**
 * Who a call after Join comes from: its worker id and run id must name a member, and its membership
 * secret must be the one that member was given at Join (compared in constant time). Nothing here
 * changes state: a forged call (a member's id, a wrong or no secret) is refused before anything else.
 */
import { status } from '@grpc/grpc-js';
import { secretsEqual } from '../../shared/runtime/security.js';
import type { LostWorker, Member } from './member.js';
import { checkId, checkSecret } from './validate.js';

/** A call refused before it changed anything: the gRPC status to answer with, and why (naming the field). */
export interface CallRefusal {
  code: status;
  reason: string;
}

/** The ids and secret a call after Join carries. */
export interface MemberCredentials {
  runId: string;
  workerId: string;
  memberSecret: Uint8Array;
}

export function isMember(m: Member | CallRefusal): m is Member {
  return 'workerId' in m;
}

export function authenticateMember(find: (workerId: string) => Member | undefined, lost: readonly LostWorker[], runId: string, c: MemberCredentials): Member | CallRefusal {
  const bad = checkId('worker_id', c.workerId) ?? checkId('run_id', c.runId) ?? checkSecret('member_secret', c.memberSecret);
  if (bad) return { code: status.INVALID_ARGUMENT, reason: `${bad.field}: ${bad.reason}` };
  const m = find(c.workerId);
  if (!m || c.runId !== runId) {
    const gone = lost.find((l) => l.workerId === c.workerId);
    return { code: status.NOT_FOUND, reason: gone ? `worker '${c.workerId}' was dropped from run ${runId} at step ${gone.step}: ${gone.reason}` : `worker '${c.workerId}' is not a member of run ${runId}: Join first` };
  }
  if (!secretsEqual(c.memberSecret, m.secret)) return { code: status.UNAUTHENTICATED, reason: `member_secret: not the secret worker '${c.workerId}' was given at Join` };
  return m;
}
