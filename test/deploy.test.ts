/**
 * deploy/k8s: the Kubernetes manifests. No cluster exists here, so what can be checked is checked:
 * every manifest parses, Services select pods and ports, container flags and DSI_* variables load
 * through the config schema; and a rehearsal runs the manifests' own coordinator and worker command
 * lines as local processes through a whole run, a SIGTERM and the Jobs' retry, with only the
 * cluster's addresses and paths substituted; its readiness probes are made as the kubelet makes them.
 * The image: test/deploy_image.test.ts; Kubernetes' own schemas: test/deploy_schema.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { describeConfig, loadConfig, type Config } from '../shared/runtime/config.js';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { freePort, NatsServer } from '../shared/runtime/telemetry/nats_server.js';
import { randomBytes } from 'node:crypto';
import { cli, LogWatcher } from './run_cli.js';
import { check, healthClient } from './health_client.js';
import {
  imageExecutables, imageWorkdir, podTemplate, readYamlDocs, renderKustomization, type Container, type EnvVar, type K8sObject,
} from './deploy_render.js';

const run = promisify(execFile);
const DEPLOY = path.join(REPO_ROOT, 'deploy');
const K8S = path.join(DEPLOY, 'k8s');
const DOCKERFILE = path.join(DEPLOY, 'Dockerfile');
const VARIANTS = { base: K8S, gpu: path.join(K8S, 'overlays', 'gpu'), tls: path.join(K8S, 'overlays', 'tls') } as const;

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `no ${kind} ${name} in the manifests`);
  return o;
}

function container(o: K8sObject, name: string): Container {
  const c = podTemplate(o)?.spec.containers.find((x) => x.name === name);
  assert.ok(c, `${o.kind} ${o.metadata.name} has no container ${name}`);
  return c;
}

/**
 * The kubelet's native gRPC probes (`grpc: {port, service}`) on the process's plaintext health port:
 * readiness asks "readiness", liveness "liveness" (shared/runtime/health.ts), the port is a number,
 * the health port the process binds, and a named container port.
 */
function assertHealthProbes(c: Container, healthPort: number): void {
  assert.ok(healthPort > 0, `${c.name}: no --health-port: the kubelet's gRPC probe cannot present the client certificate TLS would ask for`);
  assert.equal(port(c, 'health'), healthPort);
  for (const [probe, service] of [['readinessProbe', 'readiness'], ['livenessProbe', 'liveness']] as const) {
    const p = (c as unknown as Record<string, { grpc?: { port: unknown; service?: string } } | undefined>)[probe];
    assert.deepEqual(p?.grpc, { port: healthPort, service }, `${c.name}: ${probe} must be a gRPC probe of service ${service} on port ${healthPort}`);
  }
}

function port(c: Container, name: string): number {
  const p = c.ports?.find((x) => x.name === name);
  assert.ok(p, `container ${c.name} has no port named ${name}`);
  return p.containerPort;
}

/** Where the pod runs in the rehearsal: the downward API's values, and folders for the volumes. */
interface PodWorld { podIp: string; completionIndex: number; mounts: Map<string, string> }

/** The container's environment as the kubelet sets it (fieldRefs resolved from `world`). */
function containerEnv(c: Container, world: PodWorld): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? [] as EnvVar[]) {
    const ref = e.valueFrom?.fieldRef?.fieldPath;
    if (ref === 'status.podIP') env[e.name] = world.podIp;
    else if (ref === "metadata.annotations['batch.kubernetes.io/job-completion-index']") env[e.name] = String(world.completionIndex);
    else if (ref !== undefined) assert.fail(`${c.name}: env ${e.name} reads ${ref}, which this test cannot stand in for`);
    else env[e.name] = mapPaths(e.value ?? '', world);   // a path into a volume (a Secret's file) as mounted
  }
  return env;
}

