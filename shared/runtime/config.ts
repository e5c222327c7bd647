/**
 * The one configuration schema of the system (convict): defaults < config file < env < flags.
 * Validated once at start; code receives the frozen plain object (or a slice), never `conf.get()`.
 */
import convict from 'convict';
import { existsSync } from 'node:fs';
import { ConfigError } from './errors.js';

export const BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
/** Dawn's backends for `webgpu`: Vulkan (GPUs; Mesa >= 23's lavapipe) or OpenGL ES (Mesa's llvmpipe). */
export const WEBGPU_APIS = ['auto', 'vulkan', 'opengles'] as const;
export type WebGpuApi = (typeof WEBGPU_APIS)[number];
export const PRESETS = ['t5-tiny', 't5-small', 't5-base'] as const;
export type PresetName = (typeof PRESETS)[number];
export const LR_DECAYS = ['linear', 'cosine', 'constant'] as const;
export type LrDecay = (typeof LR_DECAYS)[number];
/** full: every weight trains; lora: adapters on a frozen base; qlora: adapters on an NF4 base. */
export const TRAIN_MODES = ['full', 'lora', 'qlora'] as const;
export type TrainMode = (typeof TRAIN_MODES)[number];
/** Linear modules LoRA may adapt: attention q, k, v, o; feed-forward wi (wi_0 and wi_1 when gated) and wo. */
export const LORA_TARGETS = ['q', 'k', 'v', 'o', 'wi', 'wo'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];
/** How logs look on stderr: auto is pretty on a terminal, json elsewhere (shared/runtime/log.ts). */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A setting a resume changed against the checkpoint's (`--override KEY`), from `step` on. */
export interface ConfigOverride { key: string; from: unknown; to: unknown; step: number }

export interface Config {
  runtime: { backend: BackendName; webgpuApi: WebGpuApi; seed: number; logLevel: string; logFormat: LogFormat; json: boolean };
  model: { preset: PresetName; from: string; dropout: number };
  data: { dir: string; scheme: 'naive' | 'atomic' | 'semantic'; maxInputTokens: number; lowercase: boolean };
  prepare: {
    input: string; format: 'sample' | 'msmarco-v1.1' | 'msmarco-passage'; queries: string; qrels: string; out: string;
    indexing: 'inputs2targets' | 'targets2inputs' | 'bidirectional'; augment: string; posMlmShare: number; mlmModel: string;
    pseudoQueries: number; doc2queryModel: string; embedderModel: string; semanticK: number; semanticMaxLeaf: number; semanticFitSample: number; semanticKmeansSample: number;
    evalFraction: number; bm25TopK: number; bm25K1: number; bm25B: number; skipBad: boolean; overwrite: boolean; checkpointExamples: number;
  };
  train: {
    steps: number; batchSize: number; accumulate: number; learningRate: number; warmupSteps: number;
    decay: LrDecay; decaySteps: number; minLrRatio: number; weightDecay: number; beta1: number; beta2: number; epsilon: number;
    gradClip: number; logEvery: number; mode: TrainMode;
    mix: string; spanMinTokens: number; spanMaxTokens: number; termsMin: number; termsMax: number; labelSmoothing: number; decoderOutput: 'auto' | 'docids' | 'vocab'; docidInit: 'terms' | 'random';
  };
  lora: { rank: number; alpha: number; dropout: number; targets: LoraTarget[]; doubleQuant: boolean };
  prune: { final: number; initial: number; beginStep: number; endStep: number; every: number; scope: 'global' | 'layer' };
  eval: { beamSize: number; maxQueries: number; split: 'eval' | 'train'; every: number; everyQueries: number };
  run: { dir: string; interruptedExitCode: number; overrides: ConfigOverride[] };
  cluster: {
    workers: number; minWorkers: number; maxRestarts: number; restartWaitMs: number; host: string; port: number; spawn: boolean; coordinator: string; workerHost: string; advertiseHost: string;
    wire: 'fp32' | 'fp16' | 'bf16'; transport: 'tcp' | 'grpc'; chunkBytes: number; bucketBytes: number; ringTimeoutMs: number; maxStepMs: number; heartbeatMs: number; joinTimeoutMs: number; coordinatorTimeoutMs: number;
    checksumEvery: number; testHookStepSleepMs: number; checkpointEvery: number; keepCheckpoints: number; lossScale: number; lossScaleWindow: number;
    workerPort: number; ringPort: number; healthPort: number;
  };
  security: {
    joinTokenFile: string; insecure: boolean; metricsTokenFile: string; tlsCert: string; tlsKey: string; tlsCa: string; tlsServerName: string;
  };
  telemetry: { nats: boolean; natsUrl: string; natsCredsFile: string; natsUser: string; natsPasswordFile: string; natsTls: boolean; metricsPort: number; metricsHost: string; timeline: boolean };
}

