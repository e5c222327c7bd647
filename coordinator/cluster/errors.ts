/**
 * Failures of the run as the coordinator sees it, one class per action: stop the run (ClusterError)
 * or regroup the survivors and retry (RingBroken). The ring's own failures, as a worker sees them,
 * are worker/collective/errors.ts; configuration and input errors are shared/runtime/errors.ts.
 */

/** The run cannot go on (a worker died, replicas diverged...); the message names the ranks. */
export class ClusterError extends Error {
  override name = 'ClusterError';
}

/** The ring lost a member or an all-reduce failed: what was awaited will not come; regroup() and retry. */
export class RingBroken extends Error {
  override name = 'RingBroken';
}
