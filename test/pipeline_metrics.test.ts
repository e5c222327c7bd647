import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docidsOf, evaluateRankings, writeTrecRun } from '../shared/dataset/retrieval/metrics.js';

test('Hits@1, Hits@10 and MRR@10 on hand-built rankings', () => {
  const ten = (relevantAt: number, id: string): string[] =>
    Array.from({ length: 12 }, (_, i) => (i + 1 === relevantAt ? id : `n${i}`));
  const rankings = new Map<string, string[]>([
    ['q1', ['a', 'b', 'c']],        // relevant first: hit@1, rr 1
    ['q2', ['x', 'y', 'z', 'w']],   // two relevant, first at rank 2: rr 1/2
    ['q3', ten(10, 'r3')],          // relevant at rank 10: hit@10, rr 1/10
    ['q4', ten(11, 'r4')],          // relevant at rank 11: outside every cut-off
    ['q6', ['a']],                  // no qrels: ignored
    // q5 has qrels but no ranking: a miss
  ]);
  const qrels = new Map<string, Set<string>>([
    ['q1', new Set(['a'])],
    ['q2', new Set(['y', 'w'])],
    ['q3', new Set(['r3'])],
    ['q4', new Set(['r4'])],
    ['q5', new Set(['e'])],
  ]);
  const m = evaluateRankings(rankings, qrels);
  assert.equal(m.queries, 5);
  assert.equal(m.hits_at_1, 1 / 5);
  assert.equal(m.hits_at_10, 3 / 5);
  assert.ok(Math.abs(m.mrr_at_10 - (1 + 0.5 + 0.1) / 5) < 1e-15, `mrr ${m.mrr_at_10}`);
});

test('an empty relevant set is rejected by name; no qrels gives zeros', () => {
  assert.throws(() => evaluateRankings(new Map(), new Map([['q9', new Set<string>()]])), /query 'q9'/);
  assert.deepEqual(evaluateRankings(new Map([['q', ['a']]]), new Map()), { hits_at_1: 0, hits_at_10: 0, mrr_at_10: 0, queries: 0 });
});

test('writeTrecRun writes qid Q0 docid rank score tag, scores descending, ties by docid', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'run.trec');
  const rankings = new Map([
    ['1048585', [{ docid: '7', score: 1.5 }, { docid: '3', score: 12.25 }, { docid: '5', score: 1.5 }]],
    ['2', [{ docid: 'd9', score: 0.1 }]],
  ]);
  await writeTrecRun(file, rankings, 'bm25');
  assert.equal(
    await readFile(file, 'utf8'),
    '1048585 Q0 3 1 12.25 bm25\n' +
      '1048585 Q0 5 2 1.5 bm25\n' +
      '1048585 Q0 7 3 1.5 bm25\n' +
      '2 Q0 d9 1 0.1 bm25\n',
  );
  assert.deepEqual(docidsOf(rankings), new Map([['1048585', ['3', '5', '7']], ['2', ['d9']]]));
});

test('writeTrecRun rejects whitespace in fields and non-finite scores before creating the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.trec');
  await assert.rejects(writeTrecRun(file, new Map([['q1', [{ docid: 'a b', score: 1 }]]]), 'tag'), /query 'q1': docid 'a b'/);
  await assert.rejects(writeTrecRun(file, new Map([['q1', [{ docid: 'a', score: NaN }]]]), 'tag'), /score NaN is not finite/);
  await assert.rejects(writeTrecRun(file, new Map(), 'my run'), /run tag 'my run'/);
  await assert.rejects(access(file), /ENOENT/);
  await assert.rejects(writeTrecRun(join(dir, 'missing', 'run.trec'), new Map(), 'tag'), (err: Error) =>
    err.message.includes('could not write') && String((err.cause as Error).message).includes('ENOENT'));
});
