// Original file: proto/dsi/v1/coordinator.proto

export const StopCause = {
  STOP_CAUSE_UNSPECIFIED: 'STOP_CAUSE_UNSPECIFIED',
  /**
   * The run reached its last step: the worker is done (exit 0).
   */
  STOP_CAUSE_FINISHED: 'STOP_CAUSE_FINISHED',
  /**
   * The coordinator was interrupted (SIGINT/SIGTERM) before the last step: not done
   * (exit run.interruptedExitCode, so a Job starts the worker again for the resumed run).
   */
  STOP_CAUSE_INTERRUPTED: 'STOP_CAUSE_INTERRUPTED',
  /**
   * Dropped from the run (missed heartbeats, a dead ring neighbour): the run goes on without it (exit 0).
   */
  STOP_CAUSE_DROPPED: 'STOP_CAUSE_DROPPED',
  /**
   * Released: fewer workers split the global batch evenly; the run goes on without it (exit 0).
   */
  STOP_CAUSE_RELEASED: 'STOP_CAUSE_RELEASED',
} as const;

export type StopCause =
  | 'STOP_CAUSE_UNSPECIFIED'
  | 0
  /**
   * The run reached its last step: the worker is done (exit 0).
   */
  | 'STOP_CAUSE_FINISHED'
  | 1
  /**
   * The coordinator was interrupted (SIGINT/SIGTERM) before the last step: not done
   * (exit run.interruptedExitCode, so a Job starts the worker again for the resumed run).
   */
  | 'STOP_CAUSE_INTERRUPTED'
  | 2
  /**
   * Dropped from the run (missed heartbeats, a dead ring neighbour): the run goes on without it (exit 0).
   */
  | 'STOP_CAUSE_DROPPED'
  | 3
  /**
   * Released: fewer workers split the global batch evenly; the run goes on without it (exit 0).
   */
  | 'STOP_CAUSE_RELEASED'
  | 4

export type StopCause__Output = typeof StopCause[keyof typeof StopCause]
