/**
 * The secrets and certificates a run's processes share, read from files named by the `security.*`
 * config (in Kubernetes: Secrets mounted as files). Tokens never go into logs or error messages.
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';

/** A token shorter than this is guessable; 16 characters of base64 are 96 bits. */
export const MIN_TOKEN_CHARS = 16;
/** Tokens are lines in a file, not documents. */
export const MAX_TOKEN_CHARS = 4096;
/** Bytes of a membership or ring secret (256 bits). */
export const SECRET_BYTES = 32;

/** The token in `file` (surrounding white space dropped); ConfigError naming `field` and the file, never the content. */
export function readToken(file: string, field: string): string {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError(field, `cannot read ${file}: ${(e as Error).message}`, { cause: e }); }
  const token = text.trim();
  if (token.length < MIN_TOKEN_CHARS) throw new ConfigError(field, `${file} holds ${token.length} characters; a token needs at least ${MIN_TOKEN_CHARS} (e.g. openssl rand -base64 32 > ${file})`);
  if (token.length > MAX_TOKEN_CHARS) throw new ConfigError(field, `${file} holds ${token.length} characters, more than ${MAX_TOKEN_CHARS}: is it the right file?`);
  return token;
}

/** The token of `file`, or undefined when no file is configured. */
export function optionalToken(file: string, field: string): string | undefined {
  return file ? readToken(file, field) : undefined;
}

/**
 * a === b in time that depends on neither's content: both are hashed first, so even their lengths
 * stay hidden, then compared with timingSafeEqual.
 */
export function tokensEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** Equal secrets (bytes) in constant time; a wrong length is simply unequal. */
export function secretsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.byteLength > 0 && timingSafeEqual(a, b);
}

export function newSecret(): Buffer {
  return randomBytes(SECRET_BYTES);
}

/** PEM material for mutual TLS: this process's certificate and key, and the CA its peers must chain to. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  /** Name to check in servers' certificates instead of the host dialled; undefined: the host. */
  serverName?: string;
}

/** The TLS files of `security`, read; undefined when none is set; ConfigError when only some are. */
export function loadTls(s: Config['security']): TlsMaterial | undefined {
  const files = { 'security.tlsCert': s.tlsCert, 'security.tlsKey': s.tlsKey, 'security.tlsCa': s.tlsCa };
  const given = Object.entries(files).filter(([, f]) => f !== '');
  if (given.length === 0) return undefined;
  if (given.length < 3) {
    const missing = Object.entries(files).filter(([, f]) => f === '').map(([k]) => k);
    throw new ConfigError(missing[0] ?? 'security', `mutual TLS needs --tls-cert, --tls-key and --tls-ca together; missing ${missing.join(', ')}`);
  }
  const read = (field: string, file: string): Buffer => {
    try { return readFileSync(file); } catch (e) { throw new ConfigError(field, `cannot read ${file}: ${(e as Error).message}`, { cause: e }); }
  };
  return {
    cert: read('security.tlsCert', s.tlsCert), key: read('security.tlsKey', s.tlsKey), ca: read('security.tlsCa', s.tlsCa),
    ...(s.tlsServerName ? { serverName: s.tlsServerName } : {}),
  };
}

/** gRPC channel credentials for a server listening with mutual TLS (grpc_listen.ts), or plaintext. */
export function channelCredentials(tls: TlsMaterial | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
}

/** Channel options that go with channelCredentials(): the name checked in the server's certificate. */
export function channelOptions(tls: TlsMaterial | undefined): grpc.ChannelOptions {
  return tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {};
}

/** Hosts a coordinator may bind without a join token: only this machine can reach them. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
