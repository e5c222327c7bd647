import { test } from 'node:test';
import assert from 'node:assert/strict';
import { semanticDocids } from '../shared/dataset/docids/semantic_ids.js';
import { Rng } from '../shared/runtime/random.js';

/** `count` points around `centre`, each coordinate N(0, sd²). */
function blob(rng: Rng, centre: number[], count: number, sd: number): Float32Array[] {
  return Array.from({ length: count }, () => Float32Array.from(centre, (c) => c + sd * rng.nextNormal()));
}

/** Ids whose leaf (id minus the 2 position digits) is shared, grouped. */
function leaves(ids: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  ids.forEach((id, i) => out.set(id.slice(0, -2), [...(out.get(id.slice(0, -2)) ?? []), i]));
  return out;
}

function assertWellFormed(ids: string[], n: number, maxLeaf: number): void {
  assert.equal(ids.length, n);
  assert.equal(new Set(ids).size, n, 'ids are unique');
  for (const id of ids) assert.match(id, /^\d+$/);
  const sorted = [...ids].sort();
  for (let i = 1; i < sorted.length; i++) assert.ok(!(sorted[i] as string).startsWith(sorted[i - 1] as string), 'prefix-free');
  for (const [leaf, members] of leaves(ids)) {
    assert.ok(members.length <= maxLeaf, `leaf ${leaf} has ${members.length} > ${maxLeaf}`);
    // positions are 00, 01, ... in input order
    assert.deepEqual(members.map((i) => (ids[i] as string).slice(-2)), members.map((_, p) => String(p).padStart(2, '0')));
  }
}

test('three separated blobs: a blob\'s documents share the first digit, blobs differ', () => {
  const rng = new Rng(11);
  const centres = [[0, 0, 0], [20, 0, 5], [0, 25, -10]];
  const emb = centres.flatMap((c) => blob(rng, c, 40, 1));
  const ids = semanticDocids(emb, { k: 3, seed: 1 });
  assertWellFormed(ids, 120, 100);
  const firstDigits = centres.map((_, b) => new Set(ids.slice(b * 40, (b + 1) * 40).map((id) => id[0])));
  for (const s of firstDigits) assert.equal(s.size, 1);
  assert.equal(new Set(firstDigits.map((s) => [...s][0])).size, 3);
  for (const id of ids) assert.equal(id.length, 3);  // one level (40 <= c) + 2 leaf digits
});

test('1500 documents, c = 100: several levels, and every split is a k-means partition of its prefix group', () => {
  const rng = new Rng(12);
  // 3 far-apart groups of 5 sub-blobs of 100: k = 3 splits the top by group, then recursion is needed
  const emb: Float32Array[] = [];
  for (let g = 0; g < 3; g++) {
    for (let s = 0; s < 5; s++) emb.push(...blob(rng, [100 * g + 9 * s, 50 * g + 4 * s * s, 3 * s - 20 * g], 100, 0.5));
  }
  const ids = semanticDocids(emb, { k: 3, maxLeaf: 100, seed: 2 });
  assertWellFormed(ids, 1500, 100);
  for (let g = 0; g < 3; g++) assert.equal(new Set(ids.slice(g * 500, (g + 1) * 500).map((id) => id[0])).size, 1);
  const depths = new Set(ids.map((id) => id.length - 2));
  assert.ok(Math.max(...depths) >= 3, `cluster levels seen: ${[...depths]}`);
  // each internal prefix p splits into child groups p0, p1, p2: a converged k-means partition, so every
  // document is nearest to its own group's centroid among its siblings
  const prefixes = new Set(ids.flatMap((id) => Array.from({ length: id.length - 3 }, (_, n) => id.slice(0, n))));
  let checked = 0;
  for (const p of prefixes) {
    const members = ids.flatMap((id, i) => (id.startsWith(p) && id.length > p.length + 2 ? [i] : []));
    const children = new Map<string, number[]>();
    for (const i of members) {
      const c = (ids[i] as string)[p.length] as string;
      children.set(c, [...(children.get(c) ?? []), i]);
    }
    const centroid = (group: number[]): number[] =>
      [0, 1, 2].map((d) => group.reduce((s, i) => s + (emb[i]?.[d] as number), 0) / group.length);
    const cents = new Map([...children].map(([c, g]) => [c, centroid(g)]));
    const dist = (i: number, c: number[]): number => c.reduce((s, x, d) => s + (x - (emb[i]?.[d] as number)) ** 2, 0);
    for (const [c, group] of children) {
      for (const i of group) {
        const own = dist(i, cents.get(c) as number[]);
        for (const [other, cent] of cents) if (other !== c) assert.ok(own <= dist(i, cent) + 1e-6, `doc ${i} under '${p}'`);
      }
    }
    checked++;
  }
  assert.ok(checked >= 4, `internal nodes checked: ${checked}`);
});

test('identical embeddings terminate with unique ids (split by order)', () => {
  const same = Array.from({ length: 1234 }, () => Float32Array.from([0.5, -1, 2]));
  const ids = semanticDocids(same, { seed: 3 });
  assertWellFormed(ids, 1234, 100);
  // 1234 = 9 chunks of ceil(1234/10) = 124, then 118; each > 100 splits again:
  // 124 -> chunks of 13, so the first document is "0" + "0" + "00";
  // 118 -> 9 chunks of 12 and one of 10, so the last document is "9" + "9" + "09"
  assert.equal(ids[0], '0000');
  assert.equal(ids[1233], '9909');
});

test('two distinct values among 300 documents: k-means separates them, order splits the rest', () => {
  const emb = Array.from({ length: 300 }, (_, i) => Float32Array.from(i % 2 === 0 ? [0, 0] : [1, 1]));
  const ids = semanticDocids(emb, { seed: 4 });
  assertWellFormed(ids, 300, 100);
  const evenFirst = new Set(ids.filter((_, i) => i % 2 === 0).map((id) => id[0]));
  const oddFirst = new Set(ids.filter((_, i) => i % 2 === 1).map((id) => id[0]));
  assert.equal(evenFirst.size, 1);
  assert.equal(oddFirst.size, 1);
  assert.notDeepEqual(evenFirst, oddFirst);
});

test('same seed, same ids; tiny inputs; bad inputs named', () => {
  const rng = new Rng(13);
  const emb = [...blob(rng, [0, 0], 150, 1), ...blob(rng, [8, 8], 150, 1)];
  assert.deepEqual(semanticDocids(emb, { seed: 5 }), semanticDocids(emb, { seed: 5 }));
  assert.deepEqual(semanticDocids([Float32Array.from([1])], { seed: 0 }), ['000']);
  assert.deepEqual(semanticDocids([], { seed: 0 }), []);
  assert.throws(() => semanticDocids([Float32Array.from([1, 2]), Float32Array.from([1])], { seed: 0 }), /embeddings\[1\] has dimension 1/);
  assert.throws(() => semanticDocids([Float32Array.from([1, NaN])], { seed: 0 }), /embeddings\[0\]\[1\] is NaN/);
  assert.throws(() => semanticDocids(emb, { seed: 0, k: 1 }), /option 'k' must be an integer >= 2, got 1/);
});
