/**
 * One class per actionable failure. Messages say where (file, line, field) and what to do;
 * causes are chained with `{ cause }`, never swallowed.
 */

/** Bad input at a known place; the message starts `file:line:` like a compiler's. */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${field ? `field '${field}': ` : ''}${problem}`, options);
  }
}

/** A configuration value that failed validation; names the key and what to fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly key: string, problem: string, options?: ErrorOptions) {
    super(`config '${key}': ${problem}`, options);
  }
}

/** A model folder or checkpoint that cannot be used (missing file, wrong shape, unknown tensor). */
export class ModelFormatError extends Error {
  override name = 'ModelFormatError';
  constructor(readonly file: string, problem: string, options?: ErrorOptions) {
    super(`${file}: ${problem}`, options);
  }
}

/** A telemetry payload (NATS JSON) of the wrong shape; the message names the field. */
export class PayloadError extends Error {
  override name = 'PayloadError';
}

/** Gradient sync was asked to all-reduce while no ring is formed (it closed, or none formed yet). */
export class NoRingError extends Error {
  override name = 'NoRingError';
}

/**
 * A checkpoint that could not be written (disk full, folder unwritable): training stops, since going
 * on would lose the steps since the last checkpoint at the next failure. The partial folder is removed;
 * the earlier checkpoints are untouched.
 */
export class CheckpointWriteError extends Error {
  override name = 'CheckpointWriteError';
  constructor(readonly dir: string, problem: string, options?: ErrorOptions) {
    super(`checkpoint ${dir} could not be written: ${problem}`, options);
  }
}
