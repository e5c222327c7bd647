/** `bench quality`'s outputs: the table pairs held-out and training figures, the SVG draws one curve pair per variant. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curvesSvg, formatQuality, QUALITY_VARIANTS, type QualityRow } from '../coordinator/bench/quality.js';
import { parseMix } from '../shared/training/sampler.js';

const row = (scheme: string, data: string, step: number, split: 'eval' | 'train', h1: number): QualityRow =>
  ({ scheme, data, step, examples: step * 128, seconds: step / 2, hits_at_1: h1, hits_at_10: Math.min(1, h1 * 2), mrr_at_10: h1 * 1.1, split });

test('bench quality: every variant names a valid mix; the table and the SVG show each variant and split', () => {
  for (const v of QUALITY_VARIANTS) assert.doesNotThrow(() => parseMix(v.mix), `${v.scheme}/${v.data}`);
  const rows = [row('atomic', 'recipe', 100, 'eval', 0.1), row('atomic', 'recipe', 100, 'train', 0.3), row('atomic', 'recipe', 200, 'eval', 0.25),
    row('atomic', 'recipe', 200, 'train', 0.5), row('naive', 'recipe', 100, 'eval', 0.01)];
  const table = formatQuality(rows).trim().split('\n');
  assert.equal(table.length, 1 + 3, 'a header and one line per held-out evaluation');
  assert.match(table[2] ?? '', /^atomic\s+recipe\s+200\s+25600\s+100\s+0\.250 0\.500\s+0\.275\s+\|\s+0\.500 1\.000$/);
  assert.match(table[3] ?? '', /^naive .*\|\s+-/, 'no training figure for that step: a dash');
  const svg = curvesSvg(rows);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 4, 'Hits@1 and Hits@10 for each of the two variants');
  assert.ok(svg.includes('atomic / recipe') && svg.includes('naive / recipe'));
  assert.ok(svg.startsWith('<svg') && svg.trim().endsWith('</svg>'));
});
