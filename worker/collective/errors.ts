/**
 * Failures of the ring all-reduce, one class per action the caller can take. Each names the rank at
 * fault and the step (like Horovod's stall inspector); after any of them the ring is unusable: the
 * coordinator forms a new one (new ring epoch) without restarting processes.
 */

/** A neighbour did not deliver (or take) a chunk within `timeoutMs`: it is dead, hung or partitioned. */
export class RingTimeoutError extends Error {
  override name = 'RingTimeoutError';
  constructor(
    /** The silent rank. */
    readonly rank: number,
    readonly step: number,
    readonly timeoutMs: number,
    /** What was awaited, e.g. "reduce-scatter hop 0 segment 1 chunk 0". */
    readonly waitingFor: string,
  ) {
    super(`step ${step}: rank ${rank} did not answer within ${timeoutMs} ms (waiting for ${waitingFor})`);
  }
}

/** A chunk from `rank` broke the schedule (wrong step, phase, length, dtype...): the ranks disagree. */
export class RingProtocolError extends Error {
  override name = 'RingProtocolError';
  constructor(
    /** Rank that sent the bad chunk. */
    readonly rank: number,
    readonly step: number,
    problem: string,
  ) {
    super(`step ${step}: chunk from rank ${rank} rejected: ${problem}`);
  }
}

/** A neighbour's stream failed, ended or was aborted by that neighbour (its reason is in the message). */
export class RingPeerError extends Error {
  override name = 'RingPeerError';
  constructor(
    readonly rank: number,
    readonly step: number,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`step ${step}: rank ${rank}: ${problem}`, options);
  }
}

/** The ring was closed (by close() or an earlier failure, kept as `cause`); form a new one. */
export class RingClosedError extends Error {
  override name = 'RingClosedError';
  constructor(readonly rank: number, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`ring of rank ${rank} is closed${cause}`, options);
  }
}

/** A byte stream that is not a well-formed sequence of frames (tcp_frames.ts); the connection is unusable. */
export class TcpFrameError extends Error {
  override name = 'TcpFrameError';
}
