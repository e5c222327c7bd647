/**
 * The layout's import rules (README, "Layout"), read from the sources: every relative import of
 * every product .ts file under coordinator/, worker/ and shared/ (static, `export ... from`,
 * side-effect and dynamic `import('...')`), resolved to the file it names, then checked.
 *   - shared/ is four layers: runtime, model, dataset, training.
 *   - model imports neither training nor dataset nor telemetry; dataset imports neither model nor
 *     training; runtime imports nothing else of shared/.
 *   - worker/collective/ imports neither shared/training/ nor shared/model/.
 *   - coordinator and worker never import each other; nothing in shared/ imports either.
 *   - nothing outside coordinator/bench/ imports from it except the CLI's dispatch; benchmarks may
 *     import any layer.
 * And the loops a reader most needs stay readable: no function in coordinator/ or worker/
 * (coordinator/bench/ aside) is longer than MAX_FUNCTION_LINES.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../shared/runtime/paths.js';

/** One import of a product file: `file` (repo-relative) wrote `spec`, which names `target`. */
export interface ImportEdge { file: string; spec: string; target: string }

const PRODUCT_ROOTS = ['coordinator', 'worker', 'shared'];
const SHARED_LAYERS = ['runtime', 'model', 'dataset', 'training'];
/** The CLI's dispatch: the one file outside coordinator/bench/ that may import a benchmark. */
const BENCH_DISPATCH = 'coordinator/commands/bench.ts';
/** npm packages that are telemetry (the model may not import them either). */
const TELEMETRY_PACKAGES = ['nats', 'prom-client'];

const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir + '/');
const isTelemetry = (p: string): boolean =>
  under(p, 'shared/runtime/telemetry') || under(p, 'coordinator/telemetry') || TELEMETRY_PACKAGES.includes(p);

/** Every import specifier of a TypeScript source, comments and strings excluded. */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** Repo-relative path a specifier names: relative ones resolved (`.js` -> `.ts`), packages as written. */
function resolve(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
}

/** The rule an import breaks, or undefined. */
function brokenRule(from: string, to: string): string | undefined {
  if (under(from, 'shared')) {
    const layer = from.split('/')[1] ?? '';
    if (!SHARED_LAYERS.includes(layer)) return `shared/ holds only the layers ${SHARED_LAYERS.join(', ')}`;
    if (under(to, 'coordinator') || under(to, 'worker')) return 'nothing in shared/ imports coordinator/ or worker/';
    if (layer === 'runtime' && under(to, 'shared') && !under(to, 'shared/runtime')) return 'runtime imports nothing else of shared/';
    if (layer === 'model' && (under(to, 'shared/training') || under(to, 'shared/dataset') || isTelemetry(to)))
      return 'model imports neither training nor dataset nor telemetry';
    if (layer === 'dataset' && (under(to, 'shared/model') || under(to, 'shared/training'))) return 'dataset imports neither model nor training';
  }
  if (under(from, 'worker/collective') && (under(to, 'shared/training') || under(to, 'shared/model')))
    return 'worker/collective/ imports neither shared/training/ nor shared/model/';
  if (under(from, 'worker') && under(to, 'coordinator')) return 'worker never imports coordinator/';
  if (under(to, 'coordinator/bench') && !under(from, 'coordinator/bench') && from !== BENCH_DISPATCH)
    return `nothing outside coordinator/bench/ imports from it except ${BENCH_DISPATCH}`;
  if (under(from, 'coordinator') && !under(from, 'coordinator/bench') && under(to, 'worker'))
    return 'coordinator never imports worker/ (benchmarks aside)';
  return undefined;
}

/** One line per import that breaks a rule: the file, what it imports, and the rule. */
export function checkLayers(edges: ImportEdge[]): string[] {
  return edges.flatMap((e) => {
    const rule = brokenRule(e.file, e.target);
    return rule === undefined ? [] : [`${e.file} imports '${e.spec}' (${e.target}): ${rule}`];
  });
}