/** The container's args with $(VAR) expanded from its env and volume paths mapped, as in the pod. */
function containerArgs(c: Container, env: Record<string, string>, world: PodWorld): string[] {
  assert.equal(c.command, undefined, `${c.name}: command would replace the image's ENTRYPOINT (tini); set args`);
  return (c.args ?? []).map((a) => mapPaths(a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m), world));
}

function mapPaths(s: string, world: PodWorld): string {
  // longest mount first: /etc/dsi-secrets is not /etc/dsi + "-secrets"
  for (const [from, to] of [...world.mounts].sort((a, b) => b[0].length - a[0].length)) s = s.split(from).join(to);
  return s;
}

/**
 * Stand-ins for the Secret the operator creates (deploy/README.md), one value per key for the whole
 * test process, so every pod that mounts a key reads the same token.
 */
const SECRET_VALUES = new Map<string, string>();
function secretValue(key: string): string {
  if (!SECRET_VALUES.has(key)) SECRET_VALUES.set(key, randomBytes(24).toString('base64'));
  return SECRET_VALUES.get(key) as string;
}

/** Writes each volume the container mounts (ConfigMap files, Secret items, an empty folder for a claim) under `root`. */
function mountVolumes(o: K8sObject, c: Container, objects: K8sObject[], root: string): Map<string, string> {
  const mounts = new Map<string, string>();
  const volumes = podTemplate(o)?.spec.volumes ?? [];
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.find((x) => x.name === m.name);
    assert.ok(v, `${c.name}: mount ${m.name} names no volume`);
    const dir = path.join(root, m.name);
    mkdirSync(dir, { recursive: true });
    if (v.configMap) {
      const cm = find(objects, 'ConfigMap', v.configMap.name);
      for (const [file, text] of Object.entries(cm['data'] as Record<string, string>)) writeFileSync(path.join(dir, file), text);
    } else if (v.secret) {
      assert.ok(v.secret.items?.length, `${c.name}: volume ${v.name} must list the Secret's items it needs (a pod gets only its own)`);
      for (const item of v.secret.items) writeFileSync(path.join(dir, item.path), secretValue(item.key));
    } else if (v.persistentVolumeClaim) find(objects, 'PersistentVolumeClaim', v.persistentVolumeClaim.claimName);
    else assert.fail(`${c.name}: volume ${v.name} is neither a ConfigMap, a Secret nor a claim`);
    mounts.set(m.mountPath, dir);
  }
  // files mounted from a ConfigMap may name the other volumes' paths (run.dir): map those too
  for (const dir of mounts.values())
    for (const f of readdirSync(dir)) writeFileSync(path.join(dir, f), mapPaths(readFileSync(path.join(dir, f), 'utf8'), { podIp: '', completionIndex: 0, mounts }));
  return mounts;
}

/** The config a container's command line resolves to; `skip` words (the executable, the command) first. */
function containerConfig(c: Container, skip: number, world: PodWorld): Readonly<Config> {
  const env = containerEnv(c, world);
  return loadConfig({ args: containerArgs(c, env, world).slice(skip), env });
}

/** DSI_* variables the schema reads, as `--help` lists them; DSI_CONFIG names the config file. */
function schemaEnvNames(): Set<string> {
  return new Set(['DSI_CONFIG', ...[...describeConfig().matchAll(/\(env (DSI_[A-Z0-9_]+)\)/g)].map((m) => m[1] as string)]);
}

