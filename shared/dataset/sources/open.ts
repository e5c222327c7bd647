/** Opens the input of `coordinator prepare` by format name. */
import { ConfigError } from '../../runtime/errors.js';
import { openMsmarcoPassageSource } from './msmarco_passage.js';
import { openMsmarcoV11Source } from './msmarco_v11.js';
import { openSampleSource } from './sample.js';
import type { Source, SourceFormat } from './source.js';

export interface SourcePaths {
  /** The records file (sample, msmarco-v1.1: .jsonl or .parquet) or collection.tsv (msmarco-passage). */
  input: string;
  /** msmarco-passage only: the queries TSV and the TREC qrels. */
  queries?: string;
  qrels?: string;
}

export async function openSource(format: SourceFormat, paths: SourcePaths): Promise<Source> {
  if (format === 'sample') return openSampleSource(paths.input);
  if (format === 'msmarco-v1.1') return openMsmarcoV11Source(paths.input);
  if (!paths.queries) throw new ConfigError('prepare.queries', 'msmarco-passage needs --queries FILE (qid<TAB>query)');
  if (!paths.qrels) throw new ConfigError('prepare.qrels', 'msmarco-passage needs --qrels FILE (TREC qrels: qid 0 pid relevance)');
  return openMsmarcoPassageSource({ collection: paths.input, queries: paths.queries, qrels: paths.qrels });
}
