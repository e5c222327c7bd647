/**
 * Re-join at a step boundary (rejoin.ts says why from a survivor's state): the workers held at Join
 * that fit the ring get rank 0's state at this step as a checkpoint, and once they have loaded it
 * and opened their Control streams, one new ring of everyone. The global batch is re-split over
 * the new ring by the workers themselves (each takes its rank's slice), so the trajectory is the
 * one of an uninterrupted run.
 */
import { encodeRunPlan, type RunPlan } from '../../shared/training/cluster_plan.js';
import type { Logger } from '../../shared/runtime/log.js';
import type { LocalWorkers } from './local_workers.js';
import type { Membership } from './membership.js';
import type { ClusterState } from './rank0_state.js';

export interface GrowOptions {
  members: Membership;
  /** Steps every rank has finished: the joiners start from the state after it. */
  step: number;
  /** The run's plan; a joiner's resumes from the checkpoint written here. */
  plan: RunPlan;
  /** Writes (or finds, when already written at `step`) the checkpoint of this step. */
  checkpoint: () => Promise<{ dir: string; state: ClusterState }>;
  /** How long a joiner may take to load the state and open its Control stream. */
  timeoutMs: number;
  /** How long the survivors waited for the joiners to come back (restarted local workers), for the log. */
  waitedMs?: number;
  log: Logger;
}

/** Grows the ring by the joiners that fit (none: nothing happens); returns the ids that entered it. */
export async function growRing(o: GrowOptions): Promise<string[]> {
  const { members, step, log } = o;
  const due = members.joinersDue();
  if (due.length === 0 && !members.joinersWelcomed) return [];
  const t0 = performance.now();
  if (due.length > 0) {
    const { dir, state } = await o.checkpoint();
    // the state, masks in force and the loss scaler's whole state come with the checkpoint (its run config holds the good-step count)
    members.welcome(due, encodeRunPlan({ ...o.plan, resumeFrom: dir, lossScale: state.lossScale }), step);
    log.info({ step, checkpoint: dir, joiners: due.map((m) => m.workerId) }, 're-join: joiners sent the state at this step');
  }
  const joined = await members.grow(step, o.timeoutMs);
  if (joined.length > 0) log.info({ step: step + 1, joined, worldSize: members.members.size, ms: Math.round(performance.now() - t0), ...(o.waitedMs !== undefined ? { waitedMs: o.waitedMs } : {}) }, 'workers re-joined');
  return joined;
}

/**
 * After a regroup: waits (restartWaitMs at most) until the local workers that --max-restarts brings
 * back are held at Join, so that they enter the ring before the interrupted step is redone and no
 * step runs on the smaller ring (cluster.restartWaitMs). Returns the ms waited.
 */
export async function awaitRestarted(locals: LocalWorkers, members: Membership, restartWaitMs: number, log: Logger): Promise<number> {
  const t0 = Date.now();
  if (restartWaitMs === 0) return 0;
  for (;;) {
    const coming = locals.bringBackLost();
    const held = new Set(members.joinersDue().map((m) => m.workerId));
    if (coming.every((id) => held.has(id))) return Date.now() - t0;
    if (Date.now() - t0 >= restartWaitMs) {
      log.warn({ waiting: coming.filter((id) => !held.has(id)), restartWaitMs }, 'restarted workers not back within cluster.restartWaitMs: training on without them');
      return Date.now() - t0;
    }
    // a further loss meanwhile breaks the wait (RingBroken): the caller regroups again
    await members.guard(new Promise((resolve) => setTimeout(resolve, 50)));
  }
}
