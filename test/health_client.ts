/** A grpc.health.v1 client for the tests (the proto that grpc-health-check ships, loaded with @grpc/grpc-js). */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';

export type Status = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
export interface HealthClient extends grpc.Client {
  check(req: { service: string }, cb: (e: grpc.ServiceError | null, r?: { status: Status }) => void): void;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: Status }>;
}
const Health = (grpc.loadPackageDefinition(loadSync(protoPath, { enums: String, defaults: true })) as unknown as
  { grpc: { health: { v1: { Health: new (address: string, creds: grpc.ChannelCredentials) => HealthClient } } } }).grpc.health.v1.Health;

/** A client of the health service at `address`; plaintext (as the kubelet's probe) unless `creds`. */
export function healthClient(address: string, creds = grpc.credentials.createInsecure()): HealthClient {
  return new Health(address, creds);
}

/** One Check, as the kubelet's gRPC probe makes it: the status of `service`. */
export function check(client: HealthClient, service: string): Promise<Status> {
  return new Promise((resolve, reject) => client.check({ service }, (e, r) => (e ? reject(e) : resolve(r?.status ?? 'UNKNOWN'))));
}

/** Every status a Watch on `service` reports, consecutive repeats dropped, until the server goes away. */
export function watch(client: HealthClient, service: string): { statuses: Status[]; ended: Promise<void> } {
  const statuses: Status[] = [];
  const call = client.watch({ service });
  call.on('data', (r: { status: Status }) => { if (statuses.at(-1) !== r.status) statuses.push(r.status); });
  const ended = new Promise<void>((resolve) => { call.on('error', () => resolve()); call.on('end', () => resolve()); });
  return { statuses, ended };
}
