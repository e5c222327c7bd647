/**
 * A whole training run in one process (one worker): resolve the data, build or load the model,
 * train with progress, checkpoint, evaluate on held-out queries, and summarise.
 */
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { initBackend } from '../shared/backend.js';
import type { GpuAdapterReport } from '../shared/webgpu.js';
import { loadT5Tokenizer, type T5Tokenizer } from '../shared/tokenizer.js';
import { openPreparedDataset, type PreparedDataset } from '../shared/dataset/reader.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { bundledSampleOptions } from '../shared/dataset/prepare/options.js';
import { REPO_ROOT, SAMPLE_JSONL } from '../shared/paths.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout, type ParamLayout } from '../shared/model/params.js';
import { weightsFromFlat } from '../shared/model/t5.js';
import { DocidTrie } from '../shared/model/docid_trie.js';
import { loadHfModel, saveTrainingCheckpoint } from '../shared/model/checkpoint.js';
import { newAdamWState } from '../shared/train/adamw.js';
import { initLora } from '../shared/model/lora.js';
import { AdaptedModel, fullMemory, type AdaptedModelOptions, type MemoryFigures } from '../shared/model/peft.js';
import { saveLoraCheckpoint } from '../shared/model/lora_checkpoint.js';
import { mixSeed } from '../shared/random.js';
import { evaluateModel } from '../shared/eval/dsi_retrieval.js';
import type { RetrievalMetrics } from '../shared/pipeline/metrics.js';
import { Trainer, type TrainState } from '../worker/trainer.js';

export interface RunSummary {
  run_dir: string;
  data_dir: string;
  backend: string;
  /** The WebGPU adapter (name, api, software or hardware) when the backend is webgpu. */
  device?: GpuAdapterReport;
  preset: string;
  parameters: number;
  mode: string;                    // full | lora | qlora
  memory: MemoryFigures;           // trainable parameters, optimizer state, gradient and weight bytes
  steps: number;
  loss_first: number;
  loss_last: number;
  samples_per_s: number;
  tokens_per_s: number;
  train_seconds: number;
  eval: RetrievalMetrics & { split: string; beam_size: number; trec_run: string };
  checkpoint: string;
}

/** The run folder: the configured one, else runs/<UTC timestamp> (never an existing run's). */
export function resolveRunDir(cfg: Config): string {
  if (cfg.run.dir) return path.resolve(cfg.run.dir);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return path.join(REPO_ROOT, 'runs', stamp);
}

/** The prepared dataset: the configured folder, or the bundled sample prepared once into runs/prepared/. */
export async function resolveDataset(cfg: Config, tok: T5Tokenizer, log: Logger): Promise<PreparedDataset> {
  let dir = cfg.data.dir ? path.resolve(cfg.data.dir) : '';
  if (!dir) {
    dir = path.join(REPO_ROOT, 'runs', 'prepared', `msmarco-sample-${cfg.data.scheme}-seed${cfg.runtime.seed}-max${cfg.data.maxInputTokens}`);
    if (!existsSync(path.join(dir, 'manifest.json'))) {
      log.info({ input: SAMPLE_JSONL, out: dir, scheme: cfg.data.scheme }, 'preparing the bundled MS MARCO sample');
      await prepareDataset(bundledSampleOptions(cfg, dir, tok, log)); // the same path as `coordinator prepare`
    }
  }
  return openPreparedDataset(dir);
}

/** Model config and initial weights: a Hugging Face folder, or the preset with seeded init. */
export async function initialModel(cfg: Config, vocabSize: number): Promise<{ model: T5Config; layout: ParamLayout; params: Float32Array }> {
  if (cfg.model.from) {
    const loaded = await loadHfModel(cfg.model.from, { minVocabSize: vocabSize, seed: cfg.runtime.seed });
    return { model: loaded.config, layout: loaded.layout, params: loaded.params };
  }
  // atomic docids add one output row per document to the 32128 of T5
  const model: T5Config = { ...PRESET_CONFIGS[cfg.model.preset], vocabSize: Math.max(vocabSize, PRESET_CONFIGS[cfg.model.preset].vocabSize) };
  const layout = t5ParamLayout(model);
  return { model, layout, params: initParams(layout, cfg.runtime.seed) };
}

/** Seed stream of the LoRA A matrices (distinct from the base initialisation's). */
const LORA_INIT_STREAM = 0x10a;

/** LoRA/QLoRA settings of a run, from the config. */
export function adaptedModelOptions(cfg: Config): AdaptedModelOptions {
  const l = cfg.lora;
  return { lora: { rank: l.rank, alpha: l.alpha, dropout: l.dropout, targets: [...l.targets] }, quantize: cfg.train.mode === 'qlora', doubleQuant: l.doubleQuant };
}

