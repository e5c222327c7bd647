// The dashboard's one script: polls /api/workers (coordinator/telemetry/snapshot.ts WorkersSnapshot)
// and draws three SVG charts and a table. No build step, no library. Every drawn series carries its
// rank and its last value in data- attributes, so a test can compare the page with the run.
'use strict';

const POLL_MS = 1000;
const W = 480, H = 220, PAD = 36;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const PHASES = [['data', 'data'], ['forwardBackward', 'forward+backward'], ['waiting', 'all-reduce waiting'], ['allReduce', 'all-reduce'], ['optimizer', 'optimizer']];
const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

function axes(svg, yMax, label) {
  el('line', { x1: PAD, y1: H - PAD, x2: W - 8, y2: H - PAD, stroke: '#999' }, svg);
  el('line', { x1: PAD, y1: 8, x2: PAD, y2: H - PAD, stroke: '#999' }, svg);
  const t = el('text', { x: 2, y: 16, 'font-size': 11, fill: '#555' }, svg);
  t.textContent = yMax.toPrecision(3);
  const b = el('text', { x: W - 60, y: H - 8, 'font-size': 11, fill: '#555' }, svg);
  b.textContent = label;
}

/** One polyline per series: [{ rank, points: [[x, y], ...] }]. */
function lineChart(id, series, xLabel) {
  const svg = document.getElementById(id);
  svg.replaceChildren();
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  if (xs.length === 0 || ys.length === 0) return;
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), yMax = Math.max(...ys) * 1.05 || 1;
  axes(svg, yMax, xLabel);
  const sx = (x) => PAD + ((x - x0) / (x1 - x0)) * (W - PAD - 8);
  const sy = (y) => H - PAD - (y / yMax) * (H - PAD - 8);
  for (const s of series) {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    const last = pts[pts.length - 1];
    el('polyline', {
      points: pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' '), fill: 'none', stroke: COLORS[s.rank % COLORS.length], 'stroke-width': 1.5,
      'data-rank': s.rank, 'data-points': pts.length, 'data-last-x': last ? last[0] : '', 'data-last-y': last ? last[1] : '',
    }, svg);
  }
}

/** Stacked bars: one per worker, phases in step order. */
function breakdownChart(workers) {
  const svg = document.getElementById('breakdown');
  svg.replaceChildren();
  if (workers.length === 0) return;
  const yMax = Math.max(...workers.map((w) => w.stepMs)) * 1.05 || 1;
  axes(svg, yMax, 'rank');
  const bw = Math.min(60, (W - PAD - 8) / workers.length - 10);
  workers.forEach((w, i) => {
    let y = H - PAD;
    const x = PAD + 10 + i * (bw + 10);
    for (const [key, name] of PHASES) {
      const ms = w.shares[key] * w.stepMs;
      const h = (ms / yMax) * (H - PAD - 8);
      y -= h;
      const r = el('rect', { x, y, width: bw, height: Math.max(0, h), fill: COLORS[PHASES.findIndex((p) => p[0] === key)], 'data-rank': w.rank, 'data-phase': key, 'data-ms': ms }, svg);
      const title = el('title', {}, r);
      title.textContent = `rank ${w.rank} ${name}: ${ms.toFixed(1)} ms`;
    }
    const t = el('text', { x: x + bw / 2 - 4, y: H - PAD + 14, 'font-size': 11 }, svg);
    t.textContent = String(w.rank);
  });
}

function legend(id, items) {
  document.getElementById(id).innerHTML = items.map(([color, name]) => `<span><i class="swatch" style="background:${color}"></i>${name}</span>`).join('');
}

function table(workers) {
  const fmt = (x, d) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
  document.querySelector('#workers tbody').innerHTML = workers.map((w) => `<tr data-rank="${w.rank}"><td>${w.rank}</td><td>${w.workerId}</td><td>${w.step}</td>` +
    `<td>${fmt(w.samplesPerSec, 1)}</td><td>${fmt(w.tokensPerSec, 0)}</td><td>${fmt(w.stepMs, 1)}</td><td>${fmt(w.loss, 4)}</td><td>${w.lossScale}</td>` +
    `<td>${w.sparsity === null ? '-' : fmt(w.sparsity * 100, 1) + '%'}</td></tr>`).join('');
}

function render(s) {
  const workers = [...s.workers].sort((a, b) => a.rank - b.rank);
  document.getElementById('run').textContent = `run ${s.runId}`;
  document.getElementById('status').textContent = `${workers.length}/${s.worldSize} workers reporting, telemetry ${s.telemetry}, updated ${new Date(s.atMs).toLocaleTimeString()}`;
  lineChart('throughput', workers.map((w) => ({ rank: w.rank, points: w.recent.map((r) => [r.step, r.samplesPerSec]) })), 'step');
  lineChart('loss', workers.slice(0, 1).map((w) => ({ rank: w.rank, points: w.recent.map((r) => [r.step, r.loss]) })), 'step');
  breakdownChart(workers);
  // the evaluation curve: series 0 = Hits@1, 1 = Hits@10 (on the held-out queries the run evaluates)
  const evals = s.evaluations ?? [];
  lineChart('evaluation', evals.length === 0 ? [] : [
    { rank: 0, points: evals.map((e) => [e.step, e.hitsAt1]) }, { rank: 1, points: evals.map((e) => [e.step, e.hitsAt10]) },
  ], 'step');
  legend('evaluation-legend', evals.length === 0 ? [['#fff', 'no evaluation yet']] : [[COLORS[0], 'Hits@1'], [COLORS[1], 'Hits@10']]);
  legend('throughput-legend', workers.map((w) => [COLORS[w.rank % COLORS.length], `rank ${w.rank}`]));
  legend('loss-legend', workers.slice(0, 1).map((w) => [COLORS[w.rank % COLORS.length], 'global batch (rank 0)']));
  legend('breakdown-legend', PHASES.map(([, name], i) => [COLORS[i], name]));
  table(workers);
  // the step every worker has reached (0 until all report): what a reader of the page can rely on
  document.body.dataset.step = String(workers.length === s.worldSize ? Math.min(...workers.map((w) => w.step)) : 0);
}

async function poll() {
  try {
    const res = await fetch('api/workers', { cache: 'no-store' });
    if (res.ok) render(await res.json());
    else document.getElementById('status').textContent = `coordinator answered ${res.status}`;
  } catch (e) {
    document.getElementById('status').textContent = `coordinator not reachable (${e.message}); the run may have ended`;
  }
  setTimeout(poll, POLL_MS);
}
poll();
