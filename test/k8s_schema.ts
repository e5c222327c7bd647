/**
 * Kubernetes objects checked against Kubernetes' own OpenAPI schemas, strictly, without a cluster
 * or kubectl: the `kubernetes-models` package (KUBERNETES_SCHEMA names its version) is generated
 * from the official OpenAPI spec of that Kubernetes release, as two things this module uses:
 *   - a JSON-schema validator per kind (ajv, compiled from the spec): types, required fields, enums,
 *     formats (a named port where the schema wants a number fails, as the API server would refuse it);
 *   - a TypeScript interface per definition. The OpenAPI spec does not forbid unknown properties
 *     (the API server drops them, or refuses them when the client asks for fieldValidation=Strict, as
 *     kubectl does by default), so the validator alone would pass a misspelt field. Each object is therefore also
 *     type-checked as an object literal of its kind's interface, where TypeScript's excess-property
 *     check refuses any field the schema does not have at that level: a misspelt field, or a field
 *     at the wrong level.
 * Every problem names the object (kind, name) and the field's path.
 */
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import type { K8sObject } from './deploy_render.js';

/**
 * The Kubernetes release whose OpenAPI spec kubernetes-models (package.json, devDependencies) was
 * generated from: its changelog's 5.0.0 entry says "Update to Kubernetes v1.36.0"; 5.1.0 names no other.
 */
export const KUBERNETES_SCHEMA = { version: '1.36', package: 'kubernetes-models 5.1.0' } as const;

/** One schema violation: which object, which field, what is wrong. */
export interface SchemaProblem { object: string; field: string; message: string }

export function describeObject(o: K8sObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** kubernetes-models' module of an apiVersion/kind: v1 -> v1/Kind, GROUP/VERSION -> GROUP/VERSION/Kind. */
function modelModule(o: K8sObject): string {
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(o.apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(o.kind))
    throw new Error(`${describeObject(o)}: apiVersion '${o.apiVersion}' / kind '${o.kind}' is not a Kubernetes type name`);
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

interface ValidationErrorLike { errors?: Array<{ instancePath: string; message?: string }> }

/** The JSON-schema check of one object (types, required, enums, formats). */
async function validateAgainstSchema(o: K8sObject): Promise<SchemaProblem[]> {
  const object = describeObject(o);
  let Model: new (data: unknown) => { validate(): void };
  const unknown: SchemaProblem = { object, field: 'apiVersion/kind', message: `${o.apiVersion} ${o.kind} is not a type of Kubernetes ${KUBERNETES_SCHEMA.version}` };
  try {
    const mod = (await import(modelModule(o))) as Record<string, new (data: unknown) => { validate(): void }>;
    Model = mod[o.kind] as typeof Model;
    if (!Model) return [unknown];
  } catch (e) {
    // the package has no module for it; anything else (a broken install) is not the manifest's fault
    if (['ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_MODULE_NOT_FOUND'].includes((e as { code?: string }).code ?? '')) return [unknown];
    throw e;
  }
  try {
    new Model(structuredClone(o)).validate();
    return [];
  } catch (e) {
    const errors = (e as ValidationErrorLike).errors;
    if (!errors) throw e;
    // /spec/ports/0/name -> spec.ports[0].name, as the type check names fields (JSON pointer escapes undone)
    const field = (pointer: string): string => pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((t, i) => (/^\d+$/.test(t) ? `[${t}]` : i ? `.${t}` : t)).join('');
    return errors.map((x) => ({ object, field: field(x.instancePath) || '(object)', message: x.message ?? 'invalid' }));
  }
}

/**
 * TypeScript source declaring each object as a constant of its kind's interface, and the field path
 * of every property name's offset in it (to name the field of a diagnostic).
 */
function literalSource(objects: K8sObject[]): { text: string; starts: number[]; fields: Map<number, string> } {
  const fields = new Map<number, string>();
  const starts: number[] = [];
  let text = '';
  const emit = (v: unknown, at: string): void => {
    if (Array.isArray(v)) {
      text += '[';
      v.forEach((x, i) => { if (i) text += ', '; emit(x, `${at}[${i}]`); });
      text += ']';
    } else if (v !== null && typeof v === 'object') {
      text += '{';
      Object.entries(v).forEach(([k, x], i) => {
        if (i) text += ',';
        text += '\n';
        const field = at ? `${at}.${k}` : k;
        fields.set(text.length, field);
        text += `${JSON.stringify(k)}: `;
        emit(x, field);
      });
      text += '}';
    } else text += JSON.stringify(v) ?? 'undefined';
  };
  objects.forEach((o, i) => {
    text += `import type { I${o.kind} as T${i} } from ${JSON.stringify(modelModule(o))};\n`;
    starts.push(text.length);
    text += `export const o${i}: T${i} = `;
    emit(o, '');
    text += ';\n';
  });
  return { text, starts, fields };
}

/** TypeScript's "Object literal may only specify known properties" (with and without "Did you mean"). */
const EXCESS_PROPERTY_CODES = new Set([2353, 2561]);

interface TypeProblem extends SchemaProblem { index: number; excess: boolean }

/** The excess-property (and type) check of every object, in one TypeScript program. */
function typeCheck(objects: K8sObject[]): TypeProblem[] {
  const { text, starts, fields } = literalSource(objects);
  // a file that does not exist, in the repository so that node_modules resolves as for the tests
  const file = path.join(REPO_ROOT, 'test', '__k8s_schema_check__.mts');
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => name === file ? ts.createSourceFile(name, text, lang, true) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const offsets = [...fields.keys()].sort((a, b) => a - b);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== file || d.start === undefined) return { object: '(schema check)', field: '', message, index: -1, excess: false };
    // the object the diagnostic falls in, and the nearest property name at or before it: the field it is about
    const start = d.start;
    const index = starts.filter((s) => s <= start).length - 1;
    const at = offsets.filter((o) => o <= start && o >= (starts[index] ?? 0)).at(-1);
    const o = objects[index];
    return {
      object: o ? describeObject(o) : '(schema check)', field: (at !== undefined ? fields.get(at) : undefined) ?? '(object)', message,
      index, excess: EXCESS_PROPERTY_CODES.has(d.code),
    };
  });
}

