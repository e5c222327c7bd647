/**
 * Reading deploy/ without Docker or kubectl, for test/deploy.test.ts: the kustomize subset our
 * manifests use (resources, configMapGenerator, namespace, labels, images, RFC 6902 patches), the
 * Dockerfile's instructions per stage, and .dockerignore matching. Anything else in a kustomization
 * is an error here, so the tests never check a rendering that differs from kubectl's; where kubectl
 * exists a test compares the two.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'labels', 'resources', 'configMapGenerator', 'images', 'patches']);
const CLUSTER_SCOPED = new Set(['Namespace', 'PersistentVolume', 'ClusterRole', 'ClusterRoleBinding', 'StorageClass']);

function asRecord(v: unknown, where: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected a mapping`);
  return v as Record<string, unknown>;
}

/** Every document of a YAML file, failing on a parse error with the file's name. */
export function readYamlDocs(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v: unknown = d.toJSON();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function asObject(v: unknown, where: string): K8sObject {
  const o = asRecord(v, where);
  const meta = asRecord(o['metadata'], `${where}: metadata`);
  if (typeof o['apiVersion'] !== 'string' || typeof o['kind'] !== 'string' || typeof meta['name'] !== 'string')
    throw new Error(`${where}: every object needs apiVersion, kind and metadata.name`);
  return o as unknown as K8sObject;
}

/** The objects `kubectl kustomize dir` would print, with generated names left without their hash suffix. */
export function renderKustomization(dir: string): K8sObject[] {
  const file = path.join(dir, 'kustomization.yaml');
  const k = asRecord(parseYaml(readFileSync(file, 'utf8')), file);
  for (const key of Object.keys(k)) if (!KUSTOMIZATION_FIELDS.has(key)) throw new Error(`${file}: field '${key}' is not understood by this renderer`);
  const objects: K8sObject[] = [];
  for (const r of (k['resources'] ?? []) as string[]) {
    const p = path.join(dir, r);
    if (statSync(p).isDirectory()) objects.push(...renderKustomization(p));
    else objects.push(...readYamlDocs(p).map((d, i) => asObject(d, `${p} document ${i + 1}`)));
  }
  for (const g of (k['configMapGenerator'] ?? []) as Array<{ name: string; files: string[] }>) {
    const data: Record<string, string> = {};
    for (const f of g.files) data[path.basename(f)] = readFileSync(path.join(dir, f), 'utf8');
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data });
  }
  for (const p of (k['patches'] ?? []) as Array<{ path: string; target: { group?: string; version: string; kind: string; name: string } }>) {
    const ops = parseYaml(readFileSync(path.join(dir, p.path), 'utf8')) as unknown;
    if (!Array.isArray(ops)) throw new Error(`${path.join(dir, p.path)}: only RFC 6902 (list) patches are understood by this renderer`);
    const apiVersion = p.target.group ? `${p.target.group}/${p.target.version}` : p.target.version;
    const targets = objects.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name && o.apiVersion === apiVersion);
    if (targets.length !== 1) throw new Error(`${file}: patch ${p.path} matches ${targets.length} objects`);
    for (const op of ops as Array<{ op: string; path: string; value: unknown }>) applyJsonPatch(targets[0] as K8sObject, op, `${p.path}`);
  }
  const ns = k['namespace'];
  if (typeof ns === 'string') for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = ns;
  for (const l of (k['labels'] ?? []) as Array<{ pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }>) {
    if (l.includeSelectors || l.includeTemplates) throw new Error(`${file}: labels with includeSelectors/includeTemplates are not understood by this renderer`);
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
  }
  for (const img of (k['images'] ?? []) as Array<{ name: string; newName?: string; newTag?: string }>)
    for (const c of objects.flatMap(podContainers))
      if (c.image === img.name || c.image.startsWith(`${img.name}:`))
        c.image = `${img.newName ?? img.name}:${img.newTag ?? c.image.split(':')[1] ?? 'latest'}`;
  return objects;
}

/** RFC 6902 `add` and `replace` (the operations our overlays use), JSON pointer with ~0/~1 escapes. */
function applyJsonPatch(target: K8sObject, op: { op: string; path: string; value: unknown }, where: string): void {
  if (op.op !== 'add' && op.op !== 'replace') throw new Error(`${where}: op '${op.op}' is not understood by this renderer`);
  const tokens = op.path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = tokens.pop();
  let node: unknown = target;
  for (const t of tokens) {
    node = Array.isArray(node) ? node[Number(t)] : (node as Record<string, unknown> | undefined)?.[t];
    if (node === undefined) throw new Error(`${where}: ${op.path}: '${t}' does not exist`);
  }
  if (last === undefined) throw new Error(`${where}: empty path`);
  const value = structuredClone(op.value);
  if (Array.isArray(node)) {
    if (last === '-') node.push(value);
    else if (op.op === 'add') node.splice(Number(last), 0, value);
    else node[Number(last)] = value;
  } else (node as Record<string, unknown>)[last] = value;
}

