/**
 * Link rates as tc writes them (`100mbit`, `1gbit`, `10gbit`, `500kbit`; decimal prefixes, bits per
 * second), for the netns host harness and the all-reduce bench's --link-rate.
 */
import { ConfigError } from '../../shared/runtime/errors.js';

const UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
/** Below this tc's token bucket is too coarse to mean anything for a cluster link. */
const MIN_RATE_BPS = 1e5;
/** veth pairs move at most a few tens of Gbit/s on one core; a faster "link" is no ceiling. */
const MAX_RATE_BPS = 1e11;

/** `1gbit` -> 1e9 bits per second; a ConfigError naming `field` for anything else. */
export function parseLinkRate(text: string, field = 'link-rate'): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/i.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  if (!m || unit === undefined) throw new ConfigError(field, `'${text}' is not a link rate: write it as tc does, e.g. 100mbit, 1gbit, 10gbit`);
  const bps = Number(m[1]) * (UNITS[unit] ?? NaN);
  if (!(bps >= MIN_RATE_BPS && bps <= MAX_RATE_BPS)) throw new ConfigError(field, `'${text}' is ${bps} bit/s, outside ${MIN_RATE_BPS}..${MAX_RATE_BPS}`);
  return bps;
}

/** 1e9 -> '1gbit' (for tables and logs; tc itself is given the bits per second). */
export function formatLinkRate(bps: number): string {
  for (const [unit, f] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const)
    if (bps >= f && Number.isInteger(bps / f)) return `${bps / f}${unit}`;
  return `${bps}bit`;
}
