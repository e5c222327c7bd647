/**
 * Where an atomic docid's output row starts. By default (`--docid-init terms`) each document's row is
 * the mean of the input embeddings of its top tf-idf terms (prepare keeps 8 per document in
 * sampling.bin), scaled to the random rows' RMS of 1: the row a query must reach then already points
 * where the query's own words point, instead of at a random vector the network has to learn to map
 * every document's text onto. On MS MARCO dev-small (6,588 passages) random rows left the loss on the
 * uniform plateau for 2,300 steps; rows from terms left it within 100 (docs/retrieval.md).
 */
import type { Config } from '../runtime/config.js';
import type { ParamLayout } from '../model/params.js';
import type { PreparedDataset } from '../dataset/reader.js';
import type { SamplingData } from '../dataset/sampling_file.js';
import { ATOMIC_TOKEN_BASE } from '../dataset/docids/docids.js';

/** The documents whose terms start the docid rows, or undefined where rows start random. */
export function docidInitTerms(cfg: Config, data: PreparedDataset): SamplingData | undefined {
  // a Hugging Face model brings its own rows; naive and semantic docids have no row per document
  if (cfg.train.docidInit !== 'terms' || cfg.model.from || data.manifest.docid_scheme !== 'atomic') return undefined;
  return data.sampling();
}

/** Sets row ATOMIC_TOKEN_BASE + d of the shared embedding to document d's term embedding (in place). */
export function initDocidRowsFromTerms(params: Float32Array, layout: ParamLayout, docs: SamplingData): void {
  const table = layout.byName.get('shared.weight');
  if (!table) throw new Error("docid init: the model has no 'shared.weight' table");
  const [rows, width] = table.shape as [number, number];
  if (ATOMIC_TOKEN_BASE + docs.documents > rows) throw new Error(`docid init: ${docs.documents} documents need ${ATOMIC_TOKEN_BASE + docs.documents} rows, the table has ${rows}`);
  const row = new Float64Array(width);
  for (let d = 0; d < docs.documents; d++) {
    row.fill(0);
    let tokens = 0;
    for (const term of docs.terms(d)) {
      for (const t of term) {
        if (t >= ATOMIC_TOKEN_BASE) continue;   // a term's tokens are T5's own; never another docid row
        const from = table.offset + t * width;
        for (let j = 0; j < width; j++) row[j] = (row[j] as number) + (params[from + j] as number);
        tokens++;
      }
    }
    if (tokens === 0) continue;   // no terms (an empty document): the random row stays
    let squares = 0;
    for (let j = 0; j < width; j++) squares += (row[j] as number) ** 2;
    if (squares === 0) continue;
    const scale = Math.sqrt(width / squares);   // RMS 1, like the random rows (std 1)
    const to = table.offset + (ATOMIC_TOKEN_BASE + d) * width;
    for (let j = 0; j < width; j++) params[to + j] = (row[j] as number) * scale;
  }
}
