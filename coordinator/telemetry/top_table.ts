/**
 * `coordinator top`'s table: one row per worker, run averages of throughput and of the step-time
 * split, the latest loss, loss scale and sparsity. Plain text, fixed-width columns.
 */
import { printable } from '../../shared/runtime/console/records.js';
import type { WorkerRow, WorkersSnapshot } from './snapshot.js';

const COLUMNS: Array<{ head: string; width: number; cell: (w: WorkerRow) => string }> = [
  { head: 'rank', width: 4, cell: (w) => String(w.rank) },
  // a worker id is data: its control characters escaped, never sent to the terminal as codes
  { head: 'worker', width: 14, cell: (w) => printable(w.workerId).slice(0, 14) },
  { head: 'step', width: 6, cell: (w) => String(w.step) },
  { head: 'samples/s', width: 9, cell: (w) => w.samplesPerSec.toFixed(1) },
  { head: 'tokens/s', width: 9, cell: (w) => w.tokensPerSec.toFixed(0) },
  { head: 'step ms', width: 8, cell: (w) => w.stepMs.toFixed(1) },
  { head: 'data', width: 5, cell: (w) => pct(w.shares.data) },
  { head: 'fwd+bwd', width: 7, cell: (w) => pct(w.shares.forwardBackward) },
  { head: 'wait', width: 5, cell: (w) => pct(w.shares.waiting) },
  { head: 'reduce', width: 6, cell: (w) => pct(w.shares.allReduce) },
  { head: 'optim', width: 5, cell: (w) => pct(w.shares.optimizer) },
  { head: 'loss', width: 7, cell: (w) => (w.loss === null || !Number.isFinite(w.loss) ? '-' : w.loss.toFixed(4)) },
  { head: 'scale', width: 7, cell: (w) => String(w.lossScale) },
  { head: 'sparsity', width: 8, cell: (w) => (w.sparsity === null ? '-' : pct(w.sparsity)) },
  { head: 'sent MiB', width: 8, cell: (w) => (w.bytesSent / 2 ** 20).toFixed(1) },
  { head: 'RSS MiB', width: 7, cell: (w) => (w.rssBytes / 2 ** 20).toFixed(0) },
];

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

/** The header line, then one line per worker (sorted by rank). */
export function formatTopTable(s: WorkersSnapshot): string {
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(COLUMNS[i]?.width ?? 0)).join('  ');
  const title = `run ${printable(s.runId)}  workers ${s.workers.length}/${s.worldSize}  telemetry ${s.telemetry}  ${new Date(s.atMs).toISOString()}`;
  const rows = [...s.workers].sort((a, b) => a.rank - b.rank).map((w) => line(COLUMNS.map((c) => c.cell(w))));
  return [title, line(COLUMNS.map((c) => c.head)), ...(rows.length ? rows : ['(no steps reported yet)'])].join('\n') + '\n';
}
