/**
 * Which global example positions each applied step used, as the workers reported them (each rank's
 * share of a step is contiguous: its first position and its count). Kept in every checkpoint's
 * cluster state, so a resumed run carries the record of the steps its weights went through (not of
 * the steps a killed coordinator ran past its last checkpoint: those were lost with it and redone).
 */
import type { Member } from './member.js';

/** One applied step: its number (1-based) and every rank's [first position, examples]. */
export interface AppliedStep { step: number; ranks: Array<[number, number]> }

/** The record of step `step` from the members' reports of it (a rank without one records [-1, 0]). */
export function appliedStep(step: number, members: Member[]): AppliedStep {
  return { step, ranks: members.map((m) => (m.metrics && m.metricsStep === step ? [m.metrics.firstPosition, m.metrics.samples] : [-1, 0])) };
}

export interface ExampleAccounting {
  /** Examples the applied steps trained on (each rank's count, summed). */
  examples_applied: number;
  /** Positions of steps 1..steps that no applied step used. */
  examples_lost: number;
  /** Positions used more than once (by two ranks, or by a step applied twice). */
  examples_repeated: number;
}

/** Checks the record against the plan: step s (1-based) must use positions [(s-1)G, sG) of the data order, each exactly once. */
export function accountExamples(record: AppliedStep[], steps: number, globalBatch: number): ExampleAccounting {
  const uses = new Uint16Array(steps * globalBatch);
  let applied = 0, repeated = 0;
  for (const r of record) {
    for (const [first, count] of r.ranks) {
      applied += count;
      // a rank's share is at most the global batch: more is repeated by definition (and bounds the loop)
      if (count > globalBatch) repeated += count - globalBatch;
      for (let p = first; p < first + Math.min(count, globalBatch); p++) {
        // a position outside its step's slice is not that step's example: the step lost one, and repeated another
        if (p < (r.step - 1) * globalBatch || p >= r.step * globalBatch || p >= uses.length) { repeated += 1; continue; }
        uses[p] = (uses[p] as number) + 1;
        if ((uses[p] as number) > 1) repeated += 1;
      }
    }
  }
  let lost = 0;
  for (const u of uses) if (u === 0) lost += 1;
  return { examples_applied: applied, examples_lost: lost, examples_repeated: repeated };
}