function addFormats(): void {
  convict.addFormat({
    name: 'positive-int', coerce: Number,
    validate(v: unknown) { if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error('must be an integer > 0'); },
  });
  convict.addFormat({
    name: 'nonneg-int', coerce: Number,
    validate(v: unknown) { if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error('must be an integer >= 0'); },
  });
  convict.addFormat({
    name: 'nonneg-number', coerce: Number,
    validate(v: unknown) { if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error('must be a number >= 0'); },
  });
  convict.addFormat({
    name: 'port-or-off', coerce: Number,
    validate(v: unknown) { if (typeof v !== 'number' || !Number.isInteger(v) || v < -1 || v > 65535) throw new Error('must be a port number (0: any free port) or -1 (off)'); },
  });
  convict.addFormat({
    name: 'exit-code', coerce: Number,
    validate(v: unknown) { if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw new Error('must be an integer in [0, 255]'); },
  });
  convict.addFormat({
    name: 'unit-interval', coerce: Number,
    validate(v: unknown) { if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new Error('must be a number in [0, 1)'); },
  });
  convict.addFormat({
    name: 'lora-targets',
    coerce: (v: unknown) => (typeof v === 'string' ? v.split(',').map((t) => t.trim()).filter((t) => t !== '') : v),
    validate(v: unknown) {
      if (!Array.isArray(v) || v.length === 0) throw new Error(`must be a non-empty comma-separated list of ${LORA_TARGETS.join(', ')}`);
      for (const t of v) if (!(LORA_TARGETS as readonly unknown[]).includes(t)) throw new Error(`'${String(t)}' is not one of ${LORA_TARGETS.join(', ')}`);
    },
  });
}
addFormats();

