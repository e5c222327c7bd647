/** The example accounting of bench chaos and the summary: a lost share, a step applied twice, a shifted share are each counted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accountExamples, type AppliedStep } from '../coordinator/cluster/applied_steps.js';

const G = 6;
/** Steps 1..n as 2 ranks of 3 would report them. */
const clean = (n: number): AppliedStep[] => Array.from({ length: n }, (_, i) => ({ step: i + 1, ranks: [[i * G, 3], [i * G + 3, 3]] }));

test('every position of every step once: nothing lost or repeated, whatever the ring sizes', () => {
  const record = clean(3);
  record.push({ step: 4, ranks: [[18, 2], [20, 2], [22, 2]] });   // a ring of 3 from step 4
  assert.deepEqual(accountExamples(record, 4, G), { examples_applied: 24, examples_lost: 0, examples_repeated: 0 });
});

test('a rank without a report, a step applied twice, a share outside its step: each counted', () => {
  const missing = clean(3);
  missing[1] = { step: 2, ranks: [[6, 3], [-1, 0]] };
  assert.deepEqual(accountExamples(missing, 3, G), { examples_applied: 15, examples_lost: 3, examples_repeated: 0 });
  const twice: AppliedStep[] = [...clean(3), { step: 3, ranks: [[12, 3], [15, 3]] }];
  assert.deepEqual(accountExamples(twice, 3, G), { examples_applied: 24, examples_lost: 0, examples_repeated: 6 });
  const shifted = clean(3);
  shifted[2] = { step: 3, ranks: [[9, 3], [15, 3]] };   // step 3 trained on step 2's second half
  assert.deepEqual(accountExamples(shifted, 3, G), { examples_applied: 18, examples_lost: 3, examples_repeated: 3 });
  // a step the record lacks (a resume from a checkpoint without one) is all lost
  assert.deepEqual(accountExamples(clean(2), 3, G), { examples_applied: 12, examples_lost: 6, examples_repeated: 0 });
});
