// The dashboard's one script: polls /api/workers (coordinator/telemetry/snapshot.ts WorkersSnapshot)
// and /api/run (run_view.ts RunView), and tells the run's story: how far it is and when it ends, what
// it trains, what happened (the run's events), and its figures in SVG charts with step numbers on
// their axes. No build step, no library. Every text from the run is inserted as text (textContent,
// never innerHTML): a worker id or an error message is data, not markup. Drawn series, ticks and
// events carry data- attributes, so a test can compare the page with the run.
'use strict';

const POLL_MS = 1000;
const W = 480, H = 240;
const M = { left: 56, right: 12, top: 10, bottom: 40 };   // room for the tick labels and the axis titles
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const PHASES = [['data', 'data'], ['forwardBackward', 'forward+backward'], ['waiting', 'all-reduce waiting'], ['allReduce', 'all-reduce'], ['optimizer', 'optimizer']];
const EVENT_COLORS = { checkpoint_written: '#555', masks_broadcast: '#9467bd', evaluated: '#2ca02c', worker_left: '#d62728', ring_formed: '#ff7f0e' };
const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs, parent, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

/** An HTML element with text (never parsed as markup). */
function h(name, attrs, text, children) {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  for (const c of children ?? []) e.appendChild(c);
  return e;
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about `n` of them. */
function ticks(lo, hi, n, integer) {
  const raw = (hi - lo) / n || 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function short(v) {
  const a = Math.abs(v);
  return a >= 1e4 ? `${(v / 1e3).toFixed(0)}k` : a >= 100 || Number.isInteger(v) ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toPrecision(2);
}

/** Axes, ticks with their numbers, and the two axis titles; returns the scales of the plot area. */
function frame(svg, x0, x1, y1, xTitle, yTitle, xTicks = true) {
  const sx = (x) => M.left + ((x - x0) / (x1 - x0 || 1)) * (W - M.left - M.right);
  const sy = (y) => H - M.bottom - (y / (y1 || 1)) * (H - M.top - M.bottom);
  el('line', { x1: M.left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom, stroke: '#999' }, svg);
  el('line', { x1: M.left, y1: M.top, x2: M.left, y2: H - M.bottom, stroke: '#999' }, svg);
  for (const v of ticks(0, y1, 4, false)) {
    el('line', { x1: M.left - 4, y1: sy(v), x2: W - M.right, y2: sy(v), stroke: '#eee' }, svg);
    el('text', { x: M.left - 6, y: sy(v) + 4, 'font-size': 10, 'text-anchor': 'end', fill: '#555', class: 'tick-y', 'data-value': v }, svg, short(v));
  }
  if (xTicks) for (const v of ticks(x0, x1, 5, true)) {
    el('line', { x1: sx(v), y1: H - M.bottom, x2: sx(v), y2: H - M.bottom + 4, stroke: '#999' }, svg);
    el('text', { x: sx(v), y: H - M.bottom + 15, 'font-size': 10, 'text-anchor': 'middle', fill: '#555', class: 'tick-x', 'data-value': v }, svg, short(v));
  }
  el('text', { x: (M.left + W - M.right) / 2, y: H - 6, 'font-size': 11, 'text-anchor': 'middle', fill: '#333', class: 'axis-x' }, svg, xTitle);
  el('text', { x: 12, y: (M.top + H - M.bottom) / 2, 'font-size': 11, 'text-anchor': 'middle', fill: '#333', class: 'axis-y', transform: `rotate(-90 12 ${(M.top + H - M.bottom) / 2})` }, svg, yTitle);
  return { sx, sy };
}

/** One polyline per series ([{ rank, points: [[step, y], ...] }]), a dashed mark per run event at its step, dots when few points. */
function lineChart(id, series, yTitle, marks = [], dots = false) {
  const svg = document.getElementById(id);
  svg.replaceChildren();
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  if (xs.length === 0 || ys.length === 0) {
    el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#999', 'font-size': 12 }, svg, 'no data yet');
    return;
  }
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), yMax = Math.max(...ys) * 1.05 || 1;
  const { sx, sy } = frame(svg, x0, x1, yMax, 'step', yTitle);
  for (const m of marks.filter((e) => e.step >= x0 && e.step <= x1)) {
    const line = el('line', { x1: sx(m.step), y1: M.top, x2: sx(m.step), y2: H - M.bottom, stroke: EVENT_COLORS[m.type] ?? '#999', 'stroke-dasharray': '3 3', 'data-event': m.type, 'data-step': m.step }, svg);
    el('title', {}, line, describe(m).text);
  }
  for (const s of series) {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    const last = pts[pts.length - 1];
    el('polyline', {
      points: pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' '), fill: 'none', stroke: COLORS[s.rank % COLORS.length], 'stroke-width': 1.5,
      'data-rank': s.rank, 'data-points': pts.length, 'data-last-x': last ? last[0] : '', 'data-last-y': last ? last[1] : '',
    }, svg);
    if (dots) for (const p of pts) el('title', {}, el('circle', { cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: COLORS[s.rank % COLORS.length] }, svg), `step ${p[0]}: ${short(p[1])}`);
  }
}

