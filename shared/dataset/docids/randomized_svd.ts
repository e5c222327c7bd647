/**
 * Truncated SVD of a sparse matrix by randomized subspace iteration (Halko, Martinsson & Tropp 2011,
 * "Finding structure with randomness", Algorithm 4.4), in plain typed-array arithmetic:
 *
 *   1) sketch:  Y = A·Ω with Ω a seeded Gaussian (n, l), l = rank + oversample;  Q = orth(Y)
 *   2) power iterations, re-orthonormalised each half step so small directions survive rounding:
 *               Z = orth(Aᵀ·Q);  Q = orth(A·Z)
 *   3) project: B = Qᵀ·A (l, n), kept as Bᵀ = Aᵀ·Q (n, l)
 *   4) small SVD: B·Bᵀ = W·Λ·Wᵀ (l, l) by cyclic Jacobi;  σ = √λ,  U = Q·W,  V = Bᵀ·W·Σ⁻¹
 *
 * Dense matrices are Float64Array in row-major order; each shape is noted where it is made. Cost is
 * about (2q + 2) sparse products of nnz·l and (2q + 1) orthonormalisations of (m or n)·l².
 * Singular vectors' signs are fixed (the largest |entry| of each right vector is positive), as
 * scikit-learn's svd_flip does, so the output depends only on the matrix and the seed.
 */
import { mixSeed, Rng } from '../../runtime/random.js';

/** Compressed sparse rows: row r holds colIndex/values[rowStart[r] .. rowStart[r + 1]). */
export interface CsrMatrix {
  rows: number;
  cols: number;
  rowStart: Uint32Array;  // (rows + 1)
  colIndex: Uint32Array;  // (nnz)
  values: Float64Array;   // (nnz)
}

export interface RandomizedSvdOptions {
  /** Singular triplets wanted; those beyond the matrix's rank come out as zeros. */
  rank: number;
  /** Seed of the Gaussian sketch. */
  seed: number;
  /** Extra sketch columns beyond `rank`: more gives more accurate trailing triplets. @default 10 */
  oversample?: number;
  /** Power iterations: more gives better accuracy when singular values decay slowly (text). @default 4 */
  powerIterations?: number;
}

export interface TruncatedSvd {
  rank: number;
  /** (rank) descending. */
  singularValues: Float64Array;
  /** (rows, rank) row-major: A·V = U·Σ. */
  left: Float64Array;
  /** (cols, rank) row-major: the projection from A's column space to `rank` dimensions. */
  right: Float64Array;
}

export const DEFAULT_OVERSAMPLE = 10;
export const DEFAULT_POWER_ITERATIONS = 4;
/** A column whose norm falls below this share of its norm before orthogonalisation is dependent. */
const DEPENDENT_COLUMN = 1e-10;
/** Jacobi stops when the off-diagonal mass is this small relative to the whole matrix. */
const JACOBI_TOLERANCE = 1e-15;
const JACOBI_MAX_SWEEPS = 100;
/**
 * σ below this share of σ1 is rounding noise: eigenvalues of B·Bᵀ carry absolute error ~ε·σ1², so σ
 * under √ε·σ1 has no reliable direction. Such triplets are returned as zeros.
 */
const SINGULAR_FLOOR = 1e-7;

/** Mixed into the caller's seed so the sketch does not share numbers with other uses of that seed. */
const SKETCH_STREAM = 1;

