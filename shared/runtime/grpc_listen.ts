/**
 * Binds a gRPC server: plaintext through grpc-js itself, or with mutual TLS through a node:tls
 * listener of our own whose connections are handed to grpc-js (Server.createConnectionInjector).
 * grpc-js's own TLS listener drops a failed handshake with a trace line at most; this one reports
 * each (who connected, why), so that the coordinator and the workers log and count them like the
 * calls they refuse. After the handshake nothing changes: the same HTTP/2 server, the same handlers.
 */
import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import tls from 'node:tls';
import { formatHostPort } from './host_port.js';
import type { TlsMaterial } from './security.js';

/** A TLS handshake that failed: the peer's address and OpenSSL's reason (never key material). */
export interface TlsFailure {
  peer: string;
  /** A short label for counting: the error's code (ERR_SSL_...), or 'handshake' when it has none. */
  reason: string;
  message: string;
}

export interface GrpcListener {
  /** The bound port (the one asked for, or the free one picked for 0). */
  port: number;
  /** Stops accepting and drops the TLS listener's connections (grpc-js's shutdown ends the calls). */
  close(): Promise<void>;
}

export interface GrpcListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Mutual TLS: client certificates from `tls.ca` required. @default plaintext */
  tls?: TlsMaterial;
  /** A client failed the TLS handshake (wrong CA, no certificate, not TLS at all). */
  onTlsFailure?: (f: TlsFailure) => void;
  /** A client that has not finished its handshake in this long is dropped. @default HANDSHAKE_TIMEOUT_MS */
  handshakeTimeoutMs?: number;
}

/** As node:tls's default: a port scanner or a stuck client holds a socket no longer than this. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Codes are labels in /metrics: a bounded, recognisable set, or 'handshake'. */
function reasonOf(code: unknown): string {
  return typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : 'handshake';
}

/**
 * Options of a node:tls server for mutual TLS whose failures are seen. The client's certificate is
 * checked by `unverified` once the handshake is done, not by OpenSSL during it
 * (rejectUnauthorized: false): a server that rejects during the handshake only sees the client
 * hang up (TLS 1.3 verifies the client's certificate after the client's last flight), with
 * neither the reason nor, by then, the address.
 */
export function mutualTlsServerOptions(m: TlsMaterial, handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS): tls.TlsOptions {
  return { key: m.key, cert: m.cert, ca: m.ca, requestCert: true, rejectUnauthorized: false, handshakeTimeout: handshakeTimeoutMs };
}

/**
 * Screens a mutualTlsServerOptions() server's connections: `accept` gets each one whose client
 * certificate checks out; every other (a failed handshake, no certificate, one another CA signed) is
 * destroyed before a byte of it is read and reported to `refuse`. Shared by the gRPC listener below
 * and the ring's raw-TCP listener (worker/collective/tcp_relay_server.ts).
 */
export function screenMutualTls(server: tls.Server, accept: (socket: tls.TLSSocket) => void, refuse: (f: TlsFailure) => void): void {
  server.on('connection', rememberPeer);
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const refused = unverified(socket);
    if (!refused) { accept(socket); return; }
    socket.destroy();
    refuse(refused);
  });
  server.on('tlsClientError', (e: Error & { code?: unknown }, socket: tls.TLSSocket) => refuse(handshakeFailure(e, socket)));
}

/**
 * Why a connection that finished the handshake of a mutualTlsServerOptions() server must be
 * dropped (no certificate, or one the CA did not sign), or undefined when its certificate checks out.
 */
function unverified(socket: tls.TLSSocket): TlsFailure | undefined {
  if (socket.authorized) return undefined;
  if (Object.keys(socket.getPeerCertificate()).length === 0) return { peer: peerOf(socket), reason: 'NO_CLIENT_CERTIFICATE', message: 'the client sent no certificate' };
  const reason = reasonOf(socket.authorizationError);
  return { peer: peerOf(socket), reason, message: `client certificate refused: ${reason}` };
}

/** A failed handshake, as a TlsFailure. */
function handshakeFailure(e: Error & { code?: unknown }, socket: tls.TLSSocket): TlsFailure {
  // a client that does not trust this server's certificate just hangs up
  const message = e.code === 'ECONNRESET' ? 'the client hung up during the handshake (does it trust this server\'s CA and name?)' : e.message.slice(0, 512);
  return { peer: peerOf(socket), reason: reasonOf(e.code), message };
}

/**
 * host:port of the client. A TLS socket whose client hung up mid-handshake has lost its address by
 * the time tlsClientError reports it; the plain socket under it (node's `_parent`, not a public
 * field: '?' if it ever goes) still has it if rememberPeer() read it on 'connection'.
 */
/** For a tls.Server's 'connection': reading the address once makes the socket keep it after it closes. */
function rememberPeer(raw: net.Socket): void {
  void raw.remoteAddress;
}

function peerOf(socket: net.Socket): string {
  const s = socket.remoteAddress === undefined ? (socket as net.Socket & { _parent?: net.Socket })._parent ?? socket : socket;
  return `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
}

export async function listenGrpc(server: grpc.Server, o: GrpcListenOptions): Promise<GrpcListener> {
  const host = o.host.replace(/^\[(.*)\]$/, '$1');   // [::1] as grpc-js takes it, ::1 as node:net does
  if (!o.tls) {
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(formatHostPort(host, o.port), grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    return { port, close: () => Promise.resolve() };
  }
  // TLS is ours; grpc-js gets the decrypted connection as if it were plaintext
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const listener = tls.createServer({ ...mutualTlsServerOptions(o.tls, o.handshakeTimeoutMs), ALPNProtocols: ['h2'] });
  screenMutualTls(listener, (socket) => injector.injectConnection(socket), (f) => o.onTlsFailure?.(f));
  const sockets = new Set<net.Socket>();
  listener.on('connection', (s: net.Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (e) => reject(new Error(`cannot bind ${host}:${o.port}: ${e.message}`, { cause: e })));
    listener.listen(o.port, host, () => resolve());
  });
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error(`TLS listener on ${host}:${o.port} has no port: ${String(address)}`);
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => {
      injector.destroy();
      for (const s of sockets) s.destroy();
      listener.close(() => resolve());
    }),
  };
}
