/**
 * deploy/Dockerfile. No Docker engine runs here (`docker` is only a client), so the image is never
 * built in the tests. What is checked instead: every file it copies exists and survives its
 * .dockerignore; everything tsc compiles reaches the build stage; every path below the repository
 * root that the code reads at run time ships in the runtime stage; Vulkan's loader, a numeric
 * non-root user, tini and our executables are there; and the image's file tree, assembled from the
 * Dockerfile's own COPY lines (npm ci replaced by a link to this checkout's node_modules), compiles
 * and trains a short run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import {
  copyParts, dockerIgnored, imageExecutables, imageWorkdir, parseDockerfile, podTemplate, readDockerignore, renderKustomization,
  type DockerStage,
} from './deploy_render.js';

const run = promisify(execFile);
const DOCKERFILE = path.join(REPO_ROOT, 'deploy', 'Dockerfile');
const K8S = path.join(REPO_ROOT, 'deploy', 'k8s');

/** Files below `p` (or `p` itself). */
function walk(p: string): string[] {
  return statSync(p).isDirectory() ? readdirSync(p).flatMap((n) => walk(path.join(p, n))) : [p];
}

test('Dockerfile: copies files that exist and survive its .dockerignore, builds every source folder, ships what runs read, runs our executables', async () => {
  const stages = parseDockerfile(DOCKERFILE);
  const ignore = readDockerignore(`${DOCKERFILE}.dockerignore`);
  assert.ok(stages.every((s) => /^(\$\{NODE_IMAGE\}|node:20-bookworm-slim)$/.test(s.from)), 'every stage from node:20-bookworm-slim');
  assert.match(readFileSync(DOCKERFILE, 'utf8'), /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  const [build, final] = [stages[0], stages.at(-1)];
  assert.ok(build && final && stages.length >= 2, 'multi-stage');
  const local = (s: DockerStage) => s.instructions.filter((i) => i.op === 'COPY').map((i) => copyParts(i.args)).filter((c) => !c.flags['from']);
  for (const s of stages)
    for (const c of local(s))
      for (const src of c.sources) {
        const abs = path.join(REPO_ROOT, src);
        assert.ok(existsSync(abs), `COPY ${src}: not in the repository`);
        for (const f of walk(abs)) {
          const rel = path.relative(REPO_ROOT, f);
          if (!rel.endsWith('.log')) assert.ok(!dockerIgnored(rel, ignore), `COPY ${src}: ${rel} is excluded by the .dockerignore`);
        }
      }
  // everything tsc compiles (but the tests) reaches the build stage
  const include = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] }).include.map((g) => g.split('/')[0] as string);
  const built = new Set(local(build).flatMap((c) => c.sources));
  for (const d of include.filter((d) => d !== 'test')) assert.ok(built.has(d), `the build stage does not copy ${d}/`);
  assert.ok(build.instructions.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args)) && build.instructions.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)));
  // files the code reads from the repository root at run time are in the runtime stage
  const shipped = [...local(final).map((c) => c.dest.replace(/^\.\//, '').replace(/\/$/, '')),
    ...final.instructions.filter((i) => i.op === 'COPY' && i.args.includes('--from=')).map((i) => copyParts(i.args).dest.replace(/^\.\//, '').replace(/\/$/, ''))];
  const sources = ['coordinator', 'shared', 'worker'].flatMap((d) => {
    return walk(path.join(REPO_ROOT, d)).filter((f) => f.endsWith('.ts'));
  });
  let reads = 0;
  for (const f of sources)
    for (const m of readFileSync(f, 'utf8').matchAll(/join\(REPO_ROOT((?:,\s*'[^']+')+)/g)) {
      const rel = [...(m[1] as string).matchAll(/'([^']+)'/g)].map((x) => x[1]).join('/');
      reads++;
      if (rel.startsWith('runs')) continue;   // the run volume
      assert.ok(shipped.some((s) => rel === s || rel.startsWith(`${s}/`)), `${path.relative(REPO_ROOT, f)} reads ${rel}, which the image does not ship`);
    }
  assert.ok(reads >= 5, `found only ${reads} reads below REPO_ROOT: the scan is broken`);
  // a GPU through Vulkan, a non-root user, tini as PID 1, our executables
  const runs = final.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  assert.match(runs, /apt-get install[^\n]*\blibvulkan1\b/);
  assert.match(final.instructions.filter((i) => i.op === 'ENV').map((i) => i.args).join(' '), /NVIDIA_DRIVER_CAPABILITIES=\S*\bgraphics\b/);
  const user = final.instructions.filter((i) => i.op === 'USER').at(-1)?.args ?? '0';
  assert.match(user, /^[1-9]\d*(:\d+)?$/, 'a numeric non-root USER (runAsNonRoot checks it)');
  const bins = imageExecutables(DOCKERFILE, REPO_ROOT);
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.deepEqual(Object.fromEntries(bins), Object.fromEntries(Object.entries(pkg.bin).map(([k, v]) => [k, path.join(REPO_ROOT, v)])));
  const exec = (op: string): string[] => JSON.parse(final.instructions.filter((i) => i.op === op).at(-1)?.args ?? '[]') as string[];
  assert.deepEqual(exec('ENTRYPOINT'), ['/usr/bin/tini', '--']);
  const [cmd, ...cmdArgs] = exec('CMD');
  const file = bins.get(cmd ?? '');
  assert.ok(file, `CMD ${cmd} is not one of the image's executables`);
  const r = await run(process.execPath, [file, ...cmdArgs], { cwd: REPO_ROOT });
  assert.match(r.stdout, /usage: coordinator <command>/);
  for (const o of renderKustomization(K8S))
    for (const c of podTemplate(o)?.spec.containers ?? [])
      if (c.image.startsWith('dsi-cluster')) assert.ok(bins.has(c.args?.[0] ?? ''), `${c.name}: args[0] ${c.args?.[0]} is not an executable of the image`);
});

/**
 * Lays out each stage's WORKDIR as the Dockerfile's COPY lines fill it. Of the RUN lines only two
 * are stood in for: `npm ci` (a link to this checkout's node_modules, as no registry is used here)
 * and `npm run build` (tsc in the stage's folder); the rest (apt-get, prune, chmod, links) are not run.
 */
async function assembleImage(into: string): Promise<string> {
  const stages = parseDockerfile(DOCKERFILE);
  const roots = new Map<string, { root: string; workdir: string }>();
  let last = '';
  for (const [i, s] of stages.entries()) {
    const root = path.join(into, s.name ?? `stage-${i}`);
    mkdirSync(root, { recursive: true });
    let workdir = '/';
    for (const ins of s.instructions) {
      if (ins.op === 'WORKDIR') workdir = ins.args;
      else if (ins.op === 'COPY') {
        const c = copyParts(ins.args);
        const from = c.flags['from'] ? roots.get(c.flags['from']) : undefined;
        if (c.flags['from'] && !from) assert.fail(`Dockerfile:${ins.line}: COPY --from=${c.flags['from']} names no earlier stage`);
        for (const src of c.sources) {
          const abs = from ? path.join(from.root, path.relative(from.workdir, src)) : path.join(REPO_ROOT, src);
          assert.ok(existsSync(abs), `Dockerfile:${ins.line}: COPY ${src}: not there`);
          const destDir = c.dest.endsWith('/') || c.sources.length > 1;
          const dest = path.join(root, path.relative(workdir, path.resolve(workdir, c.dest)), destDir ? path.basename(src) : '');
          if (path.basename(abs) === 'node_modules') symlinkSync(path.join(REPO_ROOT, 'node_modules'), dest);   // never copied or pruned: it is this checkout's
          else cpSync(abs, dest, { recursive: true });
        }
      } else if (ins.op === 'RUN' && /\bnpm ci\b/.test(ins.args)) symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
      else if (ins.op === 'RUN' && /\bnpm run build\b/.test(ins.args))
        await run(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root });
    }
    roots.set(s.name ?? String(i), { root, workdir });
    last = root;
  }
  return last;
}

test('the image\'s file tree, assembled from the Dockerfile\'s COPY lines, compiles and trains a run with its own worker process', { timeout: 600_000 }, async (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dsi-image-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const app = await assembleImage(tmp);
  assert.ok(!existsSync(path.join(app, 'test')) && !existsSync(path.join(app, 'dist', 'test')), 'the tests do not belong in the image');
  const coordinator = imageExecutables(DOCKERFILE, app).get('coordinator');
  assert.ok(coordinator && existsSync(coordinator), `no coordinator executable in the assembled image (${coordinator})`);
  // from outside the tree, as the container's entrypoint runs it: data, proto, tokenizer and the
  // worker executable are found from the image's own root; the sample is prepared into its runs/
  const r = await run(process.execPath, [coordinator, 'start', '--workers', '1', '--steps', '2', '--batch-size', '8', '--max-queries', '2',
    '--no-nats', '--json', '--log-level', 'warn'], { cwd: tmp, maxBuffer: 64 << 20 });
  const summary = JSON.parse(r.stdout) as { steps: number; data_dir: string; run_dir: string; workers: unknown[]; eval?: { queries: number } };
  assert.equal(summary.steps, 2);
  assert.equal(summary.workers.length, 1);
  assert.equal(summary.eval?.queries, 2);
  assert.ok(summary.data_dir.startsWith(path.join(app, 'runs', 'prepared')), `dataset prepared into ${summary.data_dir}`);
  assert.ok(summary.run_dir.startsWith(path.join(app, 'runs')), `run written to ${summary.run_dir}`);
  assert.equal(imageWorkdir(DOCKERFILE), '/app');
});