export function randomizedSvd(a: CsrMatrix, options: RandomizedSvdOptions): TruncatedSvd {
  const { rank, seed } = options;
  const oversample = options.oversample ?? DEFAULT_OVERSAMPLE;
  const q = options.powerIterations ?? DEFAULT_POWER_ITERATIONS;
  if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`randomizedSvd: option 'rank' must be an integer >= 1, got ${rank}`);
  if (!Number.isInteger(oversample) || oversample < 0) throw new RangeError(`randomizedSvd: option 'oversample' must be an integer >= 0, got ${oversample}`);
  if (!Number.isInteger(q) || q < 0) throw new RangeError(`randomizedSvd: option 'powerIterations' must be an integer >= 0, got ${q}`);
  const m = a.rows;
  const n = a.cols;
  const l = Math.min(rank + oversample, m, n);  // sketch width; a rank-r matrix needs no more than r
  const out: TruncatedSvd = { rank, singularValues: new Float64Array(rank), left: new Float64Array(m * rank), right: new Float64Array(n * rank) };
  if (l === 0) return out;

  // 1) sketch
  const rng = new Rng(mixSeed(seed, SKETCH_STREAM));
  const omega = new Float64Array(n * l);                          // (n, l)
  for (let i = 0; i < omega.length; i++) omega[i] = rng.nextNormal();
  let qm = orthonormalise(multiply(a, omega, l), m, l);          // (m, l)
  // 2) power iterations
  for (let it = 0; it < q; it++) {
    const z = orthonormalise(multiplyTransposed(a, qm, l), n, l); // (n, l)
    qm = orthonormalise(multiply(a, z, l), m, l);                 // (m, l)
  }
  // 3) project: Bᵀ = Aᵀ·Q
  const bt = multiplyTransposed(a, qm, l);                        // (n, l)
  // 4) small SVD through the eigenvectors of B·Bᵀ = (Bᵀ)ᵀ·Bᵀ
  const { values, vectors: w } = symmetricEigen(gram(bt, n, l), l); // (l), (l, l) columns = eigenvectors
  const order = Array.from({ length: l }, (_, i) => i).sort((i, j) => (values[j] as number) - (values[i] as number));
  const keep = Math.min(rank, l);
  const sigmaMax = Math.sqrt(Math.max(0, values[order[0] as number] as number));
  for (let c = 0; c < keep; c++) {
    const e = order[c] as number;
    const sigma = Math.sqrt(Math.max(0, values[e] as number));
    if (sigma <= SINGULAR_FLOOR * sigmaMax || sigma === 0) break;  // this and every later triplet stay zero
    out.singularValues[c] = sigma;
    // right vector: Bᵀ·w / σ; left vector: Q·w
    const v = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let k = 0; k < l; k++) s += (bt[r * l + k] as number) * (w[k * l + e] as number);
      v[r] = s / sigma;
    }
    const u = new Float64Array(m);
    for (let r = 0; r < m; r++) {
      let s = 0;
      for (let k = 0; k < l; k++) s += (qm[r * l + k] as number) * (w[k * l + e] as number);
      u[r] = s;
    }
    const sign = signOfLargest(v);
    for (let r = 0; r < n; r++) out.right[r * rank + c] = sign * (v[r] as number);
    for (let r = 0; r < m; r++) out.left[r * rank + c] = sign * (u[r] as number);
  }
  return out;
}

/** A (m, n) sparse · X (n, l) dense -> (m, l). */
export function multiply(a: CsrMatrix, x: Float64Array, l: number): Float64Array {
  const y = new Float64Array(a.rows * l);
  for (let r = 0; r < a.rows; r++) {
    const yr = r * l;
    for (let p = a.rowStart[r] as number, end = a.rowStart[r + 1] as number; p < end; p++) {
      const v = a.values[p] as number;
      const xc = (a.colIndex[p] as number) * l;
      for (let k = 0; k < l; k++) y[yr + k] = (y[yr + k] as number) + v * (x[xc + k] as number);
    }
  }
  return y;
}

/** Aᵀ (n, m) · X (m, l) -> (n, l), read from A's rows without forming Aᵀ. */
function multiplyTransposed(a: CsrMatrix, x: Float64Array, l: number): Float64Array {
  const y = new Float64Array(a.cols * l);
  for (let r = 0; r < a.rows; r++) {
    const xr = r * l;
    for (let p = a.rowStart[r] as number, end = a.rowStart[r + 1] as number; p < end; p++) {
      const v = a.values[p] as number;
      const yc = (a.colIndex[p] as number) * l;
      for (let k = 0; k < l; k++) y[yc + k] = (y[yc + k] as number) + v * (x[xr + k] as number);
    }
  }
  return y;
}

/**
 * Orthonormal columns spanning those of Y (rows, l), by modified Gram–Schmidt applied twice ("twice
 * is enough", Giraud et al. 2005). Works on a column-major copy so each dot product is contiguous.
 * Dependent columns become zero columns rather than amplified rounding noise.
 */
