/**
 * `coordinator bench quality`: learning curves of retrieval quality on the bundled sample, for each
 * docid scheme and with and without each kind of sampled query. Each variant trains in this process
 * (one worker, the same step as `worker`: shared/training/trainer.ts) for the same wall-clock
 * budget and is evaluated every `evalEverySeconds` of training time on the held-out queries and on as
 * many training queries (memorisation vs generalisation). Prints rows, writes curves.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../shared/runtime/config.js';
import type { Logger } from '../../shared/runtime/log.js';
import { loadT5Tokenizer, type T5Tokenizer } from '../../shared/dataset/tokenizer.js';
import { openPreparedDataset, type PreparedDataset } from '../../shared/dataset/reader.js';
import { currentWeights, releaseWeights, setUpTraining, type TrainingSetup } from '../../shared/training/setup.js';
import { decoderOutput, trainingData } from '../../shared/training/training_data.js';
import { evaluateModel, retrievalModelOf } from '../../shared/training/dsi_retrieval.js';
import type { Config } from '../../shared/runtime/config.js';
import { Trainer } from '../../shared/training/trainer.js';
import { resolveDataset } from '../run_inputs.js';

export interface QualityVariant {
  scheme: 'atomic' | 'naive' | 'semantic';
  /** A name for the data: the --mix it trains on. */
  data: string;
  mix: string;
}

/** Every docid scheme on the recipe's mix, and atomic docids without each kind of sampled query. */
export const QUALITY_VARIANTS: readonly QualityVariant[] = [
  { scheme: 'atomic', data: 'recipe', mix: 'documents:1,spans:4,terms:2,queries:1' },
  { scheme: 'atomic', data: 'no spans', mix: 'documents:1,terms:2,queries:1' },
  { scheme: 'atomic', data: 'no terms', mix: 'documents:1,spans:4,queries:1' },
  { scheme: 'atomic', data: 'no sampled queries', mix: 'documents:1,queries:1' },
  { scheme: 'naive', data: 'recipe', mix: 'documents:1,spans:4,terms:2,queries:1' },
  { scheme: 'semantic', data: 'recipe', mix: 'documents:1,spans:4,terms:2,queries:1' },
];

export interface QualityRow {
  scheme: string;
  data: string;
  step: number;
  examples: number;
  seconds: number;
  hits_at_1: number;
  hits_at_10: number;
  mrr_at_10: number;
  split: 'eval' | 'train';
}

export interface QualityOptions {
  /** Training time per variant (evaluations not counted). */
  minutes: number;
  evalEverySeconds: number;
  /** The run settings the variants share (flags of `coordinator start`); --docids and --mix are set per variant. */
  args: string[];
  variants: readonly QualityVariant[];
  outDir: string;
  log: Logger;
  /** A terminal's progress bar: called after every step with seconds trained of the variant's budget. */
  progress?: (msg: string, fields: object) => void;
}

export async function benchQuality(o: QualityOptions): Promise<QualityRow[]> {
  const tok = await loadT5Tokenizer();
  const rows: QualityRow[] = [];
  for (const v of o.variants) {
    const cfg = loadConfig({ args: [...o.args, '--docids', v.scheme, '--mix', v.mix] });
    const data = await openPreparedDataset((await resolveDataset(cfg, tok, o.log)).dir);
    try {
      o.log.info({ scheme: v.scheme, data: v.data, mix: v.mix, minutes: o.minutes }, 'bench quality: variant');
      rows.push(...await curve(cfg, data, tok, v, o));
    } finally {
      data.close();
    }
  }
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(path.join(o.outDir, 'quality.json'), JSON.stringify(rows, null, 1) + '\n');
  writeFileSync(path.join(o.outDir, 'curves.svg'), curvesSvg(rows));
  return rows;
}

/** Trains one variant for o.minutes of training time, evaluating as it goes. */
async function curve(cfg: Config, data: PreparedDataset, tok: T5Tokenizer, v: QualityVariant, o: QualityOptions): Promise<QualityRow[]> {
  const setup = await setUpTraining(cfg, data);
  const output = decoderOutput(cfg, data);
  const trainer = new Trainer({
    cfg, model: setup.model, layout: setup.trainLayout, data: trainingData(cfg, data).source, ...(output ? { output } : {}),
    rank: 0, worldSize: 1, log: o.log,
  }, setup.state);
  const evalQueries = data.queries('eval');
  const trainQueries = data.queries('train').slice(0, evalQueries.length);
  const rows: QualityRow[] = [];
  const budgetMs = o.minutes * 60_000;
  let trainedMs = 0, nextEvalMs = o.evalEverySeconds * 1000;
  while (trainedMs < budgetMs) {
    const t = performance.now();
    const s = await trainer.step();
    trainedMs += performance.now() - t;
    o.progress?.('progress', { stage: `${v.scheme}/${v.data}`, done: Math.floor(Math.min(budgetMs, trainedMs) / 1000), total: Math.round(budgetMs / 1000), unit: 's trained' });
    if (trainedMs < nextEvalMs && trainedMs < budgetMs) continue;
    nextEvalMs += o.evalEverySeconds * 1000;
    for (const [split, queries] of [['eval', evalQueries], ['train', trainQueries]] as const) {
      if (queries.length === 0) continue;
      const m = await evaluate(cfg, setup, data, tok, queries);
      rows.push({ scheme: v.scheme, data: v.data, step: s.step, examples: s.step * cfg.train.batchSize, seconds: trainedMs / 1000, ...m, split });
    }
    const last = rows.filter((r) => r.split === 'eval').at(-1);
    o.log.info({ scheme: v.scheme, data: v.data, step: s.step, seconds: Math.round(trainedMs / 1000), hits_at_1: last?.hits_at_1, hits_at_10: last?.hits_at_10 }, 'bench quality: evaluated');
  }
  return rows;
}

