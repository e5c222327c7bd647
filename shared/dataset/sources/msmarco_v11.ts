/**
 * MS MARCO v1.1 QA records (Hugging Face `ms_marco`, config v1.1): query, query_id, query_type,
 * passages {is_selected, passage_text, url}, answers. Read from JSON lines (one record per line) or
 * from parquet, one row group at a time (hyparquet), never the whole file.
 *
 * `passages` is accepted in both published shapes: Hugging Face's struct of lists
 * {"is_selected": [0, 1], "passage_text": [...], "url": [...]} and the original list of objects
 * [{"is_selected": 0, "passage_text": ..., "url": ...}]. Passage j of query Q has the source id "Q:j";
 * its selected passages (is_selected = 1) are the query's relevant ones.
 * Errors name "file:line" (JSONL) or "file:row" (parquet, rows counted from 1).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { InputError } from '../../runtime/errors.js';
import { BadInputPolicy, openSourceFile, parseJsonObject, readLines, textField, type SourceFile } from './lines.js';
import type { Source, SourceRecord } from './source.js';

/** The columns a record needs (others, e.g. answers and wellFormedAnswers, are not read). */
const COLUMNS = ['query', 'query_id', 'passages'];

/** Opens a v1.1 file; `.parquet` files are read as parquet, anything else as JSON lines. */
export async function openMsmarcoV11Source(path: string): Promise<Source> {
  const file = await openSourceFile('records', path);
  const parquet = path.toLowerCase().endsWith('.parquet');
  const state = { read: 0 };
  async function* records(bad: BadInputPolicy): AsyncGenerator<SourceRecord> {
    const rows = parquet ? parquetRows(file) : jsonRows(file);
    for await (const { at, obj } of rows) {
      state.read++;
      let parsed: SourceRecord[];
      try {
        parsed = recordOf(file.path, at, obj);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        bad.reject(err);
        continue;
      }
      yield* parsed;
    }
  }
  return { format: 'msmarco-v1.1', files: [file], records, get recordsRead() { return state.read; }, unused: {} };
}

/** A raw record and its line (or row) number; an unparsable line arrives as an InputError to report. */
type RawRow = { at: number; obj: Record<string, unknown> | InputError };

async function* jsonRows(file: SourceFile): AsyncGenerator<RawRow> {
  for await (const { line, text } of readLines(file)) {
    try {
      yield { at: line, obj: parseJsonObject(file.path, line, text) };
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      yield { at: line, obj: err };
    }
  }
}

async function* parquetRows(file: SourceFile): AsyncGenerator<RawRow> {
  const buffer = await asyncBufferFromFile(file.path);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new InputError(file.path, undefined, undefined, `not a readable parquet file (${(err as Error).message})`, { cause: err });
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = await parquetReadObjects({ file: buffer, metadata, columns: COLUMNS, rowStart, rowEnd });
    for (let i = 0; i < rows.length; i++) yield { at: rowStart + i + 1, obj: rows[i] as Record<string, unknown> };
    rowStart = rowEnd;
  }
  // parquet is read by ranges, not front to back: the file's hash is taken in one streamed pass after it
  file.sha256 = await sha256Of(file);
}

async function sha256Of(file: SourceFile): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file.path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function recordOf(file: string, at: number, obj: Record<string, unknown> | InputError): SourceRecord[] {
  if (obj instanceof InputError) throw obj;
  const query = textField(file, at, obj, 'query');
  const id = obj['query_id'];
  if (!(typeof id === 'string' && id.trim() !== '') && !(typeof id === 'number' && Number.isSafeInteger(id)) && typeof id !== 'bigint') {
    throw new InputError(file, at, 'query_id', `expected an integer or a string, got ${JSON.stringify(id) ?? 'nothing'}`);
  }
  const qid = String(id).trim();
  const passages = passagesOf(file, at, obj['passages']);
  const records: SourceRecord[] = passages.map((p, j) => ({ type: 'passage', sourceId: `${qid}:${j}`, text: p.text }));
  const relevant = passages.flatMap((p, j) => (p.selected ? [`${qid}:${j}`] : []));
  records.push({ type: 'query', qid, query, relevant, file, line: at });
  return records;
}

/** Both shapes of `passages`, checked: every passage has a non-empty text and is_selected 0 or 1. */
function passagesOf(file: string, at: number, v: unknown): Array<{ text: string; selected: boolean }> {
  const fail = (field: string, problem: string): never => { throw new InputError(file, at, field, problem); };
  const selected = (x: unknown, field: string): boolean => {
    const n = typeof x === 'bigint' ? Number(x) : typeof x === 'boolean' ? Number(x) : x;
    if (n !== 0 && n !== 1) fail(field, `expected 0 or 1, got ${JSON.stringify(String(x))}`);
    return n === 1;
  };
  const text = (x: unknown, field: string): string => {
    if (typeof x !== 'string' || x.trim() === '') fail(field, `expected a non-empty string, got ${JSON.stringify(x) ?? 'nothing'}`);
    return (x as string).trim();
  };
  if (Array.isArray(v)) {
    return v.map((p: unknown, j) => {
      if (typeof p !== 'object' || p === null) fail(`passages[${j}]`, 'expected an object');
      const o = p as Record<string, unknown>;
      return { text: text(o['passage_text'], `passages[${j}].passage_text`), selected: selected(o['is_selected'], `passages[${j}].is_selected`) };
    });
  }
  if (typeof v !== 'object' || v === null) return fail('passages', `expected an object of lists or a list of objects, got ${JSON.stringify(v) ?? 'nothing'}`);
  const o = v as Record<string, unknown>;
  const texts = o['passage_text'];
  const flags = o['is_selected'];
  if (!Array.isArray(texts)) fail('passages.passage_text', `expected a list, got ${JSON.stringify(texts) ?? 'nothing'}`);
  if (!Array.isArray(flags)) fail('passages.is_selected', `expected a list, got ${JSON.stringify(flags) ?? 'nothing'}`);
  const t = texts as unknown[], f = flags as unknown[];
  if (t.length !== f.length) fail('passages', `passage_text has ${t.length} entries, is_selected ${f.length}`);
  return t.map((x, j) => ({ text: text(x, `passages.passage_text[${j}]`), selected: selected(f[j], `passages.is_selected[${j}]`) }));
}
