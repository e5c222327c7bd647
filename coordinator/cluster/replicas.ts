/** Replicas must stay identical: every rank's parameter checksum of a step, compared once all are in. */
export class ReplicaChecksums {
  private readonly byStep = new Map<number, Map<number, string>>(); // step -> rank -> checksum

  /** Records rank's checksum of `step`; once `ranks` are in, returns how they differ (undefined: equal, or not all in yet). */
  add(step: number, rank: number, checksum: string, ranks: number): string | undefined {
    const at = this.byStep.get(step) ?? new Map<number, string>();
    this.byStep.set(step, at);
    at.set(rank, checksum);
    if (at.size < ranks) return undefined;
    const groups = new Map<string, number[]>();
    for (const [r, c] of at) groups.set(c, [...(groups.get(c) ?? []), r]);
    this.byStep.delete(step);
    if (groups.size <= 1) return undefined;
    return [...groups.entries()].map(([c, rs]) => `ranks ${rs.sort().join(',')} have ${c}`).join('; ');
  }

  /** A new ring: checksums of the old one no longer compare. */
  clear(): void {
    this.byStep.clear();
  }
}
