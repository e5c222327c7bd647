/**
 * V8's young generation, sized for training. Imported first by both executables.
 *
 * A training step allocates thousands of short-lived tensor handles and typed-array views; with
 * V8's default semi-space (16 MiB) they trigger a scavenge every few milliseconds, and its parallel
 * scavenger takes the machine's other core. Measured on the 2-core machine (bench model, t5-tiny,
 * batch 32): the step took 496 ms alone and 680 ms with a second training process beside it; with a
 * 64 MiB semi-space, 440 ms and ~510 ms. Two workers on two cores are what that difference decides.
 * V8 reads the flag when it next grows the young generation, so setting it at start-up suffices.
 */
import v8 from 'node:v8';

export const SEMI_SPACE_MIB = 64;

if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
  v8.setFlagsFromString(`--max-semi-space-size=${SEMI_SPACE_MIB}`);
}