/** Every problem of `objects` against Kubernetes' schemas: the JSON-schema check, then unknown or misplaced fields. */
export async function checkAgainstSchemas(objects: K8sObject[]): Promise<SchemaProblem[]> {
  const problems: SchemaProblem[] = [];
  for (const o of objects) problems.push(...await validateAgainstSchema(o));
  // a type that does not exist has no interface to check against: its import is the problem, already said
  const known = objects.filter((o) => !problems.some((p) => p.object === describeObject(o) && p.field === 'apiVersion/kind'));
  // TypeScript names one excess property per failing literal and may leave out a sibling's: check again
  // without the fields it named until it names none, so that every unknown field is reported at once
  const copies = known.map((o) => structuredClone(o));
  const said = new Set<string>();
  for (let round = 0; round < 50; round++) {
    const found = typeCheck(copies);
    for (const p of found) {
      const key = formatProblems([p]);
      if (!said.has(key)) { said.add(key); problems.push({ object: p.object, field: p.field, message: p.message }); }
    }
    const excess = found.filter((p) => p.excess && copies[p.index]);
    if (excess.length === 0) break;
    for (const p of excess) deleteField(copies[p.index] as K8sObject, p.field);
  }
  return problems;
}

/** Removes the field at `field` (a.b[0].c) from `o`. */
function deleteField(o: K8sObject, field: string): void {
  const steps = field.split(/\.|(?=\[)/).map((t) => (t.startsWith('[') ? Number(t.slice(1, -1)) : t));
  const last = steps.pop();
  let node: unknown = o;
  for (const t of steps) node = (node as Record<string | number, unknown> | undefined)?.[t];
  if (node && typeof node === 'object' && last !== undefined) delete (node as Record<string | number, unknown>)[last];
}

export function formatProblems(problems: SchemaProblem[]): string {
  return problems.map((p) => `${p.object}: ${p.field}: ${p.message}`).join('\n');
}
