/**
 * Small strided matrix products in WebAssembly SIMD (f32x4), assembled here from bytes: no
 * compiler is installed and the module is a few hundred bytes. tfjs-wasm runs 3-D BatchMatMul
 * through a scalar triple loop (~1-2 GFLOP/s; only 2-D products reach XNNPACK), which made
 * T5's per-head attention products the slowest part of a training step. These kernels do one
 * head's product at a time with arbitrary row strides, so heads are read from and written to
 * the (tokens, heads * Kv) projection layout directly, with no transposes around them.
 */

/** Unsigned / signed LEB128, as the wasm binary format encodes integers. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do { let b = n & 0x7f; n >>>= 7; if (n !== 0) b |= 0x80; out.push(b); } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f; n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const I32 = 0x7f, V128 = 0x7b;

/** An instruction stream with the few opcodes the kernels need (numbers from the wasm spec). */
class Asm {
  readonly b: number[] = [];
  private emit(...xs: number[]): this { this.b.push(...xs); return this; }
  get(l: number): this { return this.emit(0x20, ...uleb(l)); }
  set(l: number): this { return this.emit(0x21, ...uleb(l)); }
  i32(n: number): this { return this.emit(0x41, ...sleb(n)); }
  add(): this { return this.emit(0x6a); }
  sub(): this { return this.emit(0x6b); }
  mul(): this { return this.emit(0x6c); }
  gtS(): this { return this.emit(0x4a); }
  geS(): this { return this.emit(0x4e); }
  ltS(): this { return this.emit(0x48); }
  eqz(): this { return this.emit(0x45); }
  f32Load(off = 0): this { return this.emit(0x2a, 2, ...uleb(off)); }
  f32Store(off = 0): this { return this.emit(0x38, 2, ...uleb(off)); }
  private simd(op: number, ...rest: number[]): this { return this.emit(0xfd, ...uleb(op), ...rest); }
  vLoad(off = 0): this { return this.simd(0x00, 2, ...uleb(off)); }
  vStore(off = 0): this { return this.simd(0x0b, 2, ...uleb(off)); }
  vZero(): this { return this.simd(0x0c, ...new Array<number>(16).fill(0)); }
  splat(): this { return this.simd(0x13); }
  lane(i: number): this { return this.simd(0x1f, i); }
  vAdd(): this { return this.simd(0xe4); }
  vMul(): this { return this.simd(0xe6); }
  /** `dst = dst + delta` for i32 locals. */
  inc(dst: number, delta: (a: Asm) => Asm): this { this.get(dst); delta(this); return this.add().set(dst); }
  /** block { loop { br_if(exit) ; body ; br loop } }: `exit` pushes an i32 condition. */
  whileNot(exit: (a: Asm) => Asm, body: (a: Asm) => Asm): this {
    this.emit(0x02, 0x40, 0x03, 0x40);
    exit(this); this.emit(0x0d, 1);
    body(this); this.emit(0x0c, 0, 0x0b, 0x0b);
    return this;
  }
  /** block { body } where body may `brIf(0)` out. */
  block(body: (a: Asm) => Asm): this { this.emit(0x02, 0x40); body(this); return this.emit(0x0b); }
  brIf(depth: number): this { return this.emit(0x0d, depth); }
}

/*
 * mm(M, N, K, a, aRs, aCs, b, bRs, c, cRs): C[i][j] = sum_k A[i][k] B[k][j] for i < M, j < N,
 * byte addresses A[i][k] = a + i*aRs + k*aCs (any strides: A may be a transpose), B[k][j] =
 * b + k*bRs + 4j, C[i][j] = c + i*cRs + 4j (rows contiguous). Tiles of 4 rows x 8 columns keep
 * 8 accumulators in registers; column tails use one vector whose extra lanes read past the row
 * (the caller leaves slack after every operand) and are never stored.
 */
const P = { M: 0, N: 1, K: 2, a: 3, aRs: 4, aCs: 5, b: 6, bRs: 7, c: 8, cRs: 9 };
const L = { i: 10, j: 11, k: 12, pa: 13, pb: 14, pc: 15, ar2: 16, ar3: 17, cr2: 18, cr3: 19, rowA: 20, rowC: 21, n: 22 };
const ACC = 23, BV = 31, S = 33;      // v128 locals: 8 accumulators, 2 B vectors, 1 splat

