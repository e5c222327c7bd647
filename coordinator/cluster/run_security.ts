/**
 * What a coordinator needs to keep strangers out of its run, read once at start: the join token,
 * the /metrics bearer token and the TLS material. A coordinator reachable from other machines
 * without a token is refused unless the operator says --insecure (then it warns).
 */
import type { Config } from '../../shared/runtime/config.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import type { Logger } from '../../shared/runtime/log.js';
import { isLoopback, loadTls, optionalToken, type TlsMaterial } from '../../shared/runtime/security.js';

export interface RunSecurity {
  joinToken?: string;
  metricsToken?: string;
  tls?: TlsMaterial;
}

export function runSecurity(cfg: Config, log: Logger): RunSecurity {
  const s = cfg.security;
  const joinToken = optionalToken(s.joinTokenFile, 'security.joinTokenFile');
  const metricsToken = optionalToken(s.metricsTokenFile, 'security.metricsTokenFile');
  const tls = loadTls(s);
  if (!joinToken && !isLoopback(cfg.cluster.host)) {
    if (!s.insecure)
      throw new ConfigError('security.joinTokenFile', `--host ${cfg.cluster.host} is reachable from other machines: give --join-token-file FILE (the same file to every worker), or --insecure to let anyone who reaches the port join`);
    log.warn({ host: cfg.cluster.host }, 'INSECURE: no join token on a non-loopback host; anyone who reaches the port can join the run, read its plan and send it state');
  }
  if (!metricsToken && cfg.telemetry.metricsPort >= 0 && !isLoopback(cfg.telemetry.metricsHost))
    log.warn({ host: cfg.telemetry.metricsHost }, '/metrics and the dashboard are open to anyone who reaches them: give --metrics-token-file FILE');
  log.info({ joinToken: joinToken !== undefined, metricsToken: metricsToken !== undefined, tls: tls !== undefined }, 'security');
  return { ...(joinToken ? { joinToken } : {}), ...(metricsToken ? { metricsToken } : {}), ...(tls ? { tls } : {}) };
}