export async function trainAndEvaluate(cfg: Config, log: Logger): Promise<RunSummary> {
  const backend = await initBackend(cfg.runtime.backend, { webgpuApi: cfg.runtime.webgpuApi });
  log.info({ backend: backend.name, device: backend.device, tried: backend.tried }, 'backend');
  const tok = await loadT5Tokenizer();
  const data = await resolveDataset(cfg, tok, log);
  const runDir = resolveRunDir(cfg);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  log.info({ runDir, dataDir: data.dir, examples: data.numExamples }, 'run');

  const { model, layout, params } = await initialModel(cfg, data.manifest.model_vocab_size);
  // lora/qlora: the adapters are what trains; the base is frozen (qlora: NF4) and uploaded once
  const adapted = cfg.train.mode === 'full' ? undefined : new AdaptedModel(layout, params, adaptedModelOptions(cfg));
  const trainLayout = adapted?.lora ?? layout;
  const memory = adapted?.memory() ?? fullMemory(layout);
  log.info({ preset: cfg.model.from || cfg.model.preset, parameters: layout.total, vocab: model.vocabSize, mode: cfg.train.mode, memory }, 'model');
  const state: TrainState = {
    step: 0, params: adapted ? initLora(adapted.lora, mixSeed(cfg.runtime.seed, LORA_INIT_STREAM)) : params, opt: newAdamWState(trainLayout.total),
  };
  const trainer = new Trainer({ cfg, model, layout: trainLayout, ...(adapted ? { weights: adapted } : {}), data, rank: 0, worldSize: 1, log }, state);

  // train, reporting every logEvery steps
  const losses: number[] = [];
  let tokens = 0;
  const t0 = performance.now();
  while (state.step < cfg.train.steps) {
    const s = await trainer.step();
    losses.push(s.loss);
    tokens += s.tokens;
    if (!Number.isFinite(s.loss)) throw new Error(`training diverged at step ${s.step}: loss ${s.loss}; lower --lr (now ${cfg.train.learningRate})`);
    if (s.step % cfg.train.logEvery === 0 || s.step === cfg.train.steps) {
      const elapsed = (performance.now() - t0) / 1000;
      log.info({
        step: s.step, steps: cfg.train.steps, loss: round(s.loss), lr: s.lr, gradNorm: round(s.gradNorm),
        samplesPerSec: round((s.step * cfg.train.batchSize) / elapsed), tokensPerSec: round(tokens / elapsed),
        etaSec: Math.round((elapsed / s.step) * (cfg.train.steps - s.step)),
      }, 'step');
    }
  }
  const trainSeconds = (performance.now() - t0) / 1000;

  const checkpoint = adapted
    ? await saveLoraCheckpoint(path.join(runDir, 'checkpoint'), {
      mode: adapted.o.quantize ? 'qlora' : 'lora', doubleQuant: adapted.o.doubleQuant, config: model, base: layout, baseParams: params,
      options: adapted.o.lora, lora: adapted.lora, state, runConfig: cfg, dataDir: data.dir, losses,
    }, adapted.merged(params, state.params))
    : await saveTrainingCheckpoint(path.join(runDir, 'checkpoint'), {
      config: model, layout, state, runConfig: cfg, dataDir: data.dir, losses,
    });
  log.info({ checkpoint }, 'checkpoint written');

  // evaluate on held-out queries (or on the training queries with --split train)
  // base + adapters in lora/qlora modes (qlora: the NF4 base the adapters were trained on)
  const weights = adapted ? adapted.build(state.params) : weightsFromFlat(layout, state.params);
  const trie = new DocidTrie(data.docidTokens());
  let queries = data.queries(cfg.eval.split);
  if (cfg.eval.maxQueries > 0) queries = queries.slice(0, cfg.eval.maxQueries);
  const trecRun = path.join(runDir, 'eval', `run.${cfg.eval.split}.trec`);
  mkdirSync(path.dirname(trecRun), { recursive: true });
  let lastReport = 0;
  const evalResult = await evaluateModel(
    { config: model, weights, trie, docids: data.documents().map((d) => d.docid) }, tok, queries,
    {
      beamSize: cfg.eval.beamSize, maxInputTokens: cfg.data.maxInputTokens, trecRunFile: trecRun, runTag: 'dsi',
      onProgress: (done, total) => {
        if (done - lastReport >= 50 || done === total) { lastReport = done; log.info({ done, total }, 'evaluating'); }
      },
    },
  );
  if (adapted) { adapted.release(weights); adapted.dispose(); } else tf.dispose([...weights.values()]);
  data.close();

  const summary: RunSummary = {
    run_dir: runDir,
    data_dir: data.dir,
    backend: backend.name,
    ...(backend.device ? { device: backend.device } : {}),
    preset: cfg.model.from || cfg.model.preset,
    parameters: layout.total,
    mode: cfg.train.mode,
    memory,
    steps: state.step,
    loss_first: losses[0] ?? NaN,
    loss_last: losses.at(-1) ?? NaN,
    samples_per_s: (state.step * cfg.train.batchSize) / trainSeconds,
    tokens_per_s: tokens / trainSeconds,
    train_seconds: trainSeconds,
    eval: { ...evalResult.metrics, split: cfg.eval.split, beam_size: cfg.eval.beamSize, trec_run: trecRun },
    checkpoint,
  };
  writeFileSync(path.join(runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
