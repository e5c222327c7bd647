/**
 * deploy/k8s against Kubernetes' own OpenAPI schemas (test/k8s_schema.ts: kubernetes-models, the
 * Kubernetes release in KUBERNETES_SCHEMA): every object that the base and each overlay render
 * validates strictly. Then copies of the manifests, each broken in one way a person could break them
 * (a misspelt field, a field at the wrong level, a named port where the schema wants a number, a kind
 * that does not exist), must fail, naming the object and the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { renderKustomization } from './deploy_render.js';
import { checkAgainstSchemas, formatProblems, KUBERNETES_SCHEMA } from './k8s_schema.js';

const K8S = path.join(REPO_ROOT, 'deploy', 'k8s');
/** Every kustomization a user applies: the base (deploy/k8s) and each overlay. */
const VARIANTS = { base: '.', gpu: 'overlays/gpu', tls: 'overlays/tls' } as const;

for (const [variant, dir] of Object.entries(VARIANTS)) {
  test(`k8s ${variant}: every rendered object validates strictly against Kubernetes ${KUBERNETES_SCHEMA.version}'s OpenAPI schemas`, async () => {
    const objects = renderKustomization(path.join(K8S, dir));
    assert.deepEqual([...new Set(objects.map((o) => `${o.apiVersion} ${o.kind}`))].sort(),
      ['apps/v1 Deployment', 'batch/v1 Job', 'networking.k8s.io/v1 NetworkPolicy', 'v1 ConfigMap', 'v1 Namespace', 'v1 PersistentVolumeClaim', 'v1 Service']);
    const problems = await checkAgainstSchemas(objects);
    assert.equal(formatProblems(problems), '', `${dir} does not match Kubernetes ${KUBERNETES_SCHEMA.version}'s schemas`);
  });
}

/** One way to break a manifest: in `file` (under deploy/k8s), each edit's text (found exactly once) becomes its replacement. */
interface Breakage { what: string; variant: keyof typeof VARIANTS; file: string; edits: Array<[string, string]>; object: string; field: string; message: RegExp }

const BREAKAGES: Breakage[] = [
  {
    what: 'a misspelt field', variant: 'base', file: 'base/workers.yaml', edits: [['          readinessProbe:\n', '          readinesProbe:\n']],
    object: 'Job dsi/dsi-workers', field: 'spec.template.spec.containers[0].readinesProbe', message: /does not exist in type 'IContainer'/,
  },
  {
    what: 'a misspelt field in a list', variant: 'base', file: 'base/coordinator.yaml', edits: [['      targetPort: grpc\n', '      targetport: grpc\n']],
    object: 'Service dsi/dsi-coordinator', field: 'spec.ports[0].targetport', message: /does not exist in type 'IServicePort'/,
  },
  {
    what: 'a field at the wrong level (the pod\'s tolerations on the container, in the GPU overlay\'s patch)', variant: 'gpu', file: 'overlays/gpu/workers-gpu.yaml',
    edits: [['  path: /spec/template/spec/tolerations\n', '  path: /spec/template/spec/containers/0/tolerations\n']],
    object: 'Job dsi/dsi-workers', field: 'spec.template.spec.containers[0].tolerations', message: /does not exist in type 'IContainer'/,
  },
  {
    what: 'a field at the wrong level (the Deployment\'s replicas in its pod template)', variant: 'base', file: 'base/nats.yaml',
    edits: [['  replicas: 1\n', ''], ['  template:\n    metadata:\n', '  template:\n    replicas: 1\n    metadata:\n']],
    object: 'Deployment dsi/dsi-nats', field: 'spec.template.replicas', message: /does not exist in type 'IPodTemplateSpec'/,
  },
  {
    what: 'a named port where the schema wants a number (grpc probes take no port names)', variant: 'tls', file: 'base/coordinator.yaml',
    edits: [['readinessProbe:\n            grpc: { port: 50054, service: readiness }', 'readinessProbe:\n            grpc: { port: health, service: readiness }']],
    object: 'Job dsi/dsi-coordinator', field: 'spec.template.spec.containers[0].readinessProbe.grpc.port', message: /must be integer/,
  },
  {
    what: 'a value outside the enum', variant: 'base', file: 'base/workers.yaml', edits: [['  completionMode: Indexed\n', '  completionMode: Index\n']],
    object: 'Job dsi/dsi-workers', field: 'spec.completionMode', message: /must be equal to one of the allowed values/,
  },
  {
    what: 'a kind that does not exist', variant: 'base', file: 'base/pvc.yaml', edits: [['kind: PersistentVolumeClaim\n', 'kind: PersistentVolumeClain\n']],
    object: 'PersistentVolumeClain dsi/dsi-runs', field: 'apiVersion/kind', message: /is not a type of Kubernetes/,
  },
];

test('k8s schemas: a copy of the manifests broken in one place fails the check, naming the object and the field', { timeout: 120_000 }, async (t) => {
  for (const b of BREAKAGES) {
    const root = mkdtempSync(path.join(os.tmpdir(), 'dsi-k8s-broken-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    cpSync(K8S, root, { recursive: true });
    const file = path.join(root, b.file);
    let text = readFileSync(file, 'utf8');
    for (const [from, to] of b.edits) {
      assert.equal(text.split(from).length, 2, `${b.file}: '${from}' must occur once (the manifest changed: update this case)`);
      text = text.replace(from, to);
    }
    writeFileSync(file, text);
    const problems = await checkAgainstSchemas(renderKustomization(path.join(root, VARIANTS[b.variant])));
    const hit = problems.find((p) => p.object === b.object && p.field === b.field);
    assert.ok(hit, `${b.what}: no problem named ${b.object} ${b.field}; got:\n${formatProblems(problems)}`);
    assert.match(hit.message, b.message, b.what);
  }
});