/** Stacked bars: one per worker, phases in step order. */
function breakdownChart(workers) {
  const svg = document.getElementById('breakdown');
  svg.replaceChildren();
  if (workers.length === 0) return;
  const yMax = Math.max(...workers.map((w) => w.stepMs)) * 1.05 || 1;
  const { sy } = frame(svg, 0, 1, yMax, 'rank', 'ms per step', false);
  const bw = Math.min(60, (W - M.left - M.right) / workers.length - 10);
  workers.forEach((w, i) => {
    let y = H - M.bottom;
    const x = M.left + 10 + i * (bw + 10);
    for (const [key, name] of PHASES) {
      const ms = w.shares[key] * w.stepMs;
      const top = sy(ms) - (H - M.bottom) + y;
      const r = el('rect', { x, y: top, width: bw, height: Math.max(0, y - top), fill: COLORS[PHASES.findIndex((p) => p[0] === key)], 'data-rank': w.rank, 'data-phase': key, 'data-ms': ms }, svg);
      el('title', {}, r, `rank ${w.rank} ${name}: ${ms.toFixed(1)} ms`);
      y = top;
    }
    el('text', { x: x + bw / 2, y: H - M.bottom + 15, 'font-size': 10, 'text-anchor': 'middle', fill: '#555' }, svg, String(w.rank));
  });
}

function legend(id, items) {
  document.getElementById(id).replaceChildren(...items.map(([color, name]) => {
    const swatch = h('i', { class: 'swatch' });
    swatch.style.background = color;
    const span = h('span', {}, undefined, [swatch]);
    span.appendChild(document.createTextNode(name));
    return span;
  }));
}

function table(workers) {
  const fmt = (x, d) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
  document.querySelector('#workers tbody').replaceChildren(...workers.map((w) => h('tr', { 'data-rank': w.rank }, undefined, [
    w.rank, w.workerId, w.step, fmt(w.samplesPerSec, 1), fmt(w.tokensPerSec, 0), fmt(w.stepMs, 1), fmt(w.loss, 4), w.lossScale,
    w.sparsity === null ? '-' : fmt(w.sparsity * 100, 1) + '%',
  ].map((v) => h('td', {}, String(v))))));
}

function clock(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds), hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

const pct = (x) => `${(x * 100).toFixed(1)}%`;

/** A run event in words, and the step it belongs to (none for joins). */
function describe(e) {
  switch (e.type) {
    case 'run_started': return { text: `run started: ${e.worldSize} worker(s), steps ${e.startStep} to ${e.steps}`, step: e.startStep };
    case 'worker_joined': return { text: `worker ${e.workerId} joined from ${e.address} (${e.backend})` };
    case 'ring_formed': return { text: `ring ${e.epoch > 0 ? 're-formed' : 'formed'} (epoch ${e.epoch}): ${e.ring.map((r) => `${r.rank}:${r.workerId}`).join(', ')}` };
    case 'worker_left': return { text: `worker ${e.workerId} (rank ${e.rank}) ${e.step !== undefined ? 'lost' : 'left'}: ${e.reason}${e.worldSize !== undefined ? `; ${e.worldSize} left` : ''}`, step: e.step, bad: e.step !== undefined };
    case 'checkpoint_written': return { text: `checkpoint written: ${e.dir}`, step: e.step };
    case 'masks_broadcast': return { text: `pruning masks v${e.version}: target ${pct(e.target)}, reached ${pct(e.reached)}`, step: e.step };
    case 'evaluated': return { text: `evaluated on ${e.queries} queries: Hits@1 ${pct(e.hitsAt1)}, Hits@10 ${pct(e.hitsAt10)}, MRR@10 ${e.mrrAt10.toFixed(3)}`, step: e.step };
    case 'run_finished': return { text: e.interrupted ? 'run interrupted (checkpointed)' : 'run finished', step: e.steps };
    case 'run_failed': return { text: `run failed: ${e.error}`, step: e.step, bad: true };
    default: return { text: String(e.type) };
  }
}

function eventsList(run) {
  const items = [...run.events].reverse().map((e) => {
    const d = describe(e);
    return h('li', { 'data-type': e.type, 'data-step': d.step ?? '', class: d.bad ? 'bad' : '' }, undefined, [
      h('time', {}, new Date(e.atMs).toLocaleTimeString()), h('span', { class: 'step' }, d.step === undefined ? '' : `step ${d.step}`), h('span', { class: 'what' }, d.text),
    ]);
  });
  document.getElementById('events').replaceChildren(...items);
  document.getElementById('events-note').textContent = run.eventsDropped > 0 ? `(the first ${run.eventsDropped} are not kept)` : '';
}

