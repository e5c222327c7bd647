/**
 * The joined MS MARCO JSON-lines format of the bundled sample (data/msmarco-sample): one line per query,
 * {"qid", "query", "passage", "qrel_pids": [...], "pid": string | null}. The line's passage is relevant to
 * its query, as is every passage whose pid is among its qrel_pids. A passage without a pid gets the
 * source id "q<qid>" (its query's).
 */
import { InputError } from '../../runtime/errors.js';
import { BadInputPolicy, openSourceFile, parseJsonObject, readLines, textField } from './lines.js';
import type { Source, SourceRecord } from './source.js';

export async function openSampleSource(path: string): Promise<Source> {
  const file = await openSourceFile('records', path);
  let read = 0;
  async function* records(bad: BadInputPolicy): AsyncGenerator<SourceRecord> {
    for await (const { line, text } of readLines(file)) {
      read++;
      let parsed: SourceRecord[];
      try {
        parsed = parseLine(path, line, text);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        bad.reject(err);
        continue;
      }
      yield* parsed;
    }
  }
  return { format: 'sample', files: [file], records, get recordsRead() { return read; }, unused: {} };
}

function parseLine(file: string, line: number, text: string): SourceRecord[] {
  const o = parseJsonObject(file, line, text);
  const qid = textField(file, line, o, 'qid');
  const query = textField(file, line, o, 'query');
  const passage = textField(file, line, o, 'passage');
  const qrels = o['qrel_pids'];
  if (!Array.isArray(qrels) || !qrels.every((p) => typeof p === 'string')) {
    throw new InputError(file, line, 'qrel_pids', `expected an array of strings, got ${JSON.stringify(qrels) ?? 'nothing'}`);
  }
  const pid = o['pid'];
  if (pid !== null && typeof pid !== 'string') throw new InputError(file, line, 'pid', `expected a string or null, got ${JSON.stringify(pid) ?? 'nothing'}`);
  const sourceId = pid ?? `q${qid}`;
  const relevant = [sourceId, ...(qrels as string[]).filter((p) => p !== sourceId)];
  return [
    { type: 'passage', sourceId, text: passage },
    { type: 'query', qid, query, relevant, file, line },
  ];
}
