/**
 * What a person reads on a terminal instead of pino's JSON: one line per log record (time, level,
 * component, message, the record's own fields), and the records that carry progress (a training
 * step, queries evaluated, a prepare stage) turned into updates of the progress bar. Pure functions
 * of the JSON record, so the JSON stays the one source: what a pipe gets is what is drawn here.
 */

/** A pino record as parsed from its JSON line. */
export type LogRecord = Record<string, unknown> & { level?: number; time?: number; msg?: string };

/** One rank's figures under the training bar. */
export interface RankFigures {
  rank: number;
  samplesPerSec: number;
  /** Share of the step spent waiting for the ring (0-1). */
  waiting: number;
}

/** An update of a progress bar: `done` of `total` items of one task. */
export interface ProgressUpdate {
  /** The bar's name: train, eval, or a prepare stage. */
  task: string;
  done: number;
  total: number;
  unit: string;
  /** Items per second as the record reports it (else measured by the bar). */
  rate?: number;
  rateUnit?: string;
  loss?: number;
  /** Seconds left as the record reports it (else estimated by the bar). */
  etaSec?: number;
  ranks?: RankFigures[];
}

/** Fields every record has, shown elsewhere on the line or not at all. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component', 'v']);
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '31' };
/** A field's value longer than this is cut (the JSON format keeps it whole). */
const MAX_VALUE_CHARS = 120;

const num = (x: unknown): number | undefined => (typeof x === 'number' ? x : undefined);

/** The progress a record reports, if it is one of the progress records; undefined for the others. */
export function progressOf(r: LogRecord): ProgressUpdate | undefined {
  const n = (k: string): number | undefined => num(r[k]);
  if (r.msg === 'step' && n('step') !== undefined && n('steps') !== undefined) {
    // coordinator/cluster/summary.ts logProgress: each rank's samples/s is of its own slice of the global batch
    const ranks = Array.isArray(r['workers']) ? (r['workers'] as Array<Record<string, unknown>>).map((w) => ({
      rank: num(w['rank']) ?? 0, samplesPerSec: num(w['samplesPerSec']) ?? 0, waiting: num(w['waiting']) ?? 0,
    })) : [];
    return {
      task: 'train', done: n('step') as number, total: n('steps') as number, unit: 'steps',
      rate: ranks.reduce((s, w) => s + w.samplesPerSec, 0), rateUnit: 'samples/s', ranks,
      ...(n('loss') !== undefined ? { loss: n('loss') as number } : {}), ...(n('etaSec') !== undefined ? { etaSec: n('etaSec') as number } : {}),
    };
  }
  if (r.msg === 'evaluating' && n('done') !== undefined && n('total') !== undefined)
    return { task: 'eval', done: n('done') as number, total: n('total') as number, unit: 'queries' };
  // shared/dataset/prepare/progress.ts: 'stage' opens a stage, 'progress' reports it, 'stage done' closes it
  if ((r.msg === 'progress' || r.msg === 'stage') && typeof r['stage'] === 'string' && n('total') !== undefined)
    return { task: r['stage'], done: n('done') ?? 0, total: n('total') as number, unit: typeof r['unit'] === 'string' ? r['unit'] : 'items', ...(n('perSec') !== undefined ? { rate: n('perSec') as number } : {}) };
  if (r.msg === 'stage done' && typeof r['stage'] === 'string' && n('items') !== undefined)
    return { task: r['stage'], done: n('items') as number, total: n('items') as number, unit: typeof r['unit'] === 'string' ? r['unit'] : 'items' };
  return undefined;
}

/**
 * Control characters escaped (\u001b...): a worker id or a reason is data, and an ESC sequence in it
 * would move the cursor or clear the screen (the terminal's twin of the dashboard's text-as-text).
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function value(v: unknown): string {
  const s = printable(typeof v === 'string' ? (/[\s=]/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v) ?? String(v));
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}

/** The run's settings from the 'config' record (the full config stays in the JSON format and config.json). */
function configLine(c: Record<string, Record<string, unknown>>): string {
  const t = c['train'] ?? {}, cl = c['cluster'] ?? {}, m = c['model'] ?? {}, p = c['prune'] ?? {}, d = c['data'] ?? {};
  return `run settings  preset=${value(m['from'] || m['preset'])} mode=${value(t['mode'])} steps=${value(t['steps'])} batch=${value(t['batchSize'])} lr=${value(t['learningRate'])}` +
    ` workers=${value(cl['workers'])} wire=${value(cl['wire'])} transport=${value(cl['transport'])} data=${value(d['dir'] || 'bundled sample')}` +
    `${num(p['final']) ? ` prune=${value(p['final'])}` : ''}`;
}

/** The message and fields of a record, as a person reads them. */
function body(r: LogRecord): string {
  if (r.msg === 'config' && r['config'] && typeof r['config'] === 'object') return configLine(r['config'] as Record<string, Record<string, unknown>>);
  if (typeof r.msg === 'string' && r.msg.startsWith('serving /metrics') && typeof r['url'] === 'string')
    return `dashboard     ${printable(r['url'])}/\n${' '.repeat(9)}metrics       ${printable(r['url'])}/metrics`;
  if (r.msg === 'coordinator listening' && typeof r['runDir'] === 'string')
    return `run folder    ${printable(r['runDir'])}  (coordinator ${value(r['address'])}, run ${value(r['runId'])}, ${value(r['workers'])} worker(s))`;
  const fields = Object.entries(r).filter(([k]) => !HIDDEN.has(k)).map(([k, v]) => `${printable(k)}=${value(v)}`);
  return [printable(String(r.msg ?? '')), ...fields].join('  ');
}

/** `13:45:01 INFO  coordinator  worker joined  workerId=local-000 ...`; `colour` adds ANSI colour to the level. */
export function formatRecord(r: LogRecord, colour: boolean): string {
  const t = new Date(num(r.time) ?? Date.now());
  const hms = [t.getHours(), t.getMinutes(), t.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
  const level = LEVELS[num(r.level) ?? 30] ?? String(r.level);
  const lv = colour ? `\x1b[${LEVEL_COLOURS[num(r.level) ?? 30] ?? '0'}m${level.padEnd(5)}\x1b[0m` : level.padEnd(5);
  const component = typeof r['component'] === 'string' ? `${printable(r['component'])}  ` : '';
  return `${hms} ${lv} ${component}${body(r)}`;
}
