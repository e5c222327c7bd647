/** Shared by the prepare tests: default options, a silent logger, and JSON-lines readers for the written folder. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../shared/runtime/log.js';
import { SAMPLE_JSONL } from '../shared/runtime/paths.js';
import type { T5Tokenizer } from '../shared/dataset/tokenizer.js';
import type { PrepareOptions } from '../shared/dataset/prepare/prepare.js';

export function prepareOptions(tokenizer: T5Tokenizer, out: string, over: Partial<PrepareOptions> = {}): PrepareOptions {
  return {
    format: 'sample', input: SAMPLE_JSONL, out, scheme: 'naive', seed: 7, evalFraction: 0.2, maxInputTokens: 64, lowercase: true,
    indexing: 'inputs2targets', augment: '', posMlmShare: 0.1, mlmModel: '', pseudoQueries: 0, doc2queryModel: '',
    embedderModel: '', semanticK: 10, semanticMaxLeaf: 100, semanticFitSample: 50_000, semanticKmeansSample: 20_000, bm25TopK: 100, bm25K1: 0.9, bm25B: 0.4,
    skipBad: false, overwrite: false, tokenizer, log: createLogger({ level: 'silent' }), ...over,
  };
}

export function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as T);
}

export function readTsv(file: string): string[][] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

export const inDir = (dir: string, name: string): string => path.join(dir, name);

/** xs[i], or a failed assertion naming the index (instead of a non-null `!`). */
export function at<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new Error(`expected an element at index ${i} of ${xs.length}`);
  return x;
}