function orthonormalise(y: Float64Array, rows: number, l: number): Float64Array {
  const cols = new Float64Array(rows * l);                        // (l, rows): column-major copy
  for (let r = 0; r < rows; r++) for (let k = 0; k < l; k++) cols[k * rows + r] = y[r * l + k] as number;
  for (let k = 0; k < l; k++) {
    const ck = cols.subarray(k * rows, (k + 1) * rows);
    const before = Math.sqrt(dot(ck, ck));
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < k; j++) {
        const cj = cols.subarray(j * rows, (j + 1) * rows);
        const proj = dot(cj, ck);
        for (let r = 0; r < rows; r++) ck[r] = (ck[r] as number) - proj * (cj[r] as number);
      }
    }
    const after = Math.sqrt(dot(ck, ck));
    if (after <= DEPENDENT_COLUMN * before || after === 0) ck.fill(0);
    else for (let r = 0; r < rows; r++) ck[r] = (ck[r] as number) / after;
  }
  const out = new Float64Array(rows * l);                         // back to (rows, l) row-major
  for (let r = 0; r < rows; r++) for (let k = 0; k < l; k++) out[r * l + k] = cols[k * rows + r] as number;
  return out;
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) * (y[i] as number);
  return s;
}

/** Xᵀ·X (l, l) of X (rows, l), accumulated row by row. */
function gram(x: Float64Array, rows: number, l: number): Float64Array {
  const g = new Float64Array(l * l);
  for (let r = 0; r < rows; r++) {
    const xr = r * l;
    for (let i = 0; i < l; i++) {
      const xi = x[xr + i] as number;
      if (xi === 0) continue;
      for (let j = i; j < l; j++) g[i * l + j] = (g[i * l + j] as number) + xi * (x[xr + j] as number);
    }
  }
  for (let i = 0; i < l; i++) for (let j = 0; j < i; j++) g[i * l + j] = g[j * l + i] as number;
  return g;
}

/**
 * Eigen-decomposition of a symmetric (l, l) matrix by cyclic Jacobi rotations: returns the eigenvalues
 * (unsorted) and the eigenvectors as the columns of an (l, l) row-major matrix.
 */
export function symmetricEigen(s: Float64Array, l: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(s);                                 // (l, l), rotated to diagonal
  const v = new Float64Array(l * l);                              // (l, l), accumulated rotations
  for (let i = 0; i < l; i++) v[i * l + i] = 1;
  let total = 0;
  for (const x of a) total += x * x;
  for (let sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
    let off = 0;
    for (let i = 0; i < l; i++) for (let j = i + 1; j < l; j++) off += 2 * (a[i * l + j] as number) ** 2;
    if (off <= JACOBI_TOLERANCE * JACOBI_TOLERANCE * total) break;
    for (let p = 0; p < l; p++) {
      for (let r = p + 1; r < l; r++) {
        const apr = a[p * l + r] as number;
        if (apr === 0) continue;
        // rotation angle that zeroes a[p][r] (Golub & Van Loan, Algorithm 8.5.1)
        const theta = ((a[r * l + r] as number) - (a[p * l + p] as number)) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < l; k++) {                             // columns p and r
          const akp = a[k * l + p] as number;
          const akr = a[k * l + r] as number;
          a[k * l + p] = c * akp - sn * akr;
          a[k * l + r] = sn * akp + c * akr;
        }
        for (let k = 0; k < l; k++) {                             // rows p and r
          const apk = a[p * l + k] as number;
          const ark = a[r * l + k] as number;
          a[p * l + k] = c * apk - sn * ark;
          a[r * l + k] = sn * apk + c * ark;
        }
        for (let k = 0; k < l; k++) {
          const vkp = v[k * l + p] as number;
          const vkr = v[k * l + r] as number;
          v[k * l + p] = c * vkp - sn * vkr;
          v[k * l + r] = sn * vkp + c * vkr;
        }
      }
    }
  }
  const values = new Float64Array(l);
  for (let i = 0; i < l; i++) values[i] = a[i * l + i] as number;
  return { values, vectors: v };
}

/** +1 or -1: the sign of the entry with the largest magnitude (first such entry on ties). */
function signOfLargest(x: Float64Array): number {
  let best = 0;
  for (const xi of x) if (Math.abs(xi) > Math.abs(best)) best = xi;
  return best < 0 ? -1 : 1;
}
