/**
 * The one place the .proto contracts are loaded (the only `loadSync` of the system). The options
 * below are exactly the flags proto/gen/ was generated with, so runtime objects match the types.
 *
 * Regenerate proto/gen/ after editing a .proto with `npm run gen:proto` (the command below), and commit the result:
 *
 *   rm -rf proto/gen && node_modules/.bin/proto-loader-gen-types --longs=String --enums=String --defaults --oneofs --includeComments --grpcLib=@grpc/grpc-js --importFileExtension=.js -I proto -O proto/gen dsi/v1/collective.proto dsi/v1/coordinator.proto
 *
 * (keepCase is off in both: fields are camelCase. int64 would arrive as a string: the protos use
 * uint32 for counters and double for byte sizes and rates.)
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType as CollectiveProto } from '../../proto/gen/collective.js';
import type { ProtoGrpcType as CoordinatorProto } from '../../proto/gen/coordinator.js';

/** Proto files relative to the proto root, as passed to proto-loader-gen-types. */
export const PROTO_FILES: readonly string[] = ['dsi/v1/collective.proto', 'dsi/v1/coordinator.proto'];

/** Equal to the generator flags above; change both together. */
export const LOAD_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const satisfies protoLoader.Options;

/** Folders above this file searched for `proto/` (source: shared/runtime/, build: dist/shared/runtime/). */
const MAX_PARENT_LEVELS = 5;

export interface LoadedProtos {
  /** Raw definition: service definitions with their (de)serializers, keyed 'dsi.v1.Collective'... */
  definition: protoLoader.PackageDefinition;
  /** Typed view: constructors of clients and `service` definitions (`grpc.dsi.v1.Collective.service`). */
  grpc: CollectiveProto & CoordinatorProto;
  /** Folder the .proto files were read from. */
  root: string;
}

/** The folder holding `dsi/v1/*.proto`, found by walking up from this module (works from dist/ too). */
export function findProtoRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i <= MAX_PARENT_LEVELS; i++) {
    const candidate = path.join(dir, 'proto');
    if (existsSync(path.join(candidate, PROTO_FILES[0] ?? ''))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find proto/${PROTO_FILES[0] ?? ''} within ${MAX_PARENT_LEVELS} folders above ${from}`);
}

/** Loads every contract once; callers keep the result and pass it on (no module-level cache). */
export function loadProtos(root: string = findProtoRoot()): LoadedProtos {
  const definition = protoLoader.loadSync([...PROTO_FILES], { ...LOAD_OPTIONS, includeDirs: [root] });
  // grpc-js returns an untyped object tree; the generated ProtoGrpcType describes exactly this tree.
  const typed = grpc.loadPackageDefinition(definition) as unknown as CollectiveProto & CoordinatorProto;
  return { definition, grpc: typed, root };
}