function mmBody(): number[] {
  const a = new Asm();
  const rowOff = (r: number, base: number, s1: number, s2: number, s3: number): Asm => {
    a.get(base);
    if (r > 0) a.get([s1, s2, s3][r - 1] as number).add();
    return a;
  };
  const tile = (R: number, V: number, partial: boolean): void => {
    for (let x = 0; x < R * V; x++) a.vZero().set(ACC + x);
    a.get(L.rowA).set(L.pa);
    a.get(P.b).get(L.j).i32(4).mul().add().set(L.pb);
    a.get(P.K).set(L.k);
    a.whileNot((q) => q.get(L.k).eqz(), (q) => {
      for (let v = 0; v < V; v++) q.get(L.pb).vLoad(16 * v).set(BV + v);
      for (let r = 0; r < R; r++) {
        rowOff(r, L.pa, P.aRs, L.ar2, L.ar3).f32Load().splat().set(S);
        for (let v = 0; v < V; v++) {
          const acc = ACC + r * V + v;
          q.get(acc).get(S).get(BV + v).vMul().vAdd().set(acc);
        }
      }
      q.inc(L.pa, (z) => z.get(P.aCs)).inc(L.pb, (z) => z.get(P.bRs)).inc(L.k, (z) => z.i32(-1));
      return q;
    });
    a.get(L.rowC).get(L.j).i32(4).mul().add().set(L.pc);
    for (let r = 0; r < R; r++) {
      if (!partial) {
        for (let v = 0; v < V; v++) rowOff(r, L.pc, P.cRs, L.cr2, L.cr3).get(ACC + r * V + v).vStore(16 * v);
        continue;
      }
      a.block((q) => {
        for (let lane = 0; lane < 3; lane++) {
          if (lane > 0) q.get(L.n).i32(lane + 1).ltS().brIf(0);
          rowOff(r, L.pc, P.cRs, L.cr2, L.cr3).get(ACC + r * V).lane(lane).f32Store(4 * lane);
        }
        return q;
      });
    }
  };
  const rows = (R: number): void => {
    a.get(P.a).get(L.i).get(P.aRs).mul().add().set(L.rowA);
    a.get(P.c).get(L.i).get(P.cRs).mul().add().set(L.rowC);
    a.i32(0).set(L.j);
    a.whileNot((q) => q.get(L.j).i32(8).add().get(P.N).gtS(), (q) => { tile(R, 2, false); return q.inc(L.j, (z) => z.i32(8)); });
    a.whileNot((q) => q.get(L.j).i32(4).add().get(P.N).gtS(), (q) => { tile(R, 1, false); return q.inc(L.j, (z) => z.i32(4)); });
    a.block((q) => {
      q.get(L.j).get(P.N).geS().brIf(0);
      q.get(P.N).get(L.j).sub().set(L.n);
      tile(R, 1, true);
      return q;
    });
  };
  a.get(P.aRs).i32(2).mul().set(L.ar2).get(P.aRs).i32(3).mul().set(L.ar3);
  a.get(P.cRs).i32(2).mul().set(L.cr2).get(P.cRs).i32(3).mul().set(L.cr3);
  a.i32(0).set(L.i);
  a.whileNot((q) => q.get(L.i).i32(4).add().get(P.M).gtS(), (q) => { rows(4); return q.inc(L.i, (z) => z.i32(4)); });
  a.whileNot((q) => q.get(L.i).get(P.M).geS(), (q) => { rows(1); return q.inc(L.i, (z) => z.i32(1)); });
  return [...vec([[13, I32], [11, V128]]), ...a.b, 0x0b];
}

/* tr(rows, cols, src, sRs, dst): dst (cols, rows) contiguous = transpose of src (rows, cols), src rows sRs bytes apart. */
function trBody(): number[] {
  const [rows, cols, src, sRs, dst, r, c, ps, pd, step] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const a = new Asm();
  a.get(rows).i32(4).mul().set(step).i32(0).set(r);
  a.whileNot((q) => q.get(r).get(rows).geS(), (q) => {
    q.get(src).get(r).get(sRs).mul().add().set(ps);
    q.get(dst).get(r).i32(4).mul().add().set(pd);
    q.i32(0).set(c);
    q.whileNot((z) => z.get(c).get(cols).geS(), (z) => z.get(pd).get(ps).f32Load().f32Store()
      .inc(ps, (y) => y.i32(4)).inc(pd, (y) => y.get(step)).inc(c, (y) => y.i32(1)));
    return q.inc(r, (z) => z.i32(1));
  });
  return [...vec([[5, I32]]), ...a.b, 0x0b];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
  const fnType = (n: number): number[] => [0x60, ...vec(new Array(n).fill([I32])), 0];
  const name = (s: string): number[] => vec([...s].map((ch) => [ch.charCodeAt(0)]));
  const code = [mmBody(), trBody()].map((body) => [...uleb(body.length), ...body]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([fnType(10), fnType(5)])),
    ...section(3, vec([[0], [1]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...name('mm'), 0, 0], [...name('tr'), 0, 1], [...name('memory'), 2, 0]])),
    ...section(10, vec(code)),
  ]);
}

export interface SimdKernels {
  mm(M: number, N: number, K: number, a: number, aRs: number, aCs: number, b: number, bRs: number, c: number, cRs: number): void;
  tr(rows: number, cols: number, src: number, sRs: number, dst: number): void;
  memory: WebAssembly.Memory;
}

let kernels: SimdKernels | undefined;

/** The compiled kernels (synchronous compile: the module is tiny). Throws where wasm SIMD is missing. */
export function simdKernels(): SimdKernels {
  if (!kernels) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()));
    kernels = instance.exports as unknown as SimdKernels;
  }
  return kernels;
}

/** Slack after every operand: a column-tail vector may read up to 12 bytes past a row's end. */
const SLACK = 16;

/**
 * Float32 regions in the kernels' memory, laid out one after another (byte offsets, 16-aligned),
 * with the memory grown to fit. Views are taken after growing: growth detaches earlier ones.
 */
export function layout(sizes: number[]): { offsets: number[]; f32: Float32Array } {
  const k = simdKernels();
  const offsets: number[] = [];
  let end = 0;
  for (const s of sizes) { offsets.push(end); end += Math.ceil((s * 4 + SLACK) / 16) * 16; }
  const have = k.memory.buffer.byteLength;
  if (end > have) k.memory.grow(Math.ceil((end - have) / 65536));
  return { offsets, f32: new Float32Array(k.memory.buffer as ArrayBuffer) };
}
