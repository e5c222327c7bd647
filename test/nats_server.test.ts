/**
 * The local nats-server (shared/runtime/telemetry/nats_server.ts) dies with the process that started it,
 * even when that process is killed with SIGKILL: a coordinator killed hard leaves no server behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';

/** How long the server may take to close its listener after its clients. */
const LISTENER_GRACE_MS = 5_000;

// without the watchdog the server outlives its parent and the socket never closes: the timeout fails the test
test('local nats-server: SIGKILL of its parent process takes the server down too', { timeout: 30_000 }, async (t) => {
  const mod = path.join(REPO_ROOT, 'dist', 'shared', 'runtime', 'telemetry', 'nats_server.js');
  const parent = spawn(process.execPath, ['--input-type=module', '-e',
    `const { NatsServer } = await import(${JSON.stringify(mod)}); const s = await NatsServer.start(); process.stdout.write(String(s.port) + '\\n');`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (parent.exitCode === null) parent.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve, reject) => {
    parent.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
    parent.once('exit', (code) => reject(new Error(`parent exited (${code}) before the server was ready`)));
  });
  // a client connection to the server: it closes when the server process dies
  const socket = net.connect(port, '127.0.0.1');
  const info = await new Promise<string>((resolve, reject) => { socket.once('data', (b: Buffer) => resolve(b.toString())); socket.once('error', reject); });
  assert.match(info, /^INFO \{/);                              // a NATS server answered
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);                         // ECONNRESET when the server dies: expected
  parent.kill('SIGKILL');
  await closed;
  // nothing listens on the port any more: nats-server drops its clients before it closes its listener,
  // so the listener may still be up for a moment after the client socket closed; allow it a bounded time
  const refusedOnce = (): Promise<boolean> => new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
  const deadline = Date.now() + LISTENER_GRACE_MS;
  let refused = await refusedOnce();
  while (!refused && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    refused = await refusedOnce();
  }
  assert.ok(refused, `port ${port} still accepts connections ${LISTENER_GRACE_MS} ms after the parent was killed`);
});