const schema: convict.Schema<Config> = {
  runtime: {
    backend: { doc: 'TensorFlow.js backend; auto tries tensorflow (tfjs-node-gpu/tfjs-node), then webgpu on a hardware GPU, then wasm, then cpu. webgpu named explicitly also accepts a software (CPU) adapter.', format: [...BACKENDS], default: 'auto', env: 'DSI_BACKEND', arg: 'backend' },
    webgpuApi: { doc: 'Dawn backend for webgpu: vulkan, opengles (Mesa llvmpipe needs it on Debian 12) or auto (vulkan, then opengles).', format: [...WEBGPU_APIS], default: 'auto', env: 'DSI_WEBGPU_BACKEND', arg: 'webgpu-backend' },
    seed: { doc: 'Seed of every random choice (init, data order, dropout).', format: 'nonneg-int', default: 42, env: 'DSI_SEED', arg: 'seed' },
    logLevel: { doc: 'pino log level.', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', env: 'DSI_LOG_LEVEL', arg: 'log-level' },
    logFormat: { doc: 'Logs on stderr: json (one pino JSON object a line, what CI, Kubernetes and log shippers read), pretty (a live progress bar and one readable line per event), or auto (pretty when stderr is a terminal, else json).', format: [...LOG_FORMATS], default: 'auto', env: 'DSI_LOG_FORMAT', arg: 'log-format' },
    json: { doc: 'Print the result as one JSON object on stdout.', format: Boolean, default: false, arg: 'json' },
  },
  model: {
    preset: { doc: 'Model shape: t5-tiny (tests, demo), t5-small and t5-base (Hugging Face shapes).', format: [...PRESETS], default: 't5-tiny', env: 'DSI_PRESET', arg: 'preset' },
    from: { doc: 'Hugging Face T5 folder (config.json + model.safetensors) to start from; empty: random init.', format: String, default: '', env: 'DSI_MODEL_FROM', arg: 'model-from' },
    dropout: { doc: 'Dropout rate; negative: the preset\'s own (0.1 for Hugging Face presets).', format: Number, default: -1, arg: 'dropout' },
  },
  data: {
    dir: { doc: 'Prepared dataset folder; empty: the bundled MS MARCO sample, prepared on first use.', format: String, default: '', env: 'DSI_DATA', arg: 'data' },
    scheme: { doc: 'Docid scheme of prepare and of the bundled sample (naive: random integers as digit strings; atomic: one token per document; semantic: recursive k-means digit strings).', format: ['naive', 'atomic', 'semantic'], default: 'atomic', env: 'DSI_DOCIDS', arg: 'docids' },
    maxInputTokens: { doc: 'Inputs are truncated to this many tokens (</s> included).', format: 'positive-int', default: 64, arg: 'max-input-tokens' },
    lowercase: { doc: 'prepare: lower-case every text before tokenizing (MS MARCO queries are lower case, passages are not; the T5 tokenizer splits names differently by case). Recorded in the manifest; search and eval lower-case queries to match.', format: Boolean, default: true, arg: 'lowercase' },
  },
  prepare: {
    input: { doc: 'prepare: the input: records file (sample, msmarco-v1.1 .jsonl or .parquet) or collection.tsv (msmarco-passage); empty with --format sample: the bundled sample.', format: String, default: '', arg: 'input' },
    format: { doc: 'prepare: input format.', format: ['sample', 'msmarco-v1.1', 'msmarco-passage'], default: 'sample', arg: 'format' },
    queries: { doc: 'prepare, msmarco-passage: queries TSV (qid<TAB>query).', format: String, default: '', arg: 'queries' },
    qrels: { doc: 'prepare, msmarco-passage: TREC qrels (qid 0 pid relevance).', format: String, default: '', arg: 'qrels' },
    out: { doc: 'prepare: the dataset folder to create.', format: String, default: '', arg: 'out' },
    indexing: { doc: 'prepare: indexing examples: inputs2targets (document -> docid), targets2inputs (docid -> document) or bidirectional (both, with task prefixes).', format: ['inputs2targets', 'targets2inputs', 'bidirectional'], default: 'inputs2targets', arg: 'indexing' },
    augment: { doc: "prepare: augmented corpora, ',' between corpora and '+' between chained steps, of stopwords, num2text, pos-mlm (e.g. stopwords,num2text+pos-mlm); empty: none.", format: String, default: '', arg: 'augment' },
    posMlmShare: { doc: 'prepare: share of sentences whose verbs POS-MLM masks and refills.', format: 'unit-interval', default: 0.1, arg: 'pos-mlm-share' },
    mlmModel: { doc: 'prepare: local fill-mask model folder (bert-base-uncased ONNX) for POS-MLM; empty: the filler learnt from the corpus.', format: String, default: '', arg: 'mlm-model' },
    pseudoQueries: { doc: 'prepare: pseudo-queries per document (DSI-QG); 0: none.', format: 'nonneg-int', default: 0, arg: 'pseudo-queries' },
    doc2queryModel: { doc: 'prepare: local doc2query T5 folder (ONNX) for pseudo-queries; empty: the offline key-phrase generator.', format: String, default: '', arg: 'doc2query-model' },
    embedderModel: { doc: 'prepare: local BERT-family folder (ONNX) embedding documents for semantic docids; empty: TF-IDF + SVD.', format: String, default: '', arg: 'embedder-model' },
    semanticK: { doc: 'prepare: semantic docids, clusters per level (k).', format: 'positive-int', default: 10, arg: 'semantic-k' },
    semanticMaxLeaf: { doc: 'prepare: semantic docids, most documents per leaf (c).', format: 'positive-int', default: 100, arg: 'semantic-max-leaf' },
    semanticFitSample: { doc: 'prepare: semantic docids, documents sampled (seeded, uniform) to fit the TF-IDF vocabulary, idf and SVD; every document is then embedded into a float32 file. Bounds the fit\'s memory (50k: a few hundred MB); a corpus no larger is fitted whole.', format: 'positive-int', default: 50000, arg: 'semantic-fit-sample' },
    semanticKmeansSample: { doc: 'prepare: semantic docids, a k-means node with more documents fits its k centroids on a seeded sample of this many and assigns all its documents to the nearest; smaller nodes are clustered whole. At least k.', format: 'positive-int', default: 20000, arg: 'semantic-kmeans-sample' },
    evalFraction: { doc: 'prepare: share of queries held out for evaluation.', format: 'unit-interval', default: 0.2, arg: 'eval-fraction' },
    bm25TopK: { doc: 'prepare: BM25 documents saved per held-out query; 0: no BM25 run.', format: 'nonneg-int', default: 1000, arg: 'bm25-top-k' },
    bm25K1: { doc: "prepare: BM25 k1 (Anserini's MS MARCO value).", format: 'nonneg-number', default: 0.9, arg: 'bm25-k1' },
    bm25B: { doc: "prepare: BM25 b (Anserini's MS MARCO value).", format: 'nonneg-number', default: 0.4, arg: 'bm25-b' },
    skipBad: { doc: 'prepare: skip malformed records, count them in the manifest; off: stop at the first with its file:line.', format: Boolean, default: false, arg: 'skip-bad' },
    overwrite: { doc: 'prepare: replace an existing non-empty --out folder.', format: Boolean, default: false, arg: 'overwrite' },
    checkpointExamples: { doc: 'prepare: examples written between checkpoints of the examples stage; a killed prepare resumes from the last one (the other stages resume from their end). Does not change the output.', format: 'positive-int', default: 200000, arg: 'checkpoint-examples' },
  },
  train: {
    steps: { doc: 'Optimizer steps (the default recipe: 1,200 steps of 128 examples, 8-9 minutes of training on one idle CPU core; docs/retrieval.md).', format: 'positive-int', default: 1200, env: 'DSI_STEPS', arg: 'steps' },
    batchSize: { doc: 'Global batch: examples per optimizer step over all workers and micro-batches.', format: 'positive-int', default: 128, env: 'DSI_BATCH_SIZE', arg: 'batch-size' },
    accumulate: { doc: 'Micro-batches per worker per step (gradient accumulation).', format: 'positive-int', default: 1, arg: 'accumulate' },
    learningRate: { doc: 'Peak learning rate of AdamW (1e-3: the sampled-query recipe learnt slower per example at 2e-3 and 6e-3; README).', format: 'nonneg-number', default: 1e-3, arg: 'lr' },
    warmupSteps: { doc: 'Linear warm-up steps from 0 to the peak learning rate.', format: 'nonneg-int', default: 100, arg: 'warmup-steps' },
    decay: { doc: 'Learning-rate decay after warm-up (over the last --decay-steps). linear by default: with the sampled-query recipe on the bundled sample, 1,400 steps at a constant 1e-3 ended at held-out Hits@1 0.60 / Hits@10 0.795, decaying linearly to 0.1 over the last 400 at 0.69 / 0.83 (both with random docid rows); decaying over the whole run hurts (docs/retrieval.md).', format: [...LR_DECAYS], default: 'linear', arg: 'decay' },
    decaySteps: { doc: 'With --decay linear or cosine: the last N steps over which the rate decays, constant before them (warm-up, stable, decay); 0: it decays over every step after warm-up. Runs shorter than warm-up + N decay from the end of warm-up.', format: 'nonneg-int', default: 400, arg: 'decay-steps' },
    minLrRatio: { doc: 'Final learning rate as a share of the peak.', format: 'unit-interval', default: 0.1, arg: 'min-lr-ratio' },
    weightDecay: { doc: 'AdamW decoupled weight decay (not applied to layer norms).', format: 'nonneg-number', default: 0.01, arg: 'weight-decay' },
    beta1: { doc: 'AdamW beta1.', format: 'unit-interval', default: 0.9, arg: 'beta1' },
    beta2: { doc: 'AdamW beta2.', format: 'unit-interval', default: 0.999, arg: 'beta2' },
    epsilon: { doc: 'AdamW epsilon.', format: 'nonneg-number', default: 1e-8, arg: 'epsilon' },
    gradClip: { doc: 'Clip gradients to this global L2 norm; 0 turns clipping off.', format: 'nonneg-number', default: 1.0, arg: 'grad-clip' },
    logEvery: { doc: 'Log and report progress every N steps.', format: 'positive-int', default: 10, arg: 'log-every' },
    mix: { doc: "Training examples drawn per position, SOURCE:WEIGHT joined by ',': documents (prepared indexing examples), spans (random windows of a document's tokens, NCI's DocAsQuery), terms (a few of a document's top tf-idf words in random order), queries (training queries and pseudo-queries). auto: documents:1,spans:4,terms:2,queries:1 when the dataset has sampling.bin, else the prepared examples in seeded epochs. Recorded in the run's config and summary.", format: String, default: 'auto', env: 'DSI_MIX', arg: 'mix' },
    spanMinTokens: { doc: 'Shortest sampled span, in tokens.', format: 'positive-int', default: 4, arg: 'span-min-tokens' },
    spanMaxTokens: { doc: 'Longest sampled span, in tokens.', format: 'positive-int', default: 16, arg: 'span-max-tokens' },
    termsMin: { doc: 'Fewest top tf-idf words in a sampled term query.', format: 'positive-int', default: 3, arg: 'terms-min' },
    termsMax: { doc: 'Most top tf-idf words in a sampled term query (at most the 8 that prepare keeps).', format: 'positive-int', default: 6, arg: 'terms-max' },
    labelSmoothing: { doc: 'Label smoothing of the cross-entropy: the target is (1 - e) one-hot + e spread over the output rows (the docid rows with the restricted output).', format: 'unit-interval', default: 0, arg: 'label-smoothing' },
    decoderOutput: { doc: "The decoder's output layer in training and retrieval: docids (the docid tokens and </s> only, as the constrained beam search scores them: a 1,001-row softmax for 1,000 atomic docids instead of 33,128), vocab (the whole vocabulary), or auto (docids when every target is a docid, i.e. inputs2targets indexing).", format: ['auto', 'docids', 'vocab'], default: 'auto', arg: 'decoder-output' },
    docidInit: { doc: "Where atomic docid rows start in a model initialised at random: terms (the mean embedding of the document's top tf-idf terms, scaled like a random row) or random. terms by default: on dev-small's 6,588 passages random rows stayed on the uniform plateau for 2,300 steps (docs/retrieval.md). A --model-from model keeps its own rows.", format: ['terms', 'random'], default: 'terms', arg: 'docid-init' },
    mode: { doc: 'full: train every weight; lora: train low-rank adapters on the frozen base; qlora: adapters on a 4-bit NF4 base.', format: [...TRAIN_MODES], default: 'full', env: 'DSI_MODE', arg: 'mode' },
  },
  prune: {
    final: { doc: 'Dynamic magnitude pruning: sparsity reached at prune.endStep (share of Linear weights set to zero: the trained ones in full mode, the frozen base in lora/qlora); 0 turns pruning off.', format: 'unit-interval', default: 0, env: 'DSI_PRUNE', arg: 'prune' },
    initial: { doc: 'Sparsity at prune.beginStep; the schedule ramps (cubic, Zhu & Gupta 2017) from it to prune.final.', format: 'unit-interval', default: 0, arg: 'prune-initial' },
    beginStep: { doc: 'First step that applies a mask.', format: 'nonneg-int', default: 0, arg: 'prune-begin' },
    endStep: { doc: 'Step at which the final sparsity is reached; 0: at 3/4 of train.steps.', format: 'nonneg-int', default: 0, arg: 'prune-end' },
    every: { doc: 'Masks are recomputed from the weights\' magnitudes every N steps, so pruned weights can come back.', format: 'positive-int', default: 10, arg: 'prune-every' },
    scope: { doc: 'global: one magnitude threshold over all Linear weights; layer: the same sparsity in every weight matrix.', format: ['global', 'layer'], default: 'global', arg: 'prune-scope' },
  },
  lora: {
    // the seed's defaults (r = 8, alpha = 32, dropout 0.1, q and v as in the LoRA paper)
    rank: { doc: 'LoRA rank r (lora and qlora modes).', format: 'positive-int', default: 8, arg: 'lora-rank' },
    alpha: { doc: 'LoRA alpha: adapter outputs are scaled by alpha / r.', format: 'nonneg-number', default: 32, arg: 'lora-alpha' },
    dropout: { doc: 'Dropout on the adapters\' inputs in training.', format: 'unit-interval', default: 0.1, arg: 'lora-dropout' },
    targets: { doc: `Comma-separated Linear modules to adapt, of ${LORA_TARGETS.join(', ')} (wi: wi_0 and wi_1 when gated).`, format: 'lora-targets', default: ['q', 'v'], arg: 'lora-targets' },
    doubleQuant: { doc: 'qlora: quantise the NF4 block scales again to 8 bits (blocks of 256), as the QLoRA paper.', format: Boolean, default: true, arg: 'double-quant' },
  },
  eval: {
    beamSize: { doc: 'Beam size of the docid-constrained beam search (>= 10 for Hits@10).', format: 'positive-int', default: 10, arg: 'beam-size' },
    maxQueries: { doc: 'Evaluate on at most this many held-out queries; 0: all.', format: 'nonneg-int', default: 0, arg: 'max-queries' },
    split: { doc: 'Query set to evaluate: eval (held-out queries) or train (memorisation).', format: ['eval', 'train'], default: 'eval', arg: 'split' },
    every: { doc: 'coordinator start: evaluate rank 0\'s model every N steps during training (the workers wait meanwhile), on eval.everyQueries queries of eval.split; the curve goes to the summary (eval_curve), the run events and the dashboard. 0: only at the end.', format: 'nonneg-int', default: 0, env: 'DSI_EVAL_EVERY', arg: 'eval-every' },
    everyQueries: { doc: 'Queries of each --eval-every evaluation (the first of the split; 0: all).', format: 'nonneg-int', default: 100, arg: 'eval-every-queries' },
  },
  run: {
    dir: { doc: 'Run folder (checkpoints, summary, TREC run); empty: runs/<timestamp>.', format: String, default: '', env: 'DSI_RUN_DIR', arg: 'run-dir' },
    interruptedExitCode: { doc: 'Exit code of `coordinator start` when SIGINT/SIGTERM stopped the run before its last step (after the checkpoint); 0 by default. A Kubernetes Job sets non-zero (e.g. 143) so that it counts as failed and is rerun, continuing with --resume=auto.', format: 'exit-code', default: 0, env: 'DSI_INTERRUPTED_EXIT_CODE', arg: 'interrupted-exit-code' },
    overrides: { doc: 'Written by coordinator start, not set by hand: the settings resumes changed against the checkpoint with --override KEY, each {key, from, to, step} (docs/cluster.md, Resume).', format: Array, default: [] },
  },
  cluster: {
    workers: { doc: 'Worker processes.', format: 'positive-int', default: 1, env: 'DSI_WORKERS', arg: 'workers' },
    minWorkers: { doc: 'Fewest workers a run goes on with. A worker lost mid-run (process or Control stream gone, heartbeats stopped, or named silent by a ring neighbour) is dropped and the survivors redo the interrupted step in a new ring: the global batch does not depend on the worker count, so the trajectory stays the same (each survivor takes a larger slice of it). Below this many the run checkpoints the last consistent step and stops naming the lost workers. 1: every replica holds the whole model and optimizer state, so any survivor can finish, and stopping would throw away the steps since the last checkpoint; --min-workers equal to --workers stops at the first loss.', format: 'positive-int', default: 1, env: 'DSI_MIN_WORKERS', arg: 'min-workers' },
    maxRestarts: { doc: 'coordinator start: a local worker process that the run lost (killed, crashed, dropped as silent) is started again under its worker id, up to this many times in the run (all workers together, like torchrun\'s --max-restarts); it re-joins at the next step boundary with the current state (docs/cluster.md, Re-join). 0: lost workers stay lost. A worker started by hand (`worker`) that the run drops joins it again by itself, up to its own --max-restarts times (torchrun\'s per-agent count); once used up, or refused because the ring is whole again, it exits 0.', format: 'nonneg-int', default: 0, env: 'DSI_MAX_RESTARTS', arg: 'max-restarts' },
    restartWaitMs: { doc: 'coordinator start: when the run loses a local worker that --max-restarts brings back (a hung one dropped as silent is killed first, so it can be), the survivors wait up to this long at the step boundary for it to re-join before training on: every step then runs on the full ring, and the run stays bit-equal to an uninterrupted one (a smaller ring sums the gradients in another order, equal only within fp32 rounding). 0: train on with the survivors at once; the worker re-joins at a later boundary.', format: 'nonneg-int', default: 60000, arg: 'restart-wait-ms' },
    host: { doc: 'Address the coordinator binds.', format: String, default: '127.0.0.1', env: 'DSI_HOST', arg: 'host' },
    port: { doc: 'Coordinator gRPC port; 0: any free port.', format: 'nonneg-int', default: 0, env: 'DSI_PORT', arg: 'port' },
    spawn: { doc: 'Start the workers as local processes; false: wait for `worker --coordinator HOST:PORT` to join from elsewhere.', format: Boolean, default: true, env: 'DSI_SPAWN_WORKERS', arg: 'spawn-workers' },
    coordinator: { doc: 'Worker: host:port of the coordinator to join (a Kubernetes Service name works).', format: String, default: '', env: 'DSI_COORDINATOR', arg: 'coordinator' },
    workerHost: { doc: 'Worker: interface its collective server binds.', format: String, default: '127.0.0.1', env: 'DSI_WORKER_HOST', arg: 'worker-host' },
    advertiseHost: { doc: 'Worker: host the other workers dial to reach it; empty: worker-host.', format: String, default: '', env: 'DSI_ADVERTISE_HOST', arg: 'advertise-host' },
    wire: { doc: 'All-reduce wire format: fp32, or fp16/bf16 (mixed precision on the wire, with dynamic loss scaling).', format: ['fp32', 'fp16', 'bf16'], default: 'fp32', env: 'DSI_WIRE', arg: 'wire' },
    transport: { doc: "All-reduce data plane: tcp (collective.proto's Relay messages, length-framed on a raw socket) or grpc (the same messages on HTTP/2 streams). tcp by default: grpc-js spends 3-4x a raw socket's CPU per byte, and where ranks share cores that CPU is the all-reduce's limit (README, Cluster). gRPC stays the control plane either way.", format: ['tcp', 'grpc'], default: 'tcp', env: 'DSI_TRANSPORT', arg: 'transport' },
    chunkBytes: { doc: 'All-reduce chunk size on the wire (< 4 MiB).', format: 'positive-int', default: 1048576, arg: 'chunk-bytes' },
    bucketBytes: { doc: 'Gradient bucket size (float32 bytes): a bucket is all-reduced as soon as the backward pass has finished its gradients, while the rest is computed (as PyTorch DDP\'s buckets); 0: one all-reduce of the whole gradient after the backward pass.', format: 'nonneg-int', default: 1048576, arg: 'bucket-bytes' },
    ringTimeoutMs: { doc: 'A ring neighbour silent for this long is dead.', format: 'positive-int', default: 60000, arg: 'ring-timeout-ms' },
    maxStepMs: { doc: 'A worker whose heartbeats say it has been inside one step longer than this is dropped: its process answers but its compute does not end (a hung compute thread). 0: no limit; a slow step is never taken for a dead worker, heartbeats decide that.', format: 'nonneg-int', default: 0, arg: 'max-step-ms' },
    heartbeatMs: { doc: 'Worker heartbeat interval.', format: 'positive-int', default: 1000, arg: 'heartbeat-ms' },
    joinTimeoutMs: { doc: 'How long the coordinator waits for all workers to join.', format: 'positive-int', default: 120000, arg: 'join-timeout-ms' },
    coordinatorTimeoutMs: { doc: 'Worker: a coordinator that answers no heartbeat for this long, or whose control stream breaks, is lost. A worker started by hand then tries for as long again to join a coordinator at the same address (one restarted with --resume=auto continues the run from its newest checkpoint); failing that, and at once when started by coordinator start, it exits with code 75 naming the coordinator.', format: 'positive-int', default: 60000, env: 'DSI_COORDINATOR_TIMEOUT_MS', arg: 'coordinator-timeout-ms' },
    checksumEvery: { doc: 'Workers compare a checksum of their parameters every N steps; 0: off.', format: 'nonneg-int', default: 10, arg: 'checksum-every' },
    testHookStepSleepMs: { doc: 'TEST HOOK, not for runs: each worker\'s compute thread sleeps this long (blocking, like a long wasm step) inside every step before its forward pass; 0: off.', format: 'nonneg-int', default: 0, env: 'DSI_TEST_HOOK_STEP_SLEEP_MS', arg: 'test-hook-step-sleep-ms' },
    checkpointEvery: { doc: 'Write a checkpoint every N steps (and always at the end); 0: only at the end.', format: 'nonneg-int', default: 100, arg: 'checkpoint-every' },
    keepCheckpoints: { doc: 'Checkpoints kept in the run folder (oldest removed first).', format: 'positive-int', default: 3, arg: 'keep-checkpoints' },
    lossScale: { doc: 'Initial dynamic loss scale for fp16 wire (halved on overflow, doubled after lossScaleWindow good steps).', format: 'positive-int', default: 32768, arg: 'loss-scale' },
    lossScaleWindow: { doc: 'Good steps before the loss scale doubles.', format: 'positive-int', default: 200, arg: 'loss-scale-window' },
    workerPort: { doc: "Worker: port of its Collective gRPC server (ring set-up; the gRPC transport's data); 0: any free port. Fixed ports let a NetworkPolicy name them.", format: 'port', default: 0, env: 'DSI_WORKER_PORT', arg: 'worker-port' },
    ringPort: { doc: 'Worker: port of its raw-TCP ring listener (the tcp transport\'s data plane); 0: any free port.', format: 'port', default: 0, env: 'DSI_RING_PORT', arg: 'ring-port' },
    healthPort: { doc: 'Plaintext gRPC health port (grpc.health.v1 only, no TLS or token: it tells only whether the process is ready) for probes that cannot present a client certificate, such as the kubelet\'s gRPC probe; on the interface of --host (coordinator) or --worker-host (worker). The health service also answers on the process\'s own gRPC server, with TLS when that has it. -1: no health port; 0: any free port (logged).', format: 'port-or-off', default: -1, env: 'DSI_HEALTH_PORT', arg: 'health-port' },
  },
  security: {
    joinTokenFile: { doc: 'File holding the run\'s join token (a Kubernetes Secret mounted as a file): the coordinator admits only Joins that carry it, a worker sends it. Empty: no token (only on loopback, or with --insecure). Workers started by `coordinator start` get it from the run\'s config.', format: String, default: '', env: 'DSI_JOIN_TOKEN_FILE', arg: 'join-token-file' },
    insecure: { doc: 'Let the coordinator bind a non-loopback --host without a join token (anyone who reaches the port can join; a warning says so at start).', format: Boolean, default: false, env: 'DSI_INSECURE', arg: 'insecure' },
    metricsTokenFile: { doc: 'File holding a bearer token that /metrics, /api/workers and the dashboard require (Authorization: Bearer TOKEN, or open /?token=TOKEN once in a browser); empty: open.', format: String, default: '', env: 'DSI_METRICS_TOKEN_FILE', arg: 'metrics-token-file' },
    tlsCert: { doc: 'PEM certificate of this process (coordinator or worker) for mutual TLS on the coordinator\'s gRPC, the workers\' gRPC and the raw-TCP data plane; give --tls-key and --tls-ca with it. Empty: plaintext.', format: String, default: '', env: 'DSI_TLS_CERT', arg: 'tls-cert' },
    tlsKey: { doc: 'PEM private key of --tls-cert.', format: String, default: '', env: 'DSI_TLS_KEY', arg: 'tls-key' },
    tlsCa: { doc: 'PEM CA certificate(s) every peer\'s certificate must chain to (servers require client certificates from it).', format: String, default: '', env: 'DSI_TLS_CA', arg: 'tls-ca' },
    tlsServerName: { doc: 'Name to check in the servers\' certificates instead of the host dialled (e.g. one name shared by every pod\'s certificate); empty: the host.', format: String, default: '', env: 'DSI_TLS_SERVER_NAME', arg: 'tls-server-name' },
  },
  telemetry: {
    nats: { doc: 'Per-step metrics and run events over NATS; --no-nats: over the gRPC heartbeats only.', format: Boolean, default: true, env: 'DSI_NATS', arg: 'nats' },
    natsUrl: { doc: 'NATS server(s), nats://host:port[,...]; empty: coordinator start runs a local nats-server (with JetStream) if one is on PATH, else telemetry goes over the gRPC heartbeats. Workers get the URL from the coordinator.', format: String, default: '', env: 'DSI_NATS_URL', arg: 'nats-url' },
    natsCredsFile: { doc: 'NATS credentials file (NKey + JWT, `nsc generate creds`) this process authenticates with; every process is given its own (the run plan carries none).', format: String, default: '', env: 'DSI_NATS_CREDS', arg: 'nats-creds-file' },
    natsUser: { doc: 'NATS user name (with --nats-password-file) instead of a credentials file.', format: String, default: '', env: 'DSI_NATS_USER', arg: 'nats-user' },
    natsPasswordFile: { doc: 'File holding the NATS password of --nats-user.', format: String, default: '', env: 'DSI_NATS_PASSWORD_FILE', arg: 'nats-password-file' },
    natsTls: { doc: 'Connect to NATS over TLS, verifying the server with --tls-ca and presenting --tls-cert/--tls-key.', format: Boolean, default: false, env: 'DSI_NATS_TLS', arg: 'nats-tls' },
    metricsPort: { doc: 'Port of the coordinator\'s Prometheus /metrics (and dashboard); 0: any free port (logged); -1: off.', format: 'int', default: 0, env: 'DSI_METRICS_PORT', arg: 'metrics-port' },
    metricsHost: { doc: 'Interface /metrics binds.', format: String, default: '127.0.0.1', env: 'DSI_METRICS_HOST', arg: 'metrics-host' },
    timeline: { doc: 'Write timeline.json (Chrome trace format: every step\'s phases per worker) into the run folder.', format: Boolean, default: true, env: 'DSI_TIMELINE', arg: 'timeline' },
  },
};

export interface LoadConfigOptions {
  /** Config file (JSON); also taken from `--config` or DSI_CONFIG. */
  file?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Values that replace the defaults (before file/env/flags), e.g. from a checkpoint. */
  defaults?: Record<string, unknown>;
}

/** Flags that are not config keys but commands' own (positional words, --config, --resume...). */
const COMMAND_FLAGS = new Set(['config', 'resume', 'override', 'bm25', 'help', 'worker-id', 'managed']);

/** Defaults, then `defaults`, the config file, env and flags, not validated yet. */
function layered(options: LoadConfigOptions): convict.Config<Config> {
  const args = options.args ?? process.argv.slice(2);
  const env = options.env ?? process.env;
  rejectUnknownFlags(args);
  const conf = convict(schema, { args, env });
  if (options.defaults) conf.load(options.defaults);
  const file = options.file ?? flagValue(args, 'config') ?? env['DSI_CONFIG'];
  if (file) {
    if (!existsSync(file)) throw new ConfigError('config', `file ${file} does not exist`);
    // convict re-applies env and flags after a file, so they win over it
    try { conf.loadFile(file); } catch (e) { throw new ConfigError('config', `cannot read ${file}: ${(e as Error).message}`, { cause: e }); }
  }
  return conf;
}

/**
 * One setting as defaults, file, env and flags give it, before validation: e.g. run.dir, to find
 * the checkpoint whose settings then become the defaults (shared/training/resume_config.ts).
 */
export function peekConfig(key: string, options: LoadConfigOptions = {}): unknown {
  return layered(options).get(key as never);
}

export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const conf = layered(options);
  try {
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    throw new ConfigError('validation', (e as Error).message.replace(/\n/g, '; '), { cause: e });
  }
  const c = conf.getProperties();
  if (c.prune.final > 0 && c.prune.initial > c.prune.final)
    throw new ConfigError('prune.initial', `${c.prune.initial} is above prune.final ${c.prune.final}: sparsity only ramps up`);
  if (c.cluster.minWorkers > c.cluster.workers)
    throw new ConfigError('cluster.minWorkers', `${c.cluster.minWorkers} is above cluster.workers ${c.cluster.workers}: the run could never start`);
  const perStep = c.cluster.workers * c.train.accumulate;
  if (c.train.batchSize % perStep !== 0)
    throw new ConfigError('train.batchSize', `${c.train.batchSize} is not divisible by workers x accumulate = ${perStep}; choose --batch-size as a multiple of ${perStep}`);
  return deepFreeze(c);
}

