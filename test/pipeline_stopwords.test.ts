import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../shared/runtime/errors.js';
import { loadStopwords, removeStopwords } from '../shared/dataset/augment/augment_stopwords.js';

const stopwords = await loadStopwords();

test('the shipped NLTK English list has its 179 words and no empty entry', () => {
  assert.equal(stopwords.size, 179);
  for (const w of ['i', 'me', 'any', 'won', "don't", "should've", "wouldn't", 'wouldn']) assert.ok(stopwords.has(w), w);
  assert.ok(!stopwords.has(''));
  assert.ok(!stopwords.has('quick'));
});

test('golden sentence: stopwords, contractions and punctuation go, numbers and possessives stay', () => {
  const text = "The quick brown fox doesn't jump over the lazy dog's back, isn't it? You’re right: " +
    'it costs 3.50 dollars (1,500 in total)!';
  assert.equal(removeStopwords(text, stopwords), "quick brown fox jump lazy dog's back right costs 3.50 dollars 1,500 total");
  assert.equal(removeStopwords('state-of-the-art... NLP', stopwords), 'state art NLP');
  assert.equal(removeStopwords('The, and: of!', stopwords), '');
});

test('a repeated word in a list is an InputError naming file and line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stop-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'list');
  await writeFile(file, 'a\r\nthe\r\nA\r\n');
  await assert.rejects(loadStopwords(file), (err: unknown) =>
    err instanceof InputError && err.message === `${file}:3: 'A' is listed twice`);
  await writeFile(file, 'a\nthe\n\n');
  assert.deepEqual(await loadStopwords(file), new Set(['a', 'the']));
});
