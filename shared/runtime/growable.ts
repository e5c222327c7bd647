/** Typed arrays that grow by doubling: per-item columns of unknown final length at a few bytes per item. */

type Numeric = Uint32Array | Uint16Array | Int32Array | Float64Array | Uint8Array;

const INITIAL_CAPACITY = 1024;

export class GrowableArray<T extends Numeric> {
  length = 0;
  constructor(private data: T, private readonly make: (n: number) => T) {}
  /** A column holding `data` (read back from disk) that can grow further. */
  static filled<U extends Numeric>(data: U, make: (n: number) => U): GrowableArray<U> {
    const g = new GrowableArray(data.length > 0 ? data : make(INITIAL_CAPACITY), make);
    g.length = data.length;
    return g;
  }
  push(x: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data as never);
      this.data = bigger;
    }
    this.data[this.length++] = x;
  }
  get(i: number): number {
    return this.data[i] as number;  // callers index below length
  }
  set(i: number, x: number): void {
    this.data[i] = x;
  }
  increment(i: number): void {
    this.data[i] = this.get(i) + 1;
  }
  /** Bytes held, spare capacity included: what the column costs resident. */
  get bytes(): number {
    return this.data.byteLength;
  }
  /** The filled part, trimmed to a copy of its own size so the spare capacity is freed. */
  trimmed(): T {
    return this.data.slice(0, this.length) as T;
  }
}

export const growU32 = (): GrowableArray<Uint32Array> => new GrowableArray(new Uint32Array(INITIAL_CAPACITY), (n) => new Uint32Array(n));
export const growU16 = (): GrowableArray<Uint16Array> => new GrowableArray(new Uint16Array(INITIAL_CAPACITY), (n) => new Uint16Array(n));
export const growI32 = (): GrowableArray<Int32Array> => new GrowableArray(new Int32Array(INITIAL_CAPACITY), (n) => new Int32Array(n));
export const growF64 = (): GrowableArray<Float64Array> => new GrowableArray(new Float64Array(INITIAL_CAPACITY), (n) => new Float64Array(n));
export const growU8 = (): GrowableArray<Uint8Array> => new GrowableArray(new Uint8Array(INITIAL_CAPACITY), (n) => new Uint8Array(n));