/** Every `--flag` must be a schema arg or a command flag: a typo is an error, not silently ignored. */
function rejectUnknownFlags(args: string[]): void {
  const known = new Set<string>(COMMAND_FLAGS);
  collectArgs(schema as unknown as Record<string, unknown>, known);
  for (const a of args) {
    if (!a.startsWith('--')) continue;
    const name = a.slice(2).split('=')[0] ?? '';
    const bare = name.startsWith('no-') ? name.slice(3) : name;
    if (!known.has(name) && !known.has(bare))
      throw new ConfigError(name, `unknown flag --${name}; known flags: ${[...known].sort().map((k) => `--${k}`).join(' ')}`);
  }
}

function collectArgs(node: Record<string, unknown>, out: Set<string>): void {
  for (const v of Object.values(node)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const rec = v as Record<string, unknown>;
      if (typeof rec['arg'] === 'string') out.add(rec['arg']);
      else if (!('default' in rec)) collectArgs(rec, out);
    }
  }
}

/** Every value of a repeatable flag (`--override a --override b`, or `--override=a`), in order. */
export function flagValues(args: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === `--${name}`) { const next = args[i + 1]; if (next !== undefined && !next.startsWith('--')) { out.push(next); i++; } else out.push(''); }
    else if (a.startsWith(`--${name}=`)) out.push(a.slice(name.length + 3));
  }
  return out;
}

