/** A throw-away CA and certificates made with the openssl CLI, as the README's Security section shows. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CertFiles { cert: string; key: string; ca: string }

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA named `name` in `dir`: name-ca.pem and name-ca.key (P-256, one day). */
export function makeCa(dir: string, name: string): { pem: string; key: string } {
  const pem = path.join(dir, `${name}-ca.pem`), key = path.join(dir, `${name}-ca.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', pem, '-days', '1', '-subj', `/CN=${name} test CA`]);
  return { pem, key };
}

/** A certificate for server and client use, signed by `ca`, valid for `sans` (default 127.0.0.1 and localhost). */
export function makeCert(dir: string, name: string, ca: { pem: string; key: string }, sans = 'IP:127.0.0.1,DNS:localhost'): CertFiles {
  const key = path.join(dir, `${name}.key`), csr = path.join(dir, `${name}.csr`), cert = path.join(dir, `${name}.pem`), ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.pem, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext]);
  return { cert, key, ca: ca.pem };
}
