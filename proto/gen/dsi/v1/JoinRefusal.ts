// Original file: proto/dsi/v1/coordinator.proto

/**
 * Why a Join was refused. The worker switches on it: a refusal meaning "the run goes on without this
 * worker" ends it with exit code 0 (done, not failed), so a Kubernetes Job does not restart it forever.
 */
export const JoinRefusal = {
  JOIN_REFUSAL_UNSPECIFIED: 'JOIN_REFUSAL_UNSPECIFIED',
  /**
   * JoinRequest.protocol_version is not the coordinator's.
   */
  JOIN_REFUSAL_PROTOCOL_VERSION: 'JOIN_REFUSAL_PROTOCOL_VERSION',
  /**
   * A field is malformed (empty worker id, address not host:port).
   */
  JOIN_REFUSAL_BAD_REQUEST: 'JOIN_REFUSAL_BAD_REQUEST',
  /**
   * model_config_hash differs from the run's.
   */
  JOIN_REFUSAL_MODEL_MISMATCH: 'JOIN_REFUSAL_MODEL_MISMATCH',
  /**
   * The worker id is already a member.
   */
  JOIN_REFUSAL_DUPLICATE_ID: 'JOIN_REFUSAL_DUPLICATE_ID',
  /**
   * The run already has all its workers.
   */
  JOIN_REFUSAL_RUN_FULL: 'JOIN_REFUSAL_RUN_FULL',
  /**
   * No longer sent (protocol 4 coordinators refused a dropped worker with it): a dropped worker may
   * join again, held until a step boundary, while the run is short of its workers.
   */
  JOIN_REFUSAL_DROPPED: 'JOIN_REFUSAL_DROPPED',
  /**
   * The run goes on without it: it is under way with all its workers (in the ring or joining), or finishing.
   */
  JOIN_REFUSAL_RUN_UNDER_WAY: 'JOIN_REFUSAL_RUN_UNDER_WAY',
  /**
   * join_token is missing or wrong (a configuration error: the worker exits non-zero).
   */
  JOIN_REFUSAL_UNAUTHENTICATED: 'JOIN_REFUSAL_UNAUTHENTICATED',
} as const;

/**
 * Why a Join was refused. The worker switches on it: a refusal meaning "the run goes on without this
 * worker" ends it with exit code 0 (done, not failed), so a Kubernetes Job does not restart it forever.
 */
export type JoinRefusal =
  | 'JOIN_REFUSAL_UNSPECIFIED'
  | 0
  /**
   * JoinRequest.protocol_version is not the coordinator's.
   */
  | 'JOIN_REFUSAL_PROTOCOL_VERSION'
  | 1
  /**
   * A field is malformed (empty worker id, address not host:port).
   */
  | 'JOIN_REFUSAL_BAD_REQUEST'
  | 2
  /**
   * model_config_hash differs from the run's.
   */
  | 'JOIN_REFUSAL_MODEL_MISMATCH'
  | 3
  /**
   * The worker id is already a member.
   */
  | 'JOIN_REFUSAL_DUPLICATE_ID'
  | 4
  /**
   * The run already has all its workers.
   */
  | 'JOIN_REFUSAL_RUN_FULL'
  | 5
  /**
   * No longer sent (protocol 4 coordinators refused a dropped worker with it): a dropped worker may
   * join again, held until a step boundary, while the run is short of its workers.
   */
  | 'JOIN_REFUSAL_DROPPED'
  | 6
  /**
   * The run goes on without it: it is under way with all its workers (in the ring or joining), or finishing.
   */
  | 'JOIN_REFUSAL_RUN_UNDER_WAY'
  | 7
  /**
   * join_token is missing or wrong (a configuration error: the worker exits non-zero).
   */
  | 'JOIN_REFUSAL_UNAUTHENTICATED'
  | 8

/**
 * Why a Join was refused. The worker switches on it: a refusal meaning "the run goes on without this
 * worker" ends it with exit code 0 (done, not failed), so a Kubernetes Job does not restart it forever.
 */
export type JoinRefusal__Output = typeof JoinRefusal[keyof typeof JoinRefusal]
