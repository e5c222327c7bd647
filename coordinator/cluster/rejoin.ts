/**
 * Workers that join a run under way: a dropped worker back (restarted by --max-restarts, or its
 * `worker` run again by hand) or a replacement under a new id. Their Join is held until a step
 * boundary. There the coordinator writes rank 0's state as a checkpoint (every replica's state,
 * the masks in force and the loss scaler's whole state at that step) and answers the Joins with it
 * as the plan's resumeFrom, waits for their Control streams (they load it meanwhile), and grows the
 * ring (Membership.grow). A survivor's state, not an older checkpoint plus a replay of the steps
 * since: a replay would cost the joiner as many steps of compute as passed since that checkpoint,
 * while one upload and write of t5-sized state costs less than a step.
 */
import type { JoinReply } from '../../proto/gen/dsi/v1/JoinReply.js';
import type { JoinRequest__Output } from '../../proto/gen/dsi/v1/JoinRequest.js';
import { ClusterError } from './errors.js';
import { newMember, type Member } from './member.js';

interface Joiner {
  member: Member;
  /** Answers the Join call waiting now (a repeated Join replaces the one whose deadline passed). */
  answer: (r: JoinReply) => void;
  fail: (e: Error) => void;
  /** Its JoinReply, once welcomed: a repeated Join gets it again. */
  reply?: JoinReply;
}

export class Joiners {
  private readonly held = new Map<string, Joiner>();

  get(workerId: string): Member | undefined {
    return this.held.get(workerId)?.member;
  }

  get size(): number {
    return this.held.size;
  }

  /** Not yet answered, in worker id order. */
  waiting(): Member[] {
    return [...this.held.values()].filter((j) => !j.reply).map((j) => j.member).sort((a, b) => (a.workerId < b.workerId ? -1 : 1));
  }

  /** Answered, in worker id order. */
  welcomed(): Member[] {
    return [...this.held.values()].filter((j) => j.reply).map((j) => j.member).sort((a, b) => (a.workerId < b.workerId ? -1 : 1));
  }

  /** Holds a Join until welcome(); the same id again (its call timed out and it retried) keeps its place and secret. */
  hold(req: JoinRequest__Output, step: number): Promise<JoinReply> {
    const before = this.held.get(req.workerId);
    if (before?.reply) return Promise.resolve(before.reply);
    return new Promise<JoinReply>((answer, fail) => {
      const member = before && before.member.address === req.address ? before.member : newMember(req, step);
      this.held.set(req.workerId, { member, answer, fail });
    });
  }

  /** Answers the Joins of `members` (each its own reply). */
  welcome(members: Member[], replyFor: (m: Member) => JoinReply): void {
    for (const m of members) {
      const j = this.held.get(m.workerId);
      if (!j || j.reply) continue;
      j.reply = replyFor(m);
      j.answer(j.reply);
    }
  }

  /** Takes a joiner out (it entered the ring, or it is gone). */
  remove(workerId: string): Member | undefined {
    const j = this.held.get(workerId);
    this.held.delete(workerId);
    return j?.member;
  }

  /** The run ends: Joins still held are answered with why. */
  refuseAll(why: string): void {
    for (const [id, j] of this.held) if (!j.reply) j.fail(new ClusterError(`worker '${id}' cannot join: ${why}`));
    this.held.clear();
  }
}
