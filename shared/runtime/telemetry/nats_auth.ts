/**
 * How a process authenticates to the run's NATS server, from its own config (never from the run
 * plan: credentials stay with the process that was given them): a credentials file (NKey/JWT), or
 * a user and a password file; and TLS, with the --tls-* files (a client certificate for servers
 * that verify them) and --tls-server-name (the name in the server's certificate, as for gRPC).
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, type ConnectionOptions, type TlsOptions } from 'nats';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { readToken } from '../security.js';

/** The auth and TLS part of nats.js's connection options (empty: an open server). */
export type NatsAuth = Pick<ConnectionOptions, 'user' | 'pass' | 'authenticator' | 'tls'>;

export function natsAuth(t: Config['telemetry'], s: Config['security']): NatsAuth {
  if (t.natsCredsFile && t.natsUser) throw new ConfigError('telemetry.natsCredsFile', 'give either --nats-creds-file or --nats-user, not both');
  if (t.natsUser && !t.natsPasswordFile) throw new ConfigError('telemetry.natsPasswordFile', '--nats-user needs --nats-password-file');
  const auth: NatsAuth = {};
  if (t.natsCredsFile) {
    let creds: Buffer;
    try { creds = readFileSync(t.natsCredsFile); } catch (e) { throw new ConfigError('telemetry.natsCredsFile', `cannot read ${t.natsCredsFile}: ${(e as Error).message}`, { cause: e }); }
    auth.authenticator = credsAuthenticator(new Uint8Array(creds));
  }
  if (t.natsUser) { auth.user = t.natsUser; auth.pass = readToken(t.natsPasswordFile, 'telemetry.natsPasswordFile'); }
  if (t.natsTls) {
    if (!s.tlsCa) throw new ConfigError('telemetry.natsTls', '--nats-tls needs --tls-ca (and --tls-cert/--tls-key for a server that verifies clients)');
    // nats.js hands its tls options to node:tls, so servername checks --tls-server-name instead of the host dialled
    const tls: TlsOptions & { servername?: string } = {
      caFile: s.tlsCa, ...(s.tlsCert ? { certFile: s.tlsCert } : {}), ...(s.tlsKey ? { keyFile: s.tlsKey } : {}), ...(s.tlsServerName ? { servername: s.tlsServerName } : {}),
    };
    auth.tls = tls;
  }
  return auth;
}