function productFiles(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir)).flatMap((n) => {
    const rel = `${dir}/${n}`;
    if (statSync(path.join(REPO_ROOT, rel)).isDirectory()) return productFiles(rel);
    return rel.endsWith('.ts') && !rel.endsWith('.d.ts') ? [rel] : [];
  });
}

function productEdges(): ImportEdge[] {
  return PRODUCT_ROOTS.flatMap(productFiles).flatMap((file) =>
    importSpecifiers(readFileSync(path.join(REPO_ROOT, file), 'utf8')).map((spec) => ({ file, spec, target: resolve(file, spec) })));
}

test('layers: every import of the product follows the layout rules', () => {
  const edges = productEdges();
  const files = new Set(edges.map((e) => e.file));
  assert.ok(files.size > 100, `read the imports of ${files.size} files; the product has more than 100`);
  const unresolved = edges.filter((e) => e.spec.startsWith('.') && !existsSync(path.join(REPO_ROOT, e.target)));
  assert.deepEqual(unresolved.map((e) => `${e.file}: '${e.spec}'`), [], 'every relative import names a file');
  // the reader sees all import forms: a static one, the CLI's dynamic dispatch, and the bench dispatch
  const has = (file: string, target: string): boolean => edges.some((e) => e.file === file && e.target === target);
  assert.ok(has('coordinator/cli.ts', 'coordinator/commands/start.ts'), "the dynamic import('./commands/start.js') is read");
  assert.ok(has(BENCH_DISPATCH, 'coordinator/bench/model.ts'), 'the bench dispatch import is read');
  const broken = checkLayers(edges);
  assert.deepEqual(broken, [], `imports that break the layout rules:\n${broken.join('\n')}`);
});

test('layers: the checker names the file and the import of each kind of violation', () => {
  const edge = (file: string, spec: string): ImportEdge => ({ file, spec, target: resolve(file, spec) });
  const bad = [
    edge('shared/model/peft.ts', '../training/pruning.js'),
    edge('shared/model/t5.ts', '../dataset/tokenizer.js'),
    edge('shared/model/t5.ts', '../runtime/telemetry/events.js'),
    edge('shared/model/t5.ts', 'nats'),
    edge('shared/dataset/format.ts', '../model/config.js'),
    edge('shared/dataset/format.ts', '../training/batches.js'),
    edge('shared/runtime/config.ts', '../model/config.js'),
    edge('shared/pipeline/bm25.ts', '../runtime/errors.js'),
    edge('shared/training/trainer.ts', '../../worker/worker_process.js'),
    edge('worker/collective/ring.ts', '../../shared/training/adamw.js'),
    edge('worker/collective/ring.ts', '../../shared/model/params.js'),
    edge('worker/cli.ts', '../coordinator/cli.js'),
    edge('coordinator/cluster/membership.ts', '../../worker/collective/wire.js'),
    edge('coordinator/commands/start.ts', '../bench/model.js'),
    edge('worker/worker_process.ts', '../coordinator/bench/ring_cluster.js'),
  ];
  const found = checkLayers(bad);
  assert.equal(found.length, bad.length, `one report per violation:\n${found.join('\n')}`);
  for (const [i, e] of bad.entries()) assert.ok(found[i]?.startsWith(`${e.file} imports '${e.spec}'`), `report names the file and import: ${found[i]}`);
  assert.match(found[0] ?? '', /model imports neither training nor dataset nor telemetry/);
  assert.match(found[12] ?? '', /coordinator never imports worker/);
  const allowed = [
    edge('shared/model/t5.ts', '../runtime/config.js'),
    edge('shared/training/setup.ts', '../model/params.js'),
    edge('shared/training/dsi_retrieval.ts', '../dataset/retrieval/metrics.js'),
    edge('worker/collective/ring.ts', '../../shared/runtime/log.js'),
    edge('coordinator/bench/allreduce.ts', '../../worker/collective/ring.js'),
    edge(BENCH_DISPATCH, '../bench/model.js'),
    edge('coordinator/cluster/membership.ts', '../../shared/runtime/wire_dtypes.js'),
  ];
  assert.deepEqual(checkLayers(allowed), []);
});