function settingsList(s) {
  const rows = [
    ['preset', s.preset], ['mode', s.mode], ['docids', s.docids], ['workers', s.minWorkers < s.workers ? `${s.workers} (at least ${s.minWorkers})` : s.workers],
    ['wire', `${s.wire} over ${s.transport}`], ['batch', s.batchSize], ['learning rate', s.learningRate], ['steps', s.steps],
    ['pruning target', s.pruneTarget > 0 ? pct(s.pruneTarget) : 'off'], ['evaluate every', s.evalEvery > 0 ? `${s.evalEvery} steps` : 'at the end'],
    ['checkpoint every', s.checkpointEvery > 0 ? `${s.checkpointEvery} steps` : 'at the end'], ['data', s.dataDir], ['run folder', s.runDir],
  ];
  document.getElementById('settings').replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-key': k }, String(v))]));
}

/** Step reached, steps in all, time since the start and time left (at the recent pace of rank 0). */
function progress(run, workers, worldSize) {
  const steps = run.settings.steps;
  const step = workers.length === 0 ? run.startStep : workers.length === worldSize ? Math.min(...workers.map((w) => w.step)) : Math.max(...workers.map((w) => w.step));
  const end = run.events.find((e) => e.type === 'run_finished' || e.type === 'run_failed');
  const started = run.events.find((e) => e.type === 'run_started')?.atMs ?? run.startedAtMs;
  const recent = (workers[0]?.recent ?? []).slice(-20);
  const msPerStep = recent.length ? recent.reduce((a, r) => a + r.stepMs, 0) / recent.length : NaN;
  const elapsed = ((end?.atMs ?? Date.now()) - started) / 1000;
  const left = end ? 'ended' : `about ${clock(((steps - step) * msPerStep) / 1000)} left`;
  const share = steps > run.startStep ? (step - run.startStep) / (steps - run.startStep) : 0;
  const box = document.getElementById('progress');
  box.dataset.step = String(step);
  box.dataset.steps = String(steps);
  document.getElementById('progress-fill').style.width = `${(Math.min(1, share) * 100).toFixed(1)}%`;
  document.getElementById('progress-text').textContent =
    `step ${step} / ${steps} (${(share * 100).toFixed(1)}%) · ${clock(elapsed)} elapsed · ${end ? (end.type === 'run_failed' ? 'failed' : describe(end).text) : left}`;
}

function render(s, run) {
  const workers = [...s.workers].sort((a, b) => a.rank - b.rank);
  document.getElementById('run').textContent = `run ${s.runId}`;
  document.getElementById('status').textContent = `${workers.length}/${s.worldSize} workers reporting, telemetry ${s.telemetry}, updated ${new Date(s.atMs).toLocaleTimeString()}`;
  const marks = (run?.events ?? []).map((e) => ({ ...e, step: describe(e).step })).filter((e) => e.step !== undefined && EVENT_COLORS[e.type]);
  lineChart('throughput', workers.map((w) => ({ rank: w.rank, points: w.recent.map((r) => [r.step, r.samplesPerSec]) })), 'samples/s');
  lineChart('loss', workers.slice(0, 1).map((w) => ({ rank: w.rank, points: w.recent.map((r) => [r.step, r.loss]) })), 'loss', marks);
  breakdownChart(workers);
  // the evaluation curve: series 0 = Hits@1, 1 = Hits@10 (on the held-out queries the run evaluates)
  const evals = s.evaluations ?? [];
  lineChart('evaluation', evals.length === 0 ? [] : [
    { rank: 0, points: evals.map((e) => [e.step, e.hitsAt1]) }, { rank: 1, points: evals.map((e) => [e.step, e.hitsAt10]) },
  ], 'share of queries', [], true);
  legend('evaluation-legend', evals.length === 0 ? [['#fff', 'no evaluation yet (--eval-every N draws a curve)']] : [[COLORS[0], 'Hits@1'], [COLORS[1], 'Hits@10']]);
  legend('throughput-legend', workers.map((w) => [COLORS[w.rank % COLORS.length], `rank ${w.rank}`]));
  legend('loss-legend', [...workers.slice(0, 1).map((w) => [COLORS[w.rank % COLORS.length], 'global batch (rank 0)']),
    ...[['checkpoint_written', 'checkpoint'], ['masks_broadcast', 'masks'], ['evaluated', 'evaluation'], ['worker_left', 'worker lost']].map(([k, name]) => [EVENT_COLORS[k], name])]);
  legend('breakdown-legend', PHASES.map(([, name], i) => [COLORS[i], name]));
  table(workers);
  if (run) { progress(run, workers, s.worldSize); settingsList(run.settings); eventsList(run); }
  // the step every worker has reached (0 until all report): what a reader of the page can rely on
  document.body.dataset.step = String(workers.length === s.worldSize ? Math.min(...workers.map((w) => w.step)) : 0);
}

async function poll() {
  try {
    const [res, runRes] = await Promise.all([fetch('api/workers', { cache: 'no-store' }), fetch('api/run', { cache: 'no-store' })]);
    if (res.ok) render(await res.json(), runRes.ok ? await runRes.json() : undefined);
    else document.getElementById('status').textContent = `coordinator answered ${res.status}`;
  } catch (e) {
    document.getElementById('status').textContent = `coordinator not reachable (${e.message}); the run may have ended`;
  }
  setTimeout(poll, POLL_MS);
}
poll();