for (const [variant, dir] of Object.entries(VARIANTS)) {
  test(`k8s ${variant}: Services select pods and name their ports; containers' flags, env and ports agree with the config schema`, () => {
    const objects = renderKustomization(dir);
    for (const o of objects) assert.match(o.apiVersion, /^(v1|apps\/v1|batch\/v1|networking\.k8s\.io\/v1)$/, `${o.kind} ${o.metadata.name}: apiVersion ${o.apiVersion}`);
    const workloads = objects.filter((o) => podTemplate(o));
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const spec = svc['spec'] as { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> };
      const pods = workloads.filter((w) => Object.entries(spec.selector).every(([k, v]) => podTemplate(w)?.metadata?.labels?.[k] === v));
      assert.equal(pods.length, 1, `Service ${svc.metadata.name} selects ${pods.length} workloads`);
      const named = (podTemplate(pods[0] as K8sObject)?.spec.containers ?? []).flatMap((c) => c.ports ?? []);
      for (const p of spec.ports) assert.ok(named.some((n) => n.name === p.targetPort || n.containerPort === p.targetPort), `Service ${svc.metadata.name}: targetPort ${p.targetPort} is no container port`);
    }
    const envNames = schemaEnvNames();
    for (const c of workloads.flatMap((w) => podTemplate(w)?.spec.containers ?? [])) {
      assert.ok(c.resources?.requests?.['cpu'] && c.resources.requests['memory'], `${c.name}: no cpu/memory requests`);
      for (const e of c.env ?? []) if (e.name.startsWith('DSI_')) assert.ok(envNames.has(e.name), `${c.name}: env ${e.name} is not in the config schema`);
    }
    const world = (i = 0): PodWorld => ({ podIp: '10.1.2.3', completionIndex: i, mounts: new Map() });

    // the coordinator: ports and /metrics as the Service, the container and Prometheus' annotations say
    const coordJob = find(objects, 'Job', 'dsi-coordinator');
    const coord = container(coordJob, 'coordinator');
    assert.deepEqual(coord.args?.slice(0, 2), ['coordinator', 'start']);
    const root = mkdtempSync(path.join(os.tmpdir(), 'dsi-deploy-'));
    try {
      const cw = { ...world(), mounts: mountVolumes(coordJob, coord, objects, path.join(root, 'coordinator')) };
      const cc = containerConfig(coord, 2, cw);
      assert.equal(cc.cluster.spawn, false, 'the coordinator must wait for the worker pods, not start its own');
      assert.equal(cc.cluster.host, '0.0.0.0');
      assert.equal(cc.cluster.port, port(coord, 'grpc'));
      assert.equal(cc.telemetry.metricsHost, '0.0.0.0', '/metrics on 127.0.0.1 cannot be scraped');
      assert.equal(cc.telemetry.metricsPort, port(coord, 'metrics'));
      assertHealthProbes(coord, cc.cluster.healthPort);
      const ann = podTemplate(coordJob)?.metadata?.annotations ?? {};
      assert.equal(ann['prometheus.io/scrape'], 'true');
      assert.equal(Number(ann['prometheus.io/port']), cc.telemetry.metricsPort);
      assert.equal(ann['prometheus.io/path'], '/metrics');
      assert.ok(coord.args?.includes('--resume=auto'), 'a restarted coordinator pod must continue the run');
      assert.notEqual(cc.run.interruptedExitCode, 0, 'SIGTERM must not end the Job as succeeded');
      const runsMount = coord.volumeMounts?.find((m) => podTemplate(coordJob)?.spec.volumes?.find((v) => v.name === m.name)?.persistentVolumeClaim);
      assert.ok(runsMount && cc.run.dir.startsWith(cw.mounts.get(runsMount.mountPath) ?? '?'), `run.dir ${cc.run.dir} is not on the shared volume`);
      // the sample is prepared into <image WORKDIR>/runs/prepared and workers read it from there
      assert.equal(runsMount.mountPath, `${imageWorkdir(DOCKERFILE)}/runs`);
      const failRules = (coordJob['spec'] as { podFailurePolicy: { rules: Array<{ action: string; onExitCodes?: { values: number[] } }> } }).podFailurePolicy.rules;
      assert.ok(!failRules.some((r) => r.action === 'FailJob' && r.onExitCodes?.values.includes(cc.run.interruptedExitCode)), 'the interrupted exit code must be retried');
      assert.equal(podTemplate(coordJob)?.spec.restartPolicy, 'Never');

      // the workers: as many as the run expects, joining through the Service, reachable at their pod IP
      const workJob = find(objects, 'Job', 'dsi-workers');
      const spec = workJob['spec'] as { completionMode: string; completions: number; parallelism: number };
      const worker = container(workJob, 'worker');
      assert.equal(worker.args?.[0], 'worker');
      const ww = { ...world(1), mounts: mountVolumes(workJob, worker, objects, path.join(root, 'worker')) };
      const wc = containerConfig(worker, 1, ww);
      assert.equal(spec.completionMode, 'Indexed');
      assert.equal(spec.completions, cc.cluster.workers, 'worker pods != cluster.workers: the coordinator would wait for ever');
      assert.equal(spec.parallelism, cc.cluster.workers);
      assert.equal(wc.cluster.advertiseHost, '10.1.2.3', 'workers must advertise their pod IP');
      assert.equal(wc.cluster.workerHost, '0.0.0.0');
      assertHealthProbes(worker, wc.cluster.healthPort);
      assert.deepEqual([wc.model, wc.train.mode, wc.lora], [cc.model, cc.train.mode, cc.lora], 'workers must build the coordinator\'s model');
      assert.equal(wc.run.interruptedExitCode, cc.run.interruptedExitCode, 'workers stopped early must exit as the coordinator does, for their Job to rerun them');
      assert.equal(podTemplate(workJob)?.spec.restartPolicy, 'OnFailure');
      assert.ok(containerArgs(worker, containerEnv(worker, ww), ww).includes('worker-1'), 'worker id from the completion index');
      const [host, svcPort] = wc.cluster.coordinator.split(':');
      const svc = find(objects, 'Service', host as string)['spec'] as { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string }> };
      assert.deepEqual(svc.selector, podTemplate(coordJob)?.metadata?.labels);
      assert.equal(port(coord, svc.ports.find((p) => p.port === Number(svcPort))?.targetPort ?? '?'), cc.cluster.port);

      // NATS: the URL the coordinator hands the workers reaches nats-server -js through its Service
      const nats = new URL(cc.telemetry.natsUrl);
      const natsSvc = find(objects, 'Service', nats.hostname)['spec'] as { ports: Array<{ port: number; targetPort: string }> };
      const natsC = container(find(objects, 'Deployment', nats.hostname), 'nats');
      const target = port(natsC, natsSvc.ports.find((p) => p.port === Number(nats.port))?.targetPort ?? '?');
      assert.ok(natsC.args?.includes('-js'), 'run events need JetStream');
      assert.equal(Number(natsC.args?.[(natsC.args.indexOf('-p')) + 1]), target);

      if (variant === 'gpu') {
        assert.equal(wc.runtime.backend, 'webgpu');
        assert.equal(wc.runtime.webgpuApi, 'vulkan');
        assert.equal(worker.resources?.limits?.['nvidia.com/gpu'], '1');
        assert.match(containerEnv(worker, ww)['NVIDIA_DRIVER_CAPABILITIES'] ?? '', /\bgraphics\b/, 'without graphics the Vulkan ICD is not mounted');
        assert.equal(coord.resources?.limits?.['nvidia.com/gpu'], undefined, 'the coordinator needs no GPU');
      } else assert.equal(worker.resources?.limits?.['nvidia.com/gpu'], undefined);
      if (variant === 'tls') {
        // both sides: a certificate and key of their own, the same CA, one name checked in place of pod IPs
        for (const x of [cc, wc]) assert.ok(x.security.tlsCert && x.security.tlsKey && x.security.tlsCa, 'mutual TLS needs all three files');
        assert.equal(readFileSync(cc.security.tlsCa, 'utf8'), readFileSync(wc.security.tlsCa, 'utf8'));
        assert.deepEqual([cc.security.tlsServerName, wc.security.tlsServerName], ['dsi-cluster', 'dsi-cluster']);
        // NATS: TLS from the same Secret with verified client certificates (its nats-server.conf), and both sides connect with it
        assert.deepEqual([cc.telemetry.natsTls, wc.telemetry.natsTls], [true, true]);
        const natsVolumes = podTemplate(find(objects, 'Deployment', nats.hostname))?.spec.volumes ?? [];
        const mountPathOf = (volume: string | undefined): string => {
          const m = natsC.volumeMounts?.find((x) => x.name === volume);
          assert.ok(m, `nats does not mount volume ${volume}`);
          return m.mountPath;
        };
        const secretDir = mountPathOf(natsVolumes.find((v) => v.secret?.secretName === 'dsi-tls')?.name);
        const confFile = natsC.args?.[natsC.args.indexOf('--config') + 1] ?? '';
        assert.equal(path.dirname(confFile), mountPathOf(natsVolumes.find((v) => v.configMap?.name === 'dsi-nats-tls')?.name));
        const conf = (find(objects, 'ConfigMap', 'dsi-nats-tls')['data'] as Record<string, string>)[path.basename(confFile)] ?? '';
        assert.match(conf, /^\s*verify: true$/m, 'nats-server must verify client certificates');
        for (const [key, item] of [['cert_file', 'tls.crt'], ['key_file', 'tls.key'], ['ca_file', 'ca.crt']])
          assert.match(conf, new RegExp(`^\\s*${key}: "${secretDir}/${item}"$`, 'm'), `${key} from the Secret dsi-tls`);
      } else assert.deepEqual([cc.security.tlsCert, cc.telemetry.natsTls], ['', false]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('k8s security: the token and passwords come from the Secret, every pod gets only its keys; the NetworkPolicies open each workload\'s named ports only to the run\'s pods', () => {
  const objects = renderKustomization(K8S);
  const root = mkdtempSync(path.join(os.tmpdir(), 'dsi-deploy-sec-'));
  try {
    const coordJob = find(objects, 'Job', 'dsi-coordinator'), workJob = find(objects, 'Job', 'dsi-workers');
    const coord = container(coordJob, 'coordinator'), worker = container(workJob, 'worker');
    const world = (i: number, mounts: Map<string, string>): PodWorld => ({ podIp: '10.1.2.3', completionIndex: i, mounts });
    const cm = mountVolumes(coordJob, coord, objects, path.join(root, 'c')), wm = mountVolumes(workJob, worker, objects, path.join(root, 'w'));
    const cc = containerConfig(coord, 2, world(0, cm)), wc = containerConfig(worker, 1, world(1, wm));
    // the coordinator binds 0.0.0.0: it starts only with a join token, which the workers send too
    const read = (f: string): string => readFileSync(f, 'utf8');
    assert.ok(cc.security.joinTokenFile && wc.security.joinTokenFile, 'both sides need --join-token-file');
    assert.equal(read(cc.security.joinTokenFile), read(wc.security.joinTokenFile), 'the same token on both sides');
    assert.ok(cc.security.metricsTokenFile, '/metrics on 0.0.0.0 needs its token');
    assert.ok(!wc.security.metricsTokenFile && !readdirSync(path.dirname(wc.security.joinTokenFile)).includes('metrics-token'), 'workers do not get the metrics token');
    assert.equal(read(cc.telemetry.natsPasswordFile), read(wc.telemetry.natsPasswordFile));
    const nats = container(find(objects, 'Deployment', 'dsi-nats'), 'nats');
    assert.equal(nats.args?.[(nats.args.indexOf('--user')) + 1], cc.telemetry.natsUser);
    assert.deepEqual((nats.env ?? []).find((e) => e.name === 'NATS_PASSWORD')?.valueFrom, { secretKeyRef: { name: 'dsi-secrets', key: 'nats-password' } });
    // fixed data-plane ports, as the container declares them (the NetworkPolicy names them)
    assert.equal(wc.cluster.workerPort, port(worker, 'collective'));
    assert.equal(wc.cluster.ringPort, port(worker, 'ring'));
    // each policy selects one workload and opens only ports that workload names, to selected workloads
    const workloads = objects.filter((o) => podTemplate(o));
    const selects = (sel: Record<string, string>): K8sObject[] => workloads.filter((w) => Object.entries(sel).every(([k, v]) => podTemplate(w)?.metadata?.labels?.[k] === v));
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    assert.deepEqual(policies.map((p) => p.metadata.name).sort(), ['dsi-coordinator', 'dsi-nats', 'dsi-workers']);
    const opened = new Map<string, string[]>();
    for (const p of policies) {
      const spec = p['spec'] as { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Array<{ from: Array<{ podSelector?: { matchLabels: Record<string, string> } }>; ports: Array<{ port: string }> }> };
      assert.deepEqual(spec.policyTypes, ['Ingress']);
      const [target, ...more] = selects(spec.podSelector.matchLabels);
      assert.ok(target && more.length === 0, `NetworkPolicy ${p.metadata.name} selects ${more.length + (target ? 1 : 0)} workloads`);
      const names = (podTemplate(target)?.spec.containers ?? []).flatMap((c) => (c.ports ?? []).map((x) => x.name));
      for (const rule of spec.ingress) {
        for (const x of rule.ports) assert.ok(names.includes(x.port), `NetworkPolicy ${p.metadata.name}: port ${x.port} is no named port of ${target.metadata.name}`);
        for (const f of rule.from) if (f.podSelector && !f.podSelector.matchLabels['dsi-cluster/metrics-reader']) assert.equal(selects(f.podSelector.matchLabels).length, 1, `NetworkPolicy ${p.metadata.name}: a from selector selects no workload`);
      }
      opened.set(target.metadata.name, spec.ingress.flatMap((r) => r.ports.map((x) => x.port)).sort());
    }
    assert.deepEqual(Object.fromEntries(opened), { 'dsi-coordinator': ['grpc', 'metrics'], 'dsi-workers': ['collective', 'ring'], 'dsi-nats': ['client'] });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('k8s: every YAML file under deploy/k8s parses; where kubectl exists, its kustomize output equals the rendering the tests check', async (t) => {
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n)) : [path.join(d, n)]);
  const files = walk(K8S).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 8, `only ${files.length} YAML files`);
  for (const f of files) assert.ok(readYamlDocs(f).length > 0, `${f} is empty`);
  let kubectl = true;
  try { execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' }); } catch { kubectl = false; }
  if (!kubectl) { t.skip('kubectl is not installed: the offline rendering is checked above, not compared'); return; }
  // generated ConfigMaps carry a content hash in kubectl's output; the rendering leaves it off
  const unhash = (v: unknown): unknown => typeof v === 'string' ? v.replace(/^(dsi-config)-[a-z0-9]{10}$/, '$1')
    : Array.isArray(v) ? v.map(unhash) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unhash(x)])) : v;
  const key = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;
  for (const dir of Object.values(VARIANTS)) {
    const out = (await run('kubectl', ['kustomize', dir], { maxBuffer: 16 << 20 })).stdout;
    const theirs = parseAllDocuments(out).map((d) => unhash(d.toJSON()) as K8sObject).sort((a, b) => key(a).localeCompare(key(b)));
    const ours = renderKustomization(dir).sort((a, b) => key(a).localeCompare(key(b)));
    assert.deepEqual(ours, theirs, `${path.relative(REPO_ROOT, dir)}: our rendering differs from kubectl kustomize`);
  }
});


