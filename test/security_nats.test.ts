/**
 * Telemetry to a NATS server that wants a user, a password and mutual TLS (a real nats-server, a CA
 * made by openssl): the configured connection gets through; without the password or without a
 * client certificate the server refuses it. And the Kubernetes TLS overlay's own nats-server.conf.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { loadConfig } from '../shared/runtime/config.js';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { createLogger } from '../shared/runtime/log.js';
import { TelemetryConnection } from '../shared/runtime/telemetry/connection.js';
import { findNatsServer, freePort } from '../shared/runtime/telemetry/nats_server.js';
import { natsAuth } from '../shared/runtime/telemetry/nats_auth.js';
import { makeCa, makeCert } from './tls_certs.js';

const binary = findNatsServer();

/** Starts nats-server on 127.0.0.1:`port` with `args`, killed after the test; resolves its URL once it is ready. */
async function startNatsServer(t: TestContext, port: number, args: string[]): Promise<string> {
  const server = spawn(binary as string, ['-a', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => server.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    server.stderr.on('data', (b: Buffer) => { err += b.toString(); if (err.includes('Server is ready')) resolve(); });
    server.on('exit', (code) => reject(new Error(`nats-server exited ${code}: ${err}`)));
  });
  return `nats://127.0.0.1:${port}`;
}

test('NATS with user, password and mutual TLS: the configured telemetry connection publishes; no password or no client certificate is refused', { skip: binary ? false : 'no nats-server on PATH', timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-nats-sec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa(dir, 'nats'), node = makeCert(dir, 'node', ca);
  const password = randomBytes(18).toString('base64');
  const passwordFile = path.join(dir, 'nats-password');
  writeFileSync(passwordFile, password);
  const port = await freePort();
  const url = await startNatsServer(t, port, ['--user', 'dsi', '--pass', password, '--tlscert', node.cert, '--tlskey', node.key, '--tlscacert', node.ca, '--tlsverify']);
  const cfg = loadConfig({ args: ['--nats-user', 'dsi', '--nats-password-file', passwordFile, '--nats-tls', '--tls-cert', node.cert, '--tls-key', node.key, '--tls-ca', node.ca], env: {} });
  const auth = natsAuth(cfg.telemetry, cfg.security);

  // the configured connection: a message published on it arrives through the server
  const conn = new TelemetryConnection({ url, name: 'dsi-test', log: createLogger({ level: 'silent' }), auth });
  t.after(() => conn.close());
  const nc = await conn.connection();
  assert.ok(nc, 'connected');
  const sub = nc.subscribe('dsi.test');
  nc.publish('dsi.test', new TextEncoder().encode('hello'));
  for await (const m of sub) { assert.equal(new TextDecoder().decode(m.data), 'hello'); break; }

  // the same without the password, and with the password but no client certificate: refused
  const noPassword = await connect({ servers: url, tls: auth.tls, reconnect: false }).then(() => 'connected', (e: Error) => e.message);
  assert.match(noPassword, /Authorization Violation/i);
  const noCert = await connect({ servers: url, user: 'dsi', pass: password, tls: { caFile: node.ca }, reconnect: false, timeout: 5_000 }).then(() => 'connected', (e: Error) => e.message);
  assert.notEqual(noCert, 'connected', 'a client without a certificate got in');
  // the server closes the handshake of a client without a certificate; the client sees that as a
  // closed connection or, when the close lands mid-read, as a reset (ECONNRESET: 2 of 8 runs here)
  assert.match(noCert, /certificate|TLS|closed|CONNECTION_REFUSED|disconnect|ECONNRESET/i);

  // a user without a password file is a configuration error naming the field
  assert.throws(() => natsAuth({ ...cfg.telemetry, natsPasswordFile: '' }, cfg.security), /telemetry\.natsPasswordFile.*--nats-user needs --nats-password-file/);
});

test('NATS as deploy/k8s/overlays/tls runs it (its nats-server.conf, verified client certificates, a password): pods that dial dsi-nats but check the name dsi-cluster get through', { skip: binary ? false : 'no nats-server on PATH', timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-nats-k8s-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // the Secret dsi-tls as the overlay mounts it: one certificate naming only dsi-cluster
  const ca = makeCa(dir, 'cluster'), pod = makeCert(dir, 'pod', ca, 'DNS:dsi-cluster');
  const mount = path.join(dir, 'etc-dsi-tls');
  mkdirSync(mount);
  copyFileSync(pod.cert, path.join(mount, 'tls.crt'));
  copyFileSync(pod.key, path.join(mount, 'tls.key'));
  copyFileSync(pod.ca, path.join(mount, 'ca.crt'));
  const conf = path.join(dir, 'nats-server.conf');
  writeFileSync(conf, readFileSync(path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'tls', 'nats-server.conf'), 'utf8').replaceAll('/etc/dsi-tls/', `${mount}/`));
  const password = randomBytes(18).toString('base64'), passwordFile = path.join(dir, 'nats-password');
  writeFileSync(passwordFile, password);
  const port = await freePort();
  const url = await startNatsServer(t, port, ['--config', conf, '--user', 'dsi', '--pass', password]);
  // the pods' settings (DSI_NATS_TLS, DSI_TLS_*, DSI_TLS_SERVER_NAME=dsi-cluster, the user and password file)
  const env = { DSI_NATS_TLS: 'true', DSI_TLS_CERT: path.join(mount, 'tls.crt'), DSI_TLS_KEY: path.join(mount, 'tls.key'), DSI_TLS_CA: path.join(mount, 'ca.crt'), DSI_TLS_SERVER_NAME: 'dsi-cluster', DSI_NATS_USER: 'dsi', DSI_NATS_PASSWORD_FILE: passwordFile };
  const cfg = loadConfig({ args: [], env });
  const nc = await connect({ servers: url, ...natsAuth(cfg.telemetry, cfg.security), reconnect: false, timeout: 5_000 });
  t.after(() => nc.close());
  const sub = nc.subscribe('dsi.k8s');
  nc.publish('dsi.k8s', new TextEncoder().encode('over TLS'));
  for await (const m of sub) { assert.equal(new TextDecoder().decode(m.data), 'over TLS'); break; }
  // the same certificate checked against the address dialled (no server name): refused, it names only dsi-cluster
  const unnamed = loadConfig({ args: [], env: { ...env, DSI_TLS_SERVER_NAME: '' } });
  const refused = await connect({ servers: url, ...natsAuth(unnamed.telemetry, unnamed.security), reconnect: false, timeout: 5_000 }).then((c) => { void c.close(); return 'connected'; }, (e: Error) => e.message);
  assert.notEqual(refused, 'connected');
});