export interface EnvVar { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }
export interface Container {
  name: string; image: string; args?: string[]; command?: string[]; env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
export interface PodSpec {
  containers: Container[]; restartPolicy?: string;
  volumes?: Array<{
    name: string; configMap?: { name: string }; persistentVolumeClaim?: { claimName: string };
    secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
  }>;
  tolerations?: unknown[];
}
export interface PodTemplate { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec }

/** The pod template of a Deployment, StatefulSet or Job; undefined for other kinds. */
export function podTemplate(o: K8sObject): PodTemplate | undefined {
  if (!['Deployment', 'StatefulSet', 'Job'].includes(o.kind)) return undefined;
  return (o['spec'] as { template: PodTemplate }).template;
}

function podContainers(o: K8sObject): Container[] {
  return podTemplate(o)?.spec.containers ?? [];
}

export interface DockerInstruction { op: string; args: string; line: number }
export interface DockerStage { from: string; name?: string; instructions: DockerInstruction[] }

/** The Dockerfile's stages, each with its instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(file: string): DockerStage[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const stages: DockerStage[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i] ?? '';
    if (/^\s*(#|$)/.test(text)) continue;
    while (text.endsWith('\\')) text = text.slice(0, -1) + ' ' + (lines[++i] ?? '').replace(/^\s*#.*$/, '');
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(text);
    if (!m) throw new Error(`${file}:${start + 1}: cannot read '${text}'`);
    const op = (m[1] as string).toUpperCase(), args = (m[2] as string).trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`${file}:${start + 1}: cannot read FROM '${args}'`);
      stages.push({ from: f[1] as string, ...(f[2] ? { name: f[2] } : {}), instructions: [] });
    } else if (op === 'ARG' && stages.length === 0) continue;   // ARG before the first FROM
    else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${file}:${start + 1}: ${op} before FROM`);
      stage.instructions.push({ op, args, line: start + 1 });
    }
  }
  return stages;
}

/** COPY's flags, sources and destination (exec form `["a", "b"]` or plain words). */
export function copyParts(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v] = (words.shift() as string).slice(2).split('=');
    flags[k as string] = v ?? '';
  }
  const dest = words.pop();
  if (!dest || words.length === 0) throw new Error(`COPY ${args}: needs a source and a destination`);
  return { flags, sources: words, dest };
}

/**
 * Whether Docker leaves `rel` (a path in the build context) out: the last pattern that matches the
 * path or one of its parent folders decides, `!` patterns re-include (moby/patternmatcher).
 */
export function dockerIgnored(rel: string, patterns: string[]): boolean {
  const parts = rel.split('/');
  let ignored = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const re = globToRegExp((neg ? raw.slice(1) : raw).replace(/^\/+/, ''));
    let hit = false;
    for (let n = parts.length; n >= 1 && !hit; n--) hit = re.test(parts.slice(0, n).join('/'));
    if (hit) ignored = !neg;
  }
  return ignored;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (glob.startsWith('**/', i)) { re += '(?:.*/)?'; i += 2; }
    else if (glob.startsWith('**', i)) { re += '.*'; i += 1; }
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The patterns of a .dockerignore file (comments and blank lines dropped). */
export function readDockerignore(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** The final stage's WORKDIR (where the repository root lands in the image). */
export function imageWorkdir(dockerfile: string): string {
  return parseDockerfile(dockerfile).at(-1)?.instructions.filter((i) => i.op === 'WORKDIR').at(-1)?.args ?? '/';
}

/**
 * The final stage's `ln -s TARGET /usr/local/bin/NAME` lines: executable name -> the same file under
 * `root` (the repository root stands for the image's WORKDIR).
 */
export function imageExecutables(dockerfile: string, root: string): Map<string, string> {
  const workdir = imageWorkdir(dockerfile);
  const out = new Map<string, string>();
  for (const i of (parseDockerfile(dockerfile).at(-1)?.instructions ?? []).filter((x) => x.op === 'RUN'))
    for (const m of i.args.matchAll(/ln -s (\S+) \/usr\/local\/bin\/(\S+)/g))
      out.set(m[2] as string, path.join(root, path.relative(workdir, m[1] as string)));
  return out;
}