/** A pod's process: its exit code (once it ends), stdout, and the tail of stderr for failure messages. */
interface PodProcess { child: ChildProcess; exited: Promise<number>; stdout: () => string; stderr: () => string }

test('rehearsal: the manifests\' coordinator and worker command lines train with 2 workers; SIGTERM exits for the Job to retry; the retried pods resume and finish', { timeout: 600_000 }, async (t) => {
  const objects = renderKustomization(K8S);
  const coordJob = find(objects, 'Job', 'dsi-coordinator'), workJob = find(objects, 'Job', 'dsi-workers');
  const coord = container(coordJob, 'coordinator'), worker = container(workJob, 'worker');
  const workers = (workJob['spec'] as { completions: number }).completions;
  const root = mkdtempSync(path.join(os.tmpdir(), 'dsi-rehearsal-'));
  const nats = await NatsServer.start();
  const pods: PodProcess[] = [];
  t.after(async () => {
    for (const p of pods) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await nats.close();
    rmSync(root, { recursive: true, force: true });
  });
  // what differs from the cluster: Service name:port -> 127.0.0.1 and a free port, pod IP -> 127.0.0.1,
  // volumes -> folders under `root` (one run volume shared by all pods, as the claim is)
  const local = { grpc: await freePort(), metrics: await freePort(), client: nats.port } as Record<string, number>;
  const addresses = new Map<string, string>();
  for (const svc of objects.filter((o) => o.kind === 'Service'))
    for (const p of (svc['spec'] as { ports: Array<{ port: number; targetPort: string }> }).ports)
      addresses.set(`${svc.metadata.name}:${p.port}`, `127.0.0.1:${local[p.targetPort] ?? assert.fail(`no local port for ${p.targetPort}`)}`);
  const toLocal = (s: string): string => { for (const [from, to] of addresses) s = s.split(from).join(to); return s; };
  const mounts = new Map([...mountVolumes(coordJob, coord, objects, root), ...mountVolumes(workJob, worker, objects, root)]);
  for (const f of readdirSync(mounts.get('/etc/dsi') ?? assert.fail('no /etc/dsi mount'))) {
    const file = path.join(mounts.get('/etc/dsi') as string, f);
    writeFileSync(file, toLocal(readFileSync(file, 'utf8')));
  }
  const coordHealth = await freePort();
  const ownPorts = new Map([[String(port(coord, 'grpc')), String(local['grpc'])], [String(port(coord, 'metrics')), String(local['metrics'])], [String(port(coord, 'health')), String(coordHealth)]]);
  const bins = imageExecutables(DOCKERFILE, REPO_ROOT);
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DSI_')));
  // every worker pod has its own IP and so the same fixed ports; here they share 127.0.0.1: a free port each
  const podPorts = await Promise.all(Array.from({ length: workers }, async () =>
    new Map([[String(port(worker, 'collective')), String(await freePort())], [String(port(worker, 'ring')), String(await freePort())], [String(port(worker, 'health')), String(await freePort())]])));
  const startPod = (c: Container, index: number, extra: string[], listens?: Map<string, string>): PodProcess => {
    const world: PodWorld = { podIp: '127.0.0.1', completionIndex: index, mounts };
    const env = containerEnv(c, world);
    const [exe, ...args] = containerArgs(c, env, world).map((a) => toLocal(listens?.get(a) ?? a));
    const child = spawn(process.execPath, [bins.get(exe ?? '') ?? assert.fail(`no executable ${exe}`), ...args, ...extra],
      { cwd: REPO_ROOT, env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr?.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-4000); });
    const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : -2))));
    const pod = { child, exited, stdout: () => out, stderr: () => err };
    pods.push(pod);
    return pod;
  };
  // the only changes to the run itself: a short one, progress every step, a quick evaluation
  const short = ['--steps', '5', '--log-every', '1', '--max-queries', '4'];
  const startRun = (): { coordinator: PodProcess; log: LogWatcher; workers: PodProcess[] } => {
    const coordinator = startPod(coord, 0, short, ownPorts);
    const log = new LogWatcher(coordinator.child);
    // the Job starts all pods at once: workers retry Join until the coordinator listens
    return { coordinator, log, workers: Array.from({ length: workers }, (_, i) => startPod(worker, i, [], podPorts[i])) };
  };
  const codes = (r: ReturnType<typeof startRun>) => Promise.all([r.coordinator, ...r.workers].map((p) => p.exited));
  const why = (r: ReturnType<typeof startRun>) => [r.coordinator, ...r.workers].map((p) => p.stderr()).join('\n---\n');

  // 1) first start (--resume=auto finds no checkpoint), then SIGTERM as when the pod is deleted
  const first = startRun();
  await first.log.until((l) => l.msg === 'resume=auto: no checkpoint yet, starting the run');
  const joined = await first.log.until((l) => l.msg === 'all workers joined');
  assert.equal((joined['ring'] as string[]).length, workers);
  for (const a of joined['ring'] as string[]) assert.match(a, /^127\.0\.0\.1:\d+$/, 'a worker did not advertise its pod IP');
  const metricsUrl = `http://127.0.0.1:${local['metrics']}/metrics`;
  assert.equal((await fetch(metricsUrl)).status, 401, '/metrics without the metrics token');
  const metrics = await (await fetch(metricsUrl, { headers: { authorization: `Bearer ${secretValue('metrics-token')}` } })).text();
  assert.match(metrics, new RegExp(`^dsi_run_world_size(\\{[^}]*\\})? ${workers}$`, 'm'));
  await first.log.until((l) => l.msg === 'step' && Number(l['step']) >= 2);
  // the readiness probes, as the kubelet makes them (plaintext gRPC to the health port): ready while training (every worker is in the ring once a step is done)
  const probe = (healthPort: string | undefined, service: string): Promise<string> => {
    const c = healthClient(`127.0.0.1:${healthPort}`);
    return check(c, service).finally(() => c.close());
  };
  assert.equal(await probe(String(coordHealth), 'readiness'), 'SERVING');
  for (const p of podPorts) assert.equal(await probe(p.get(String(port(worker, 'health'))), 'readiness'), 'SERVING');
  first.coordinator.child.kill('SIGTERM');
  const interrupted = (await codes(first));
  const code = loadConfig({ args: ['--config', path.join(mounts.get('/etc/dsi') as string, 'config.json'), ...(coord.args ?? []).slice(2).map((a) => ownPorts.get(a) ?? a)], env: {} }).run.interruptedExitCode;
  assert.notEqual(code, 0, 'exit 0 would end the Jobs as succeeded after a SIGTERM');
  assert.deepEqual(interrupted, Array(workers + 1).fill(code), `exit codes ${interrupted}: ${why(first)}`);
  const saved = await first.log.until((l) => l.msg === 'checkpoint written');
  // draining: not ready from the SIGTERM's last step on, so the Service stops sending workers to it
  assert.ok(first.log.lines.some((l) => l.msg === 'health' && l['status'] === 'NOT_SERVING' && l['reason'] === 'draining: interrupted'), 'no NOT_SERVING while draining');

  // 2) the Job's retry: the very same command lines continue from that checkpoint to the end
  const second = startRun();
  await second.log.until((l) => l.msg === 'resume=auto: continuing from the newest checkpoint');
  const done = await codes(second);
  assert.deepEqual(done, Array(workers + 1).fill(0), `exit codes ${done}: ${why(second)}`);
  const summary = JSON.parse(second.coordinator.stdout().trim().split('\n').at(-1) ?? '') as {
    start_step: number; steps: number; world_size: number; losses: number[]; workers: Array<{ worker_id: string }>; telemetry: { mode: string }; eval?: { queries: number };
  };
  assert.equal(summary.start_step, saved['step']);
  assert.equal(summary.steps, 5);
  assert.equal(summary.world_size, workers);
  assert.equal(summary.losses.length, 5, 'the resumed run keeps the interrupted one\'s losses');
  assert.deepEqual(summary.workers.map((w) => w.worker_id), Array.from({ length: workers }, (_, i) => `worker-${i}`));
  assert.equal(summary.telemetry.mode, 'nats');
  assert.equal(summary.eval?.queries, 4);
});

test('--resume=auto needs the run folder it would continue; another --resume value is refused by name', async () => {
  const none = await cli(['start', '--resume=auto']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /run\.dir.*--resume=auto needs --run-dir DIR/);
  const odd = await cli(['start', '--run-dir', os.tmpdir(), '--resume=latest']);
  assert.equal(odd.code, 2);
  assert.match(odd.stderr, /'latest' is not a --resume mode/);
});
