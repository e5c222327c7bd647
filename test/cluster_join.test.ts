/** Joining the coordinator: a worker that would build another model, or joins twice, is refused by name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { loadProtos } from '../shared/runtime/proto_load.js';
import type { CoordinatorClient } from '../proto/gen/dsi/v1/Coordinator.js';
import { JOIN_REFUSAL_METADATA, PROTOCOL_VERSION, modelConfigHash } from '../shared/training/cluster_plan.js';
import { loadConfig } from '../shared/runtime/config.js';

const run = promisify(execFile);

test('join refusals: different model config, same worker id twice, wrong protocol — each named; the run goes on waiting', async (t) => {
  const coordinator = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js'), 'start', '--workers', '2', '--no-spawn-workers', '--steps', '1', '--join-timeout-ms', '60000'], { cwd: REPO_ROOT });
  t.after(() => coordinator.kill('SIGKILL'));
  const address = await new Promise<string>((resolve, reject) => {
    let buf = '';
    coordinator.stderr.on('data', (b: Buffer) => {
      buf += b.toString();
      const m = /"address":"([^"]+)"[^\n]*"msg":"coordinator listening"/.exec(buf);
      if (m?.[1]) resolve(m[1]);
    });
    coordinator.on('exit', (code) => reject(new Error(`coordinator exited ${code}: ${buf}`)));
  });

  // a worker process started with another preset is refused and exits non-zero with the reason
  const worker = await run(process.execPath, [path.join(REPO_ROOT, 'dist', 'worker', 'cli.js'), '--coordinator', address, '--preset', 't5-small', '--worker-id', 'big'], { cwd: REPO_ROOT })
    .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
  assert.equal(worker.code, 1);
  assert.match(worker.stderr, /join refused.*model_config_hash: worker 'big' builds a different model/);

  const protos = loadProtos();
  const client = new protos.grpc.dsi.v1.Coordinator(address, grpc.credentials.createInsecure()) as CoordinatorClient;
  t.after(() => client.close());
  const hash = modelConfigHash(loadConfig({ args: [], env: {} }));
  const join = (workerId: string, protocolVersion = PROTOCOL_VERSION): Promise<grpc.ServiceError | null> => new Promise((resolve) => {
    client.join({ workerId, address: '127.0.0.1:1', modelConfigHash: hash, backend: 'wasm', protocolVersion }, { deadline: Date.now() + 2000 }, (e) => resolve(e));
  });
  const first = join('w0');                          // admitted: its reply waits until the run is full
  const twice = await join('w0');
  assert.equal(twice?.code, grpc.status.FAILED_PRECONDITION);
  assert.match(twice?.details ?? '', /worker_id: 'w0' has already joined this run/);
  assert.deepEqual(twice?.metadata.get(JOIN_REFUSAL_METADATA), ['JOIN_REFUSAL_DUPLICATE_ID'], 'the refusal is typed, not only worded');
  const old = await join('w9', 99);
  assert.equal(old?.code, grpc.status.FAILED_PRECONDITION);
  assert.match(old?.details ?? '', /protocol_version: worker speaks protocol 99/);
  assert.deepEqual(old?.metadata.get(JOIN_REFUSAL_METADATA), ['JOIN_REFUSAL_PROTOCOL_VERSION']);
  assert.equal((await first)?.code, grpc.status.DEADLINE_EXCEEDED); // still waiting for the second worker
  assert.equal(coordinator.exitCode, null);          // the coordinator is still up and waiting
});
