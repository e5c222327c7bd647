/**
 * A local nats-server with JetStream, for `coordinator start` when no --nats-url is given, and for
 * tests: a free port on 127.0.0.1, a store folder of its own, ready when the server says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** How long a starting server may take to say it is ready. */
export const NATS_READY_TIMEOUT_MS = 15_000;
/** Debian installs nats-server into /usr/sbin, which a non-root PATH may lack. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin'];

/** The nats-server binary: on PATH, else Debian's /usr/sbin; undefined when there is none. */
export function findNatsServer(envPath = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of [...envPath.split(path.delimiter).filter((d) => d !== ''), ...EXTRA_DIRS]) {
    const file = path.join(dir, 'nats-server');
    try { accessSync(file, constants.X_OK); return file; } catch { /* not here */ }
  }
  return undefined;
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port assigned'))));
    });
  });
}

export interface NatsServerOptions {
  /** @default findNatsServer() */
  binary?: string;
  /** @default a free port */
  port?: number;
  /** JetStream store folder; kept on close() when given. @default a new temporary folder, removed on close() */
  storeDir?: string;
  /** @default NATS_READY_TIMEOUT_MS */
  readyTimeoutMs?: number;
}

/**
 * Runs the server ("$0" "$@") under a shell that kills it with the signal named on its stdin, or
 * with KILL when stdin closes: so the server dies with the process that started it, even when that
 * process is killed with SIGKILL (no exit handler runs then). Background jobs read /dev/null unless
 * told otherwise, hence fd 3.
 */
const WATCHDOG = 'exec 3<&0; "$0" "$@" </dev/null & s=$!; (read sig <&3; kill -"${sig:-KILL}" "$s" 2>/dev/null) & wait "$s"';

export class NatsServer {
  private constructor(readonly url: string, readonly port: number, readonly storeDir: string, private readonly child: ChildProcess,
    private readonly ownsStore: boolean, private readonly exited: Promise<void>) {}

  /** Starts nats-server -js and resolves once it logs "Server is ready". */
  static async start(o: NatsServerOptions = {}): Promise<NatsServer> {
    const binary = o.binary ?? findNatsServer();
    if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server, or see https://github.com/nats-io/nats-server/releases)');
    const port = o.port ?? await freePort();
    const storeDir = o.storeDir ?? mkdtempSync(path.join(os.tmpdir(), 'dsi-nats-'));
    const child = spawn('sh', ['-c', WATCHDOG, binary, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: ['pipe', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server on port ${port} not ready within ${o.readyTimeoutMs ?? NATS_READY_TIMEOUT_MS} ms: ${log.slice(-500)}`)), o.readyTimeoutMs ?? NATS_READY_TIMEOUT_MS);
      child.stderr?.on('data', (b: Buffer) => {
        log += b.toString();
        if (log.includes('Server is ready')) { clearTimeout(timer); resolve(); }
      });
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`nats-server exited with ${signal ?? `code ${code}`} before it was ready: ${log.slice(-500)}`)); });
      child.once('error', (e) => { clearTimeout(timer); reject(e); });
    }).catch((e: unknown) => { child.stdin?.end('KILL\n'); throw e; });
    child.stderr?.removeAllListeners('data');
    child.stderr?.resume();   // keep draining its log so it never blocks on a full pipe
    return new NatsServer(`nats://127.0.0.1:${port}`, port, storeDir, child, o.storeDir === undefined, exited);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stops the server (SIGKILL: `graceful` false, like a crash) and waits for it to exit. */
  async close(graceful = true): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.stdin?.end(graceful ? 'TERM\n' : 'KILL\n');
    await this.exited;
    if (this.ownsStore) rmSync(this.storeDir, { recursive: true, force: true });
  }
}
