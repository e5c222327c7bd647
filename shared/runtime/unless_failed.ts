/**
 * Waiting for a promise unless a failure comes first, without keeping what it resolves to.
 *
 * The obvious `Promise.race([p, new Promise((_, reject) => waiters.push(reject))])` leaks: the
 * never-settled promise in `waiters` holds the race's reactions, and through them the race's
 * result, which holds `p`'s value for as long as the waiter list lives. In the coordinator that
 * was every checkpoint's uploaded state (parameters and both Adam moments) for the whole run: its
 * RSS grew by about a state per checkpoint (README, Security). Here the waiter leaves the list as
 * soon as `p` settles.
 */

/**
 * Settles as `p` does, unless a function pushed onto `waiters` is called first (the owner calls
 * them all on failure): then rejects with `reason(argument)`.
 */
export function unlessFailed<T, E>(p: Promise<T>, waiters: Array<(e: E) => void>, reason: (e: E) => unknown = (e) => e): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = (e: E): void => reject(reason(e));
    waiters.push(fail);
    const leave = (): void => {
      const i = waiters.indexOf(fail);
      if (i >= 0) waiters.splice(i, 1);
    };
    p.then((v) => { leave(); resolve(v); }, (e: unknown) => { leave(); reject(e); });
  });
}
