import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFormatError } from '../shared/runtime/errors.js';
import { DEFAULT_TOKENIZER_DIR } from '../shared/runtime/paths.js';
import { EOS_ID, loadT5Tokenizer } from '../shared/dataset/tokenizer.js';

const tok = await loadT5Tokenizer();

test('"Hello world" encodes to the ids of Hugging Face T5TokenizerFast', () => {
  assert.deepEqual(tok.encode('Hello world'), Int32Array.from([8774, 296, 1]));
  assert.equal(tok.vocabSize, 32100);
  assert.equal(tok.name, 't5-tokenizer');
  // the sha256 recorded in data/t5-tokenizer/MANIFEST.txt
  assert.equal(tok.sha256, '6b85d84d2151f734ceaf06ee18df4d2c45655696246bf8cfd9aebd71f1d9a145');
});

test('single-piece words encode to their vocabulary rows in tokenizer.json', async () => {
  const json = JSON.parse(await readFile(join(DEFAULT_TOKENIZER_DIR, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: [string, number][] };
  };
  const row = (id: number): string | undefined => json.model.vocab[id]?.[0];
  assert.equal(row(8), '▁the');
  assert.equal(row(1712), '▁cat');
  assert.equal(tok.pieceId('▁the'), 8);
  assert.equal(tok.pieceId('▁cat'), 1712);
  assert.equal(tok.pieceId('</s>'), EOS_ID);
  assert.equal(tok.pieceId('<extra_id_0>'), 32099);
  assert.equal(tok.pieceId('no-such-piece-xyz'), undefined);
  assert.deepEqual(tok.encode('the'), Int32Array.from([8, 1]));
  assert.deepEqual(tok.encode('the cat'), Int32Array.from([8, 1712, 1]));
  // whitespace is normalised: leading, doubled spaces give the same pieces
  assert.deepEqual(tok.encode('  the   cat '), Int32Array.from([8, 1712, 1]));
  // T5's known quirk: " a" is "▁" (3) + "a" (9), not one piece
  assert.deepEqual(tok.encode('Hello world this is a test'), Int32Array.from([8774, 296, 48, 19, 3, 9, 794, 1]));
  assert.deepEqual(tok.encode(''), Int32Array.from([1]));
});

test('the digit pieces used by docids are single tokens', () => {
  const expected = [632, 536, 357, 519, 591, 755, 948, 940, 927, 1298];
  assert.deepEqual(Array.from({ length: 10 }, (_, d) => tok.pieceId(String(d))), expected);
});

test('truncation keeps </s> as the last id', () => {
  const full = tok.encode('Hello world this is a test');
  assert.equal(full.length, 8);
  assert.deepEqual(tok.encode('Hello world this is a test', 4), Int32Array.from([8774, 296, 48, 1]));
  assert.deepEqual(tok.encode('Hello world this is a test', 1), Int32Array.from([1]));
  assert.deepEqual(tok.encode('Hello world this is a test', 8), full); // exactly fits: unchanged
  assert.deepEqual(tok.encode('Hello world this is a test', 100), full);
  assert.throws(() => tok.encode('x', 0), /maxTokens must be an integer >= 1/);
});

test('decode inverts encode on a plain sentence and drops special tokens', () => {
  const text = 'The quick brown fox jumps over the lazy dog.';
  assert.equal(tok.decode(tok.encode(text)), text);
  assert.equal(tok.decode([8774, 296, 1, 0, 0]), 'Hello world');
  assert.throws(() => tok.decode([8774, 32100]), /id 32100 at position 1/);
});

test('a missing folder is a ModelFormatError naming the path', async () => {
  const missing = join(tmpdir(), 'dsi-no-such-tokenizer-folder');
  await assert.rejects(loadT5Tokenizer(missing), (err: unknown) => {
    assert.ok(err instanceof ModelFormatError);
    assert.ok(err.message.startsWith(`${missing}: tokenizer folder not found`), err.message);
    return true;
  });
});

test('a missing or malformed tokenizer.json is a ModelFormatError naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dsi-tok-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await copyFile(join(DEFAULT_TOKENIZER_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  const file = join(dir, 'tokenizer.json');
  await assert.rejects(loadT5Tokenizer(dir), { name: 'ModelFormatError', message: `${file}: missing or unreadable: a Hugging Face tokenizer folder needs this file` });
  await writeFile(file, '{"model": {"type": "Unigram", "vocab": [');
  await assert.rejects(loadT5Tokenizer(dir), (err: unknown) => err instanceof ModelFormatError && err.message.startsWith(`${file}: not valid JSON`));
  await writeFile(file, '{"model": {"type": "BPE", "vocab": {}}}');
  await assert.rejects(loadT5Tokenizer(dir), { message: `${file}: field 'model.type' is "BPE", expected "Unigram" (a T5 SentencePiece tokenizer)` });
});