async function evaluate(cfg: Config, setup: TrainingSetup, data: PreparedDataset, tok: T5Tokenizer, queries: ReturnType<PreparedDataset['queries']>): Promise<{ hits_at_1: number; hits_at_10: number; mrr_at_10: number }> {
  const weights = currentWeights(setup);
  try {
    const r = await evaluateModel(retrievalModelOf(cfg, data, setup.model, weights), tok, queries, {
      beamSize: Math.max(10, cfg.eval.beamSize), maxInputTokens: data.manifest.max_input_tokens, lowercase: data.manifest.lowercase === true, batchSize: 50,
    });
    return { hits_at_1: r.metrics.hits_at_1, hits_at_10: r.metrics.hits_at_10, mrr_at_10: r.metrics.mrr_at_10 };
  } finally {
    releaseWeights(setup, weights);
  }
}

/** The rows as a table: one line per variant and evaluation, held-out and training queries side by side. */
export function formatQuality(rows: readonly QualityRow[]): string {
  const lines = ['scheme     data                  step  examples  seconds  held-out H@1  H@10   MRR@10  | train H@1  H@10'];
  for (const r of rows.filter((x) => x.split === 'eval')) {
    const t = rows.find((x) => x.split === 'train' && x.scheme === r.scheme && x.data === r.data && x.step === r.step);
    lines.push(`${r.scheme.padEnd(10)} ${r.data.padEnd(20)} ${String(r.step).padStart(5)} ${String(r.examples).padStart(9)} ${r.seconds.toFixed(0).padStart(8)}  ` +
      `${r.hits_at_1.toFixed(3).padStart(12)} ${r.hits_at_10.toFixed(3).padStart(5)} ${r.mrr_at_10.toFixed(3).padStart(8)}  | ${t ? t.hits_at_1.toFixed(3).padStart(9) : '-'.padStart(9)} ${t ? t.hits_at_10.toFixed(3).padStart(5) : '-'}`);
  }
  return lines.join('\n') + '\n';
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Held-out Hits@1 (solid) and Hits@10 (dashed) against training seconds, one colour per variant. */
export function curvesSvg(rows: readonly QualityRow[]): string {
  const W = 720, H = 420, L = 50, R = 230, T = 20, B = 40;
  const held = rows.filter((r) => r.split === 'eval');
  const xMax = Math.max(1, ...held.map((r) => r.seconds));
  const sx = (x: number): number => L + (x / xMax) * (W - L - R);
  const sy = (y: number): number => H - B - y * (H - T - B);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#999"/>`];
  for (const y of [0, 0.25, 0.5, 0.75, 1]) out.push(`<text x="${L - 30}" y="${sy(y) + 4}">${y.toFixed(2)}</text><line x1="${L}" y1="${sy(y)}" x2="${W - R}" y2="${sy(y)}" stroke="#eee"/>`);
  for (let i = 0; i <= 4; i++) out.push(`<text x="${sx((xMax * i) / 4) - 10}" y="${H - B + 16}">${Math.round((xMax * i) / 4)}</text>`);
  out.push(`<text x="${(W - R) / 2}" y="${H - 6}">training seconds</text><text x="4" y="12">held-out Hits@1 (solid), Hits@10 (dashed)</text>`);
  const variants = [...new Set(held.map((r) => `${r.scheme} / ${r.data}`))];
  variants.forEach((name, i) => {
    const pts = held.filter((r) => `${r.scheme} / ${r.data}` === name);
    const color = COLORS[i % COLORS.length] as string;
    const line = (key: 'hits_at_1' | 'hits_at_10', dash: string): string =>
      `<polyline fill="none" stroke="${color}" stroke-width="1.5"${dash} points="${pts.map((p) => `${sx(p.seconds).toFixed(1)},${sy(p[key]).toFixed(1)}`).join(' ')}"/>`;
    out.push(line('hits_at_1', ''), line('hits_at_10', ' stroke-dasharray="4 3"'));
    out.push(`<rect x="${W - R + 10}" y="${T + i * 18}" width="10" height="10" fill="${color}"/><text x="${W - R + 26}" y="${T + i * 18 + 9}">${name}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
