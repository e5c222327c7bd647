import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mixSeed, Rng } from '../shared/runtime/random.js';

const take = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.nextUint32());

test('same seed gives the same sequence; another seed another one', () => {
  const a = take(new Rng(42), 8);
  assert.deepEqual(take(new Rng(42), 8), a);
  assert.notDeepEqual(take(new Rng(43), 8), a);
  assert.notDeepEqual(take(new Rng(mixSeed(42, 1)), 8), a);
  assert.equal(mixSeed(42, 1), mixSeed(42, 1));
  assert.notEqual(mixSeed(42, 1), mixSeed(42, 2));
  for (const x of a) assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
});

test('nextInt stays in range and hits every value; nextFloat is in [0, 1)', () => {
  const rng = new Rng(7);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 10_000; i++) {
    const k = rng.nextInt(10);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  // each bucket expects 1000; +-150 is over 5 standard deviations (sd ~ 30)
  for (const c of counts) assert.ok(c > 850 && c < 1150, `bucket count ${c}`);
  for (let i = 0; i < 1000; i++) {
    const f = rng.nextFloat();
    assert.ok(f >= 0 && f < 1);
  }
  assert.equal(rng.nextInt(1), 0);
});

test('permutation is a shuffle of 0..n-1 that depends on the seed', () => {
  const p = Array.from(new Rng(1).permutation(100));
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(Array.from(new Rng(1).permutation(100)), p);
  assert.notDeepEqual(Array.from(new Rng(2).permutation(100)), p);
  assert.notDeepEqual(p, Array.from({ length: 100 }, (_, i) => i));
});
