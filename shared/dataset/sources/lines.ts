/**
 * What every source reader shares: a streaming line reader that hashes the bytes it reads, and the
 * bad-input policy (stop at the first malformed record, or skip and count it).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { InputError } from '../../runtime/errors.js';

/** One input file as the manifest records it, filled in while it is read. */
export interface SourceFile {
  /** What the file is to the format: "records", "collection", "queries", "qrels". */
  role: string;
  path: string;
  bytes: number;
  /** sha256 of the bytes read; complete once the reader reached the end. */
  sha256: string;
}

/** Error messages kept in the manifest when records are skipped: enough to find the pattern. */
const MAX_REPORTED_BAD = 20;

/**
 * `--skip-bad` off: the first bad record stops the run with its file:line. On: it is skipped, counted
 * per file and its message kept (the first MAX_REPORTED_BAD), so nothing is dropped silently.
 */
export class BadInputPolicy {
  private readonly perFile = new Map<string, number>();
  private readonly messages: string[] = [];
  private total = 0;

  constructor(readonly skip: boolean) {}

  /** Throws `err` unless skipping; then counts it. */
  reject(err: InputError): void {
    if (!this.skip) throw err;
    this.total++;
    this.perFile.set(err.file, (this.perFile.get(err.file) ?? 0) + 1);
    if (this.messages.length < MAX_REPORTED_BAD) this.messages.push(err.message);
  }

  get skipped(): number {
    return this.total;
  }

  /** Takes over the counts of a report() (saved by a run that is being resumed). */
  restore(r: ReturnType<BadInputPolicy['report']>): void {
    this.total = r.skipped;
    this.perFile.clear();
    for (const [file, n] of Object.entries(r.per_file)) this.perFile.set(file, n);
    this.messages.splice(0, this.messages.length, ...r.first_errors);
  }

  /** The manifest's record of what was skipped. */
  report(): { skip_bad: boolean; skipped: number; per_file: Record<string, number>; first_errors: string[] } {
    return { skip_bad: this.skip, skipped: this.total, per_file: Object.fromEntries(this.perFile), first_errors: [...this.messages] };
  }
}

/** A file's size, or an InputError naming it when it cannot be read. */
export async function openSourceFile(role: string, path: string): Promise<SourceFile> {
  const info = await stat(path).catch((err: unknown) => {
    throw new InputError(path, undefined, undefined, `cannot read the ${role} file`, { cause: err });
  });
  if (!info.isFile()) throw new InputError(path, undefined, undefined, `the ${role} input must be a file`);
  return { role, path, bytes: info.size, sha256: '' };
}

/**
 * The lines of `file.path` with 1-based numbers, LF or CRLF, read in chunks (never the whole file);
 * blank lines are skipped. `file.sha256` is set when the end is reached.
 */
export async function* readLines(file: SourceFile): AsyncGenerator<{ line: number; text: string }> {
  const hash = createHash('sha256');
  let rest: Buffer = Buffer.alloc(0);
  let line = 0;
  for await (const chunk of createReadStream(file.path)) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    const data = rest.length > 0 ? Buffer.concat([rest, bytes]) : bytes;
    let start = 0;
    for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
      line++;
      const text = data.toString('utf8', start, nl > start && data[nl - 1] === 13 ? nl - 1 : nl);
      start = nl + 1;
      if (text.trim() !== '') yield { line, text };
    }
    rest = data.subarray(start);
  }
  if (rest.length > 0) {
    line++;
    const text = rest.toString('utf8').replace(/\r$/, '');
    if (text.trim() !== '') yield { line, text };
  }
  file.sha256 = hash.digest('hex');
}

/** Parses one JSON-lines line as an object; errors name file:line. */
export function parseJsonObject(file: string, line: number, text: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new InputError(file, line, undefined, `not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InputError(file, line, undefined, 'expected a JSON object');
  return obj as Record<string, unknown>;
}

/** A non-empty string field (surrounding whitespace trimmed); errors name file:line and the field. */
export function textField(file: string, line: number, obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.trim() === '') throw new InputError(file, line, key, `expected a non-empty string, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v.trim();
}