test('layers: the reader finds static, re-export, side-effect and dynamic imports, and skips comments', () => {
  const src = [
    "import a from './a.js';",
    "import type {\n  B,\n} from '../b.js';",
    "export { c } from './c.js';",
    "import './d.js';",
    "const e = await import('./e.js');",
    "// import f from './f.js';",
    "const g = 'import h from \"./h.js\"';",
  ].join('\n');
  assert.deepEqual(importSpecifiers(src), ['./a.js', '../b.js', './c.js', './d.js', './e.js']);
});

/** Longest function or method allowed in coordinator/ and worker/ (coordinator/bench/ aside): about a page. */
export const MAX_FUNCTION_LINES = 80;

/** One function of a source: its name (Class.method, the variable or property it is assigned to) and lines. */
export interface FunctionLength { name: string; line: number; lines: number }

/** Every function, method, constructor, accessor and arrow function of a TypeScript source, with its length in lines. */
export function functionLengths(file: string, source: string): FunctionLength[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found: FunctionLength[] = [];
  const lineOf = (pos: number): number => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const nameOf = (node: ts.Node): string => {
    const own = (n: ts.Node): string | undefined =>
      (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isGetAccessor(n) || ts.isSetAccessor(n) || ts.isFunctionExpression(n)) && n.name
        ? n.name.getText(sf) : ts.isConstructorDeclaration(n) ? 'constructor' : undefined;
    const p = node.parent;
    const assigned = ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) ? p.name.getText(sf) : undefined;
    const base = own(node) ?? assigned ?? `<anonymous at line ${lineOf(node.getStart(sf))}>`;
    let c: ts.Node | undefined = node.parent;
    while (c && !ts.isClassLike(c)) c = c.parent;
    return c?.name ? `${c.name.getText(sf)}.${base}` : base;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = lineOf(node.getStart(sf)), end = lineOf(node.getEnd());
      found.push({ name: nameOf(node), line: start, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** One line per function over `max` lines: file, function, its length. */
export function checkFunctionLengths(file: string, source: string, max = MAX_FUNCTION_LINES): string[] {
  return functionLengths(file, source).filter((f) => f.lines > max)
    .map((f) => `${file}:${f.line}: ${f.name} is ${f.lines} lines, over ${max}`);
}

test('function length: no function in coordinator/ or worker/ (coordinator/bench/ aside) is over about a page', () => {
  const files = ['coordinator', 'worker'].flatMap(productFiles).filter((f) => !under(f, 'coordinator/bench'));
  assert.ok(files.length > 30, `read ${files.length} files of coordinator/ and worker/`);
  const long = files.flatMap((f) => checkFunctionLengths(f, readFileSync(path.join(REPO_ROOT, f), 'utf8')));
  assert.deepEqual(long, [], `functions over ${MAX_FUNCTION_LINES} lines:\n${long.join('\n')}`);
});

test('function length: the checker measures functions, methods, arrows and constructors, and names the long one', () => {
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');
  const src = [
    `export function short(): void {\n${body(3)}\n}`,                       // 5 lines
    `export async function tooLong(): Promise<void> {\n${body(80)}\n}`,     // 82 lines
    `class Worker {\n  constructor() {\n${body(2)}\n  }\n  private obey(): void {\n${body(81)}\n  }\n}`,
    `const handler = async (): Promise<void> => {\n${body(79)}\n};`,        // 81 lines
    `const ok = (): void => {\n${body(78)}\n};`,                            // 80 lines: at the limit
  ].join('\n');
  const lengths = functionLengths('x.ts', src);
  assert.deepEqual(lengths.map((f) => [f.name, f.lines]),
    [['short', 5], ['tooLong', 82], ['Worker.constructor', 4], ['Worker.obey', 83], ['handler', 81], ['ok', 80]]);
  assert.deepEqual(checkFunctionLengths('x.ts', src), [
    'x.ts:6: tooLong is 82 lines, over 80',
    'x.ts:93: Worker.obey is 83 lines, over 80',
    'x.ts:177: handler is 81 lines, over 80',
  ]);
});
