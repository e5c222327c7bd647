/**
 * A resume takes the checkpoint's own configuration: a trajectory setting given otherwise fails
 * naming the key and both values, unless --override KEY (then recorded with its step in config.json
 * and the checkpoints after it); worker count, transport and telemetry change freely.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../shared/runtime/config.js';
import { ConfigError } from '../shared/runtime/errors.js';
import { resumedConfig, trajectoryKeys, type CheckpointSettings } from '../shared/training/resume_config.js';
import { cli } from './run_cli.js';

function checkpointOf(args: string[], step = 40): CheckpointSettings {
  const runConfig = { ...loadConfig({ args, env: {} }), cluster_state: { runId: 'r', lossScale: 1, losses: [] }, world_size: 2 };
  return { runConfig, dataDir: '/data/prepared/x', step, dir: '/runs/a/checkpoints/step-00000040' };
}

const resume = (ck: CheckpointSettings, args: string[]): ReturnType<typeof resumedConfig> => resumedConfig(ck, { args, env: {} });

test('resume without flags takes the checkpoint\'s trajectory settings, not the defaults; free settings come from the command line', () => {
  const ck = checkpointOf(['--batch-size', '12', '--seed', '7', '--lr', '3e-4', '--prune', '0.5', '--workers', '4', '--transport', 'grpc']);
  const { cfg, changes } = resume(ck, ['--workers', '3', '--no-nats']);
  assert.deepEqual(changes, []);
  assert.equal(cfg.train.batchSize, 12);
  assert.equal(cfg.runtime.seed, 7);
  assert.equal(cfg.train.learningRate, 3e-4);
  assert.equal(cfg.prune.final, 0.5);
  assert.equal(cfg.cluster.workers, 3);                 // free: the new command line's
  assert.equal(cfg.cluster.transport, 'tcp');           // free: the default again, not the checkpoint's grpc
  assert.equal(cfg.telemetry.nats, false);
  // the same value given again is no conflict
  assert.equal(resume(ck, ['--batch-size', '12', '--seed', '7']).cfg.train.batchSize, 12);
});

test('a conflicting --batch-size, --seed, --data or --mode fails naming the key, its flag and both values', () => {
  const ck = checkpointOf(['--batch-size', '12', '--data', '/data/prepared/x']);
  const cases: Array<[string[], RegExp]> = [
    [['--batch-size', '24'], /train\.batchSize \(--batch-size\) is 12 in the checkpoint at step 40, 24 here/],
    [['--seed', '5'], /runtime\.seed \(--seed\) is 42 in the checkpoint at step 40, 5 here/],
    [['--data', '/data/other'], /data\.dir \(--data\) is "\/data\/prepared\/x" in the checkpoint at step 40, "\/data\/other" here/],
    [['--mode', 'qlora'], /train\.mode \(--mode\) is "full" in the checkpoint at step 40, "qlora" here \(fixed by the checkpoint's weights\)/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => resume(ck, args), (e: unknown) => e instanceof ConfigError && message.test(e.message), args.join(' '));
  }
  // env counts as given, like a flag
  assert.throws(() => resumedConfig(ck, { args: [], env: { DSI_BATCH_SIZE: '36' } }), /train\.batchSize .* 12 in the checkpoint at step 40, 36 here/);
  // several conflicts are named together
  assert.throws(() => resume(ck, ['--batch-size', '24', '--lr', '5e-4']), /train\.batchSize .*; train\.learningRate \(--lr\) is 0\.001 in the checkpoint at step 40, 0\.0005 here/);
});

test('--override KEY (key or flag) changes the setting and records it with its step; the history carries over; the model cannot be overridden', () => {
  const ck = checkpointOf(['--batch-size', '12', '--data', '/data/prepared/x']);
  const r = resume(ck, ['--batch-size', '24', '--seed', '5', '--data', '/data/other', '--override', 'batch-size', '--override=runtime.seed', '--override', 'data']);
  assert.equal(r.cfg.train.batchSize, 24);
  assert.equal(r.cfg.runtime.seed, 5);
  assert.equal(r.cfg.data.dir, '/data/other');
  const recorded = [
    { key: 'runtime.seed', from: 42, to: 5, step: 40 }, { key: 'data.dir', from: '/data/prepared/x', to: '/data/other', step: 40 },
    { key: 'train.batchSize', from: 12, to: 24, step: 40 },
  ];
  assert.deepEqual(r.changes, recorded);
  assert.deepEqual(r.cfg.run.overrides, recorded);
  // a later resume of that run keeps the history and adds its own
  const later: CheckpointSettings = { runConfig: JSON.parse(JSON.stringify(r.cfg)) as Config, dataDir: '/data/other', step: 60, dir: '/runs/a/checkpoints/step-00000060' };
  const again = resume(later, ['--lr', '1e-4', '--override', 'lr']);
  assert.equal(again.cfg.train.batchSize, 24);
  assert.deepEqual(again.cfg.run.overrides, [...recorded, { key: 'train.learningRate', from: 1e-3, to: 1e-4, step: 60 }]);
  assert.throws(() => resume(ck, ['--mode', 'lora', '--override', 'mode']), /config 'train\.mode': cannot be overridden on resume/);
  assert.throws(() => resume(ck, ['--override', 'no-such-setting']), /config 'override': 'no-such-setting' is not a setting/);
});

test('train.steps is checked only where it moves the schedule (decay, or the pruning end at 3/4 of the run), and recorded without --override', () => {
  assert.ok(!trajectoryKeys(checkpointOf(['--decay', 'constant']).runConfig).includes('train.steps'));
  assert.ok(trajectoryKeys(checkpointOf([]).runConfig).includes('train.steps'), 'the default schedule decays over the last steps');
  assert.ok(trajectoryKeys(checkpointOf(['--decay', 'cosine']).runConfig).includes('train.steps'));
  assert.ok(trajectoryKeys(checkpointOf(['--prune', '0.5']).runConfig).includes('train.steps'));
  assert.ok(!trajectoryKeys(checkpointOf(['--decay', 'constant', '--prune', '0.5', '--prune-end', '30']).runConfig).includes('train.steps'));
  const constant = resume(checkpointOf(['--decay', 'constant']), ['--steps', '90']);
  assert.deepEqual([constant.cfg.train.steps, constant.changes], [90, []]);
  const longer = resume(checkpointOf(['--decay', 'linear', '--steps', '80']), ['--steps', '90']);
  assert.equal(longer.cfg.train.steps, 90);
  assert.deepEqual(longer.cfg.run.overrides, [{ key: 'train.steps', from: 80, to: 90, step: 40 }]);
});

test('coordinator start --resume: conflicting flags exit 2 naming key and values; --override resumes and config.json records the change', { timeout: 300_000 }, async (t) => {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'dsi-resume-cfg-'));
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const common = ['start', '--run-dir', runDir, '--metrics-port', '-1', '--no-nats', '--no-timeline', '--max-queries', '2', '--json'];
  const first = await cli([...common, '--steps', '4', '--batch-size', '8', '--checkpoint-every', '2']);
  assert.equal(first.code, 0, first.stderr);
  for (const [args, message] of [
    [['--batch-size', '16'], /train\.batchSize \(--batch-size\) is 8 in the checkpoint at step 4, 16 here/],
    [['--seed', '9'], /runtime\.seed \(--seed\) is 42 in the checkpoint at step 4, 9 here/],
    [['--data', path.join(runDir, 'elsewhere')], /data\.dir \(--data\) is '' \(empty\) in the checkpoint at step 4, ".*elsewhere" here/],
    [['--mode', 'qlora'], /train\.mode \(--mode\) is "full" in the checkpoint at step 4, "qlora" here/],
  ] as Array<[string[], RegExp]>) {
    const r = await cli([...common, '--steps', '6', '--resume', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const config = JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8')) as Config;
  assert.equal(config.train.batchSize, 8, 'a refused resume leaves the run\'s config.json alone');
  // with --override: 2 workers (free) and batch 16 from step 4 on
  const r = await cli([...common, '--steps', '6', '--resume', '--workers', '2', '--batch-size', '16', '--override', 'batch-size', '--log-level', 'warn']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { start_step: number; steps: number; world_size: number; checkpoint: string };
  assert.deepEqual([s.start_step, s.steps, s.world_size], [4, 6, 2]);
  assert.match(r.stderr, /"key":"train.batchSize","from":8,"to":16,"step":4,"msg":"resume: setting changed against the checkpoint \(--override\)"/);
  const after = JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8')) as Config;
  assert.equal(after.train.batchSize, 16);
  // the longer run (--steps 4 -> 6 moves the default schedule's decay) is recorded without --override
  assert.deepEqual(after.run.overrides, [{ key: 'train.batchSize', from: 8, to: 16, step: 4 }, { key: 'train.steps', from: 4, to: 6, step: 4 }]);
  const state = JSON.parse(readFileSync(path.join(s.checkpoint, 'trainer_state.json'), 'utf8')) as { run_config: Config };
  assert.deepEqual(state.run_config.run.overrides, after.run.overrides);
  assert.equal(state.run_config.train.batchSize, 16);
});
