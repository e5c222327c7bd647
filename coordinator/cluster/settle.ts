/**
 * After a ring broke: waiting for the survivors to settle before a new ring forms, and how large a
 * ring may be (its size must divide the global batch).
 */
import type { Member } from './member.js';
import { inStep } from './step_progress.js';

/** Polling interval of the wait for the survivors to settle. */
const SETTLE_POLL_MS = 50;

/** A member that never settled, and the rank whose ring timeout named it silent (if one did). */
export interface Unsettled { m: Member; by: Member | undefined }

/**
 * Waits until each member has finished step `done` or reported its all-reduce failed, or a
 * neighbour's ring timeout named it silent; at most `settleMs`, unless a member's heartbeats say
 * it is still inside the step (slow, not dead: it settles when the step ends). Returns those that
 * did not settle.
 */
export async function awaitSettled(ordered: () => Member[], done: number, o: { heartbeatMs: number; settleMs: number }): Promise<Unsettled[]> {
  const settled = (m: Member): boolean => m.failure !== undefined || m.step >= done;
  // named silent by a neighbour's ring timeout and not heard of since: dead or hung. A live rank that
  // a neighbour named (it was itself waiting on the dead one) reports its own failure and is settled.
  const working = (m: Member): boolean => !settled(m) && inStep(m.progress, m.lastSeen, o.heartbeatMs);
  const accuser = (m: Member): Member | undefined => (working(m) ? undefined : ordered().find((x) => x.failure?.timedOut && x.failure.neighbourRank === m.rank && x !== m));
  const deadline = Date.now() + o.settleMs;
  while (!ordered().every((m) => settled(m) || accuser(m)) && (Date.now() < deadline || ordered().some(working))) await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  return ordered().filter((x) => !settled(x)).map((m) => ({ m, by: accuser(m) }));
}

/** The largest n <= most that divides total (1 always does). */
export function largestDivisorUpTo(total: number, most: number): number {
  for (let n = most; n > 1; n--) if (total % n === 0) return n;
  return Math.min(1, most);
}

/** How many of `waiting` joiners to take so that the grown ring still divides the global batch (0: none fits). */
export function joinersToTake(microBatches: number, inRing: number, waiting: number, worldSize: number): number {
  for (let k = Math.min(waiting, worldSize - inRing); k > 0; k--) if (microBatches % (inRing + k) === 0) return k;
  return 0;
}
