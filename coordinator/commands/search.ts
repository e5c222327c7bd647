/** `coordinator search --run-dir DIR "query" [--json]`: ranked docids, scores and passages from a trained run. */
import { describeConfig, hasFlag, loadConfig, positionals } from '../../shared/runtime/config.js';
import { createLogger } from '../../shared/runtime/log.js';
import { initBackend } from '../../shared/runtime/backend.js';
import { loadT5Tokenizer } from '../../shared/dataset/tokenizer.js';
import { openPreparedDataset } from '../../shared/dataset/reader.js';
import { loadTrainedModel } from '../../shared/training/trained_model.js';
import { retrievalModelOf, retrieve } from '../../shared/training/dsi_retrieval.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { latestRunDir } from '../run_dirs.js';
import { runCheckpoint } from '../cluster/checkpoints.js';
import path from 'node:path';

export async function run(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write(`usage: coordinator search [--run-dir DIR] "query" ["query" ...] [--beam-size K] [--json]\n\n${describeConfig()}\n`);
    return 0;
  }
  const cfg = loadConfig({ args });
  const queries = positionals(args);
  if (queries.length === 0) throw new ConfigError('query', 'give the query as an argument: coordinator search --run-dir DIR "some query"');
  const log = createLogger({ level: cfg.runtime.logLevel });
  const runDir = cfg.run.dir ? path.resolve(cfg.run.dir) : latestRunDir();
  const backend = await initBackend(cfg.runtime.backend, { webgpuApi: cfg.runtime.webgpuApi });
  log.info({ backend: backend.name, device: backend.device, runDir }, 'search');
  const ckpt = await loadTrainedModel(runCheckpoint(runDir));   // lora/qlora: base + adapters
  const data = await openPreparedDataset(ckpt.dataDir);
  const docs = data.documents();
  const tok = await loadT5Tokenizer();
  const model = retrievalModelOf(cfg, data, ckpt.config, ckpt.weights);
  const maxInputTokens = data.manifest.max_input_tokens;
  const ranked = await retrieve(model, tok, queries, { beamSize: cfg.eval.beamSize, maxInputTokens, lowercase: data.manifest.lowercase === true });
  const byDocid = new Map(docs.map((d) => [d.docid, d]));
  const results = queries.map((query, i) => ({
    query,
    results: (ranked[i] ?? []).map((r, rank) => {
      const doc = byDocid.get(r.docid);
      return { rank: rank + 1, docid: r.docid, score: r.score, source_ids: doc?.sourceIds ?? [], text: doc?.text ?? '' };
    }),
  }));
  data.close();
  if (cfg.runtime.json) process.stdout.write(JSON.stringify(results.length === 1 ? results[0] : results) + '\n');
  else {
    for (const r of results) {
      process.stdout.write(`query: ${r.query}\n`);
      for (const x of r.results) process.stdout.write(`${String(x.rank).padStart(3)}. ${x.docid}  ${x.score.toFixed(3)}  ${x.text.slice(0, 100)}\n`);
    }
  }
  return 0;
}