export function flagValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === `--${name}`) { const next = args[i + 1]; return next && !next.startsWith('--') ? next : 'true'; }
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/** `args` without the flags `names` and their values (`--name value` or `--name=value`): a command's own flags, not run settings. */
export function withoutFlags(args: string[], names: readonly string[]): string[] {
  return args.filter((a, i) => !names.some((n) => a === `--${n}` || a.startsWith(`--${n}=`) || args[i - 1] === `--${n}`));
}

/** Words that are neither flags nor flag values (e.g. the query of `search`). */
export function positionals(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a.startsWith('--')) {
      const name = a.slice(2);
      // a value follows unless the flag is boolean or written --flag=value
      if (!a.includes('=') && !BOOLEAN_FLAGS.has(name) && !name.startsWith('no-')) i++;
    } else out.push(a);
  }
  return out;
}

/** Flags that take no value. */
const BOOLEAN_FLAGS = new Set(['json', 'resume', 'bm25', 'help', 'skip-bad', 'overwrite', 'spawn-workers', 'managed', 'nats', 'timeline', 'insecure', 'nats-tls']);

export function hasFlag(args: string[], name: string): boolean {
  return args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
}

/** Every setting's dotted key and its flag ('' when it has none), in schema order. */
export function settingFlags(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(node)) {
      const rec = v as Record<string, unknown>;
      if ('default' in rec) out.set(`${prefix}${k}`, typeof rec['arg'] === 'string' ? rec['arg'] : '');
      else walk(rec, `${prefix}${k}.`);
    }
  };
  walk(schema as unknown as Record<string, unknown>, '');
  return out;
}

/** Documentation of every key, for `--help`. */
export function describeConfig(): string {
  const lines: string[] = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(node)) {
      const rec = v as Record<string, unknown>;
      if ('default' in rec) {
        const flag = typeof rec['arg'] === 'string' ? `--${rec['arg']}` : '';
        const env = typeof rec['env'] === 'string' ? ` (env ${rec['env']})` : '';
        lines.push(`  ${flag.padEnd(20)} ${prefix}${k} = ${JSON.stringify(rec['default'])}${env}\n      ${String(rec['doc'])}`);
      } else walk(rec, `${prefix}${k}.`);
    }
  };
  walk(schema as unknown as Record<string, unknown>, '');
  return lines.join('\n');
}

function deepFreeze<T>(o: T): Readonly<T> {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
