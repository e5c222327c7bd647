/**
 * The common shape every input format is read into: a stream of passages and queries. Queries name
 * their relevant passages by source id; the corpus stage turns passages into documents (one per
 * distinct text) and source ids into docids.
 */
import type { BadInputPolicy, SourceFile } from './lines.js';

export const SOURCE_FORMATS = ['sample', 'msmarco-v1.1', 'msmarco-passage'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

export function isSourceFormat(v: unknown): v is SourceFormat {
  return typeof v === 'string' && (SOURCE_FORMATS as readonly string[]).includes(v);
}

/** A passage of the source: its id there (e.g. an MS MARCO pid) and its text. */
export interface SourcePassage {
  type: 'passage';
  sourceId: string;
  text: string;
}

/** A query and the source ids of its relevant passages (possibly none: the corpus stage counts those). */
export interface SourceQuery {
  type: 'query';
  qid: string;
  query: string;
  relevant: string[];
  /** Where it was read (line, or row for parquet), for error messages. */
  file: string;
  line: number;
}

export type SourceRecord = SourcePassage | SourceQuery;

/** An opened input: its records (read once, streamed) and the files behind them. */
export interface Source {
  format: SourceFormat;
  /** Records in input order; every malformed one goes through `bad`. */
  records(bad: BadInputPolicy): AsyncIterable<SourceRecord>;
  /** The input files; sizes known at open, sha256 once records() has been read to the end. */
  files: SourceFile[];
  /** Records (lines or rows) read so far, good and bad, for progress. */
  readonly recordsRead: number;
  /** Format-specific things read but not used, counted for the manifest (e.g. qrels of unknown queries). */
  readonly unused: Readonly<Record<string, number>>;
}
