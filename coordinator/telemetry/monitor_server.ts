/**
 * The coordinator's HTTP monitoring endpoint: GET /metrics (Prometheus text format), GET
 * /api/workers (the per-worker snapshot `coordinator top` and the dashboard read, JSON), GET
 * /api/run (the run's settings and events, run_view.ts), and the dashboard itself at / (plain
 * files from coordinator/telemetry/dashboard/). Port 0 takes a free port; the address is logged.
 *
 * With a bearer token (--metrics-token-file) every path needs it: `Authorization: Bearer TOKEN`
 * (Prometheus's `authorization` scrape setting, `coordinator top`), or, for a browser, the cookie
 * that opening `/?token=TOKEN` once sets (HttpOnly, SameSite=Strict), so the dashboard's own
 * requests carry it without the token in its script.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatHostPort } from '../../shared/runtime/host_port.js';
import { REPO_ROOT } from '../../shared/runtime/paths.js';
import type { Logger } from '../../shared/runtime/log.js';
import type { CoordinatorTelemetry } from './coordinator_telemetry.js';
import { tokensEqual } from '../../shared/runtime/security.js';
import { RunMetrics } from './prometheus.js';
import { workersSnapshot } from './snapshot.js';
import { RunEvents, type RunSettings } from './run_view.js';

export interface MonitorServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  worldSize: number;
  telemetry: CoordinatorTelemetry;
  /** What the run trains and the step it starts from (the dashboard's settings and progress). */
  settings: RunSettings;
  startStep: number;
  log: Logger;
  /** Token every request must carry; undefined: open. */
  bearerToken?: string;
}

/** Cookie the dashboard's requests carry once `/?token=` set it. */
const TOKEN_COOKIE = 'dsi_metrics_token';

/** The request's token: the Authorization header's bearer token, else the cookie. */
function requestToken(req: http.IncomingMessage): string {
  const auth = req.headers.authorization ?? '';
  if (auth.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    // a malformed escape (%E0%A4%A) must not throw in the request handler: it is just a wrong token
    if (k === TOKEN_COOKIE) { try { return decodeURIComponent(v.join('=')); } catch { return ''; } }
  }
  return '';
}

/**
 * Whether the request may proceed: true, or it was answered (401; or, for `/?token=` with the right
 * token, a redirect to `/` that sets the cookie, so the token leaves the address bar and history).
 */
function authorize(req: http.IncomingMessage, res: http.ServerResponse, url: URL, token: string | undefined): boolean {
  if (token === undefined) return true;
  const fromQuery = url.searchParams.get('token');
  if (url.pathname === '/' && fromQuery !== null && tokensEqual(fromQuery, token)) {
    res.writeHead(303, { location: '/', 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`, 'cache-control': 'no-store' }).end();
    return false;
  }
  if (tokensEqual(requestToken(req), token)) return true;
  res.writeHead(401, { 'www-authenticate': 'Bearer realm="dsi-cluster"', 'content-type': 'text/plain' })
    .end('401: this coordinator needs its metrics token: Authorization: Bearer TOKEN, or open /?token=TOKEN in a browser\n');
  return false;
}

/** The dashboard's files (sources, not build output: there is no build step for them). */
const DASHBOARD_DIR = path.join(REPO_ROOT, 'coordinator', 'telemetry', 'dashboard');
const DASHBOARD_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
};

export class MonitorServer {
  private constructor(readonly url: string, private readonly server: http.Server, private readonly stop: () => void) {}

  static async start(o: MonitorServerOptions): Promise<MonitorServer> {
    const metrics = new RunMetrics(o.telemetry.runId, o.worldSize, o.telemetry.mode);
    const offStep = o.telemetry.aggregator.onStep((t, source) => metrics.step(t, source));
    const events = new RunEvents(o.telemetry.runId, o.settings, o.startStep);
    const offEvent = o.telemetry.onEvent((e) => { metrics.event(e); events.record(e); });
    const offRefused = o.telemetry.onRefused((method, reason) => metrics.refused(method, reason));
    const dashboard = new Map(Object.entries(DASHBOARD_FILES).map(([route, f]) => [route, { body: readFileSync(path.join(DASHBOARD_DIR, f.file)), type: f.type }]));
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET') { res.writeHead(405, { allow: 'GET' }).end(); return; }
      if (!authorize(req, res, url, o.bearerToken)) return;
      if (url.pathname === '/metrics') {
        metrics.text().then(
          (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
          (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${e.message}\n`),
        );
      } else if (url.pathname === '/api/workers') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(workersSnapshot(o.telemetry.aggregator, { telemetry: o.telemetry.mode, worldSize: o.worldSize })));
      } else if (url.pathname === '/api/run') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(events.view()));
      } else if (dashboard.has(url.pathname)) {
        const f = dashboard.get(url.pathname) as { body: Buffer; type: string };   // has() just said so
        res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store' }).end(f.body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`no ${url.pathname} here: GET /, /metrics, /api/workers or /api/run\n`);
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve());
    });
    const addr = server.address();
    const port = addr && typeof addr === 'object' ? addr.port : o.port;
    const url = `http://${formatHostPort(o.host, port)}`;
    o.log.info({ url, metrics: `${url}/metrics`, workers: `${url}/api/workers` }, 'serving /metrics (Prometheus), /api/workers and the dashboard at /');
    return new MonitorServer(url, server, () => { offStep(); offEvent(); offRefused(); });
  }

  async close(): Promise<void> {
    this.stop();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
