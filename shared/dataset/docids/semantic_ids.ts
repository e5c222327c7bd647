/**
 * Semantic docids: the DSI paper's hierarchical clustering of document embeddings (Tay et al. 2022,
 * "Transformer Memory as a Differentiable Search Index", Algorithm 1), so that documents sharing an
 * id prefix are near each other and the model decodes coarse-to-fine.
 *
 *   GenerateSemanticIDs(X):
 *     cluster X into k clusters by k-means
 *     for the i-th cluster C_i:   its ids start with the digit i, then
 *       |C_i| > c:  GenerateSemanticIDs(C_i)          (recurse)
 *       |C_i| <= c: the document's position in C_i     (a leaf)
 *
 * Id format: each level adds one cluster digit (width of k - 1: one digit for k = 10), a leaf adds
 * the position zero-padded to the width of c - 1 (two digits, 00..99, for c = 100). The paper treats
 * the leaf position as one token; fixed-width padding keeps our digit strings unambiguous. Ids are
 * unique and prefix-free (all ids in a leaf have the same length, siblings differ in their digit),
 * and k-means runs at every level, the top included, as in Algorithm 1.
 * Positions inside a leaf follow the input order; empty k-means clusters are skipped and the
 * remaining clusters numbered 0, 1, ... in ml-kmeans's order.
 *
 * Degenerate data never recurses forever: with fewer than two distinct embeddings (identical
 * documents), or when k-means puts every document into one cluster, the documents are split by input
 * order into at most k contiguous chunks of ceil(n / k) instead; every step then shrinks the groups.
 *
 * k-means is ml-kmeans (kmeans++ initialisation, squared Euclidean distance) seeded per node from the
 * caller's seed and the node's prefix, so the ids depend only on the embeddings and the seed. It holds
 * a node's embeddings as number[][] (about 8·n·d bytes plus a copy during kmeans++), the library's format.
 *
 * Scale: the embeddings are read through EmbeddingRows (embedding_file.ts: a float32 file on disk for
 * a whole corpus) and a node's documents are a Uint32Array of indices, so what stays in memory is 4
 * bytes per document for the nodes waiting on the stack (they partition the documents not yet in a
 * leaf) plus, while a node is split, its index list, its children's and 1 byte of cluster per document.
 * A node of at most `sampleSize` documents is clustered exactly as above. A larger node fits its k
 * centroids with the same ml-kmeans call on a seeded uniform sample of `sampleSize` of its documents
 * (in input order), then every document of the node goes to its nearest centroid (squared Euclidean,
 * the lowest cluster on ties, as ml-kmeans assigns) in one streaming pass over the file: mini-batch
 * k-means's usual trade, centroids from a sample and assignment of all. The degenerate cases are
 * decided the same way: fewer than two distinct embeddings in the sample, or every document nearest
 * one centroid, split the node by order.
 */
import { kmeans } from 'ml-kmeans';
import { mixSeed, Rng } from '../../runtime/random.js';
import { embeddingRowsOf, type EmbeddingRows } from './embedding_file.js';

export interface SemanticDocidOptions {
  /** Seed of every k-means initialisation. */
  seed: number;
  /** Clusters per level (k in the paper). @default 10 */
  k?: number;
  /** Most documents in a leaf (c in the paper). @default 100 */
  maxLeaf?: number;
  /** Lloyd iterations per k-means run (ml-kmeans's default). @default 100 */
  maxIterations?: number;
  /** Nodes with more documents fit their centroids on a sample of this many. @default 20_000 */
  sampleSize?: number;
}

export const DEFAULT_CLUSTERS = 10;
export const DEFAULT_MAX_LEAF = 100;
export const DEFAULT_KMEANS_ITERATIONS = 100;
/** ml-kmeans on 20k × 128 number[][] is ~25 MB and a few seconds; larger nodes are sampled. */
export const DEFAULT_KMEANS_SAMPLE = 20_000;

/** Mixed into a node's seed for its sample, so the sample and kmeans++ draw different numbers. */
const SAMPLE_STREAM = 0x5a3d;

/** One subtree still to be assigned: documents (ascending indices into the input) and their common prefix. */
interface Subtree {
  members: Uint32Array;
  prefix: string;
}

/** The semantic docid of each embedding, in input order. */
export function semanticDocids(embeddings: readonly Float32Array[] | EmbeddingRows, options: SemanticDocidOptions): string[] {
  const rows = Array.isArray(embeddings) ? (checkEmbeddings(embeddings), embeddingRowsOf(embeddings)) : (embeddings as EmbeddingRows);
  const k = options.k ?? DEFAULT_CLUSTERS;
  const maxLeaf = options.maxLeaf ?? DEFAULT_MAX_LEAF;
  const maxIterations = options.maxIterations ?? DEFAULT_KMEANS_ITERATIONS;
  const sampleSize = options.sampleSize ?? DEFAULT_KMEANS_SAMPLE;
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`semanticDocids: option 'k' must be an integer >= 2, got ${k}`);
  if (!Number.isInteger(maxLeaf) || maxLeaf < 1) throw new RangeError(`semanticDocids: option 'maxLeaf' must be an integer >= 1, got ${maxLeaf}`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new RangeError(`semanticDocids: option 'maxIterations' must be an integer >= 1, got ${maxIterations}`);
  }
  if (!Number.isInteger(sampleSize) || sampleSize < k) throw new RangeError(`semanticDocids: option 'sampleSize' must be an integer >= k (${k}), got ${sampleSize}`);
  const clusterWidth = String(k - 1).length;
  const leafWidth = String(maxLeaf - 1).length;
  const ids = new Array<string>(rows.count);
  if (rows.count === 0) return ids;
  const all = new Uint32Array(rows.count);
  for (let i = 0; i < all.length; i++) all[i] = i;

  // depth-first with an explicit stack: degenerate data may nest deeper than the call stack allows
  const stack: Subtree[] = [{ members: all, prefix: '' }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const seed = nodeSeed(options.seed, node.prefix);
    const groups = node.members.length > sampleSize
      ? partitionSampled(rows, node.members, { k, maxIterations, seed, sampleSize })
      : partition(rows, node.members, k, maxIterations, seed);
    groups.forEach((group, i) => {
      const prefix = node.prefix + String(i).padStart(clusterWidth, '0');
      if (group.length > maxLeaf) {
        stack.push({ members: group, prefix });
      } else {
        group.forEach((doc, position) => {
          ids[doc] = prefix + String(position).padStart(leafWidth, '0');
        });
      }
    });
  }
  return ids;
}

/** A node's embeddings as Float32Array copies, in member order. */
function gather(rows: EmbeddingRows, members: Uint32Array): Float32Array[] {
  const out = new Array<Float32Array>(members.length);
  rows.forEach(members, (row, j) => { out[j] = row.slice(); });
  return out;
}

/** Splits a node's documents into 2..k non-empty groups (1 only for a single document), each in input order. */
function partition(rows: EmbeddingRows, members: Uint32Array, k: number, maxIterations: number, seed: number): Uint32Array[] {
  const vectors = gather(rows, members);
  const kEff = distinctUpTo(vectors, Math.min(k, members.length));
  if (kEff < 2) return splitByOrder(members, k);
  const data = vectors.map((v) => Array.from(v));
  const result = kmeans(data, kEff, { initialization: 'kmeans++', seed, maxIterations });
  return groupsOf(members, result.clusters, kEff, k);
}

/** partition() for a node larger than the sample: centroids from a sample, every document to its nearest. */
function partitionSampled(rows: EmbeddingRows, members: Uint32Array, o: { k: number; maxIterations: number; seed: number; sampleSize: number }): Uint32Array[] {
  const sample = gather(rows, sampleOf(members, o.sampleSize, mixSeed(o.seed, SAMPLE_STREAM)));
  const kEff = distinctUpTo(sample, o.k);
  if (kEff < 2) return splitByOrder(members, o.k);
  const { centroids } = kmeans(sample.map((v) => Array.from(v)), kEff, { initialization: 'kmeans++', seed: o.seed, maxIterations: o.maxIterations });
  const d = rows.dims;
  const flat = new Float64Array(kEff * d);                         // (kEff, d)
  centroids.forEach((c, i) => flat.set(c, i * d));
  const cluster = kEff <= 256 ? new Uint8Array(members.length) : new Uint32Array(members.length);
  rows.forEach(members, (row, j) => {
    let best = 0;
    let bestDist = Infinity;
    for (let c = 0; c < kEff; c++) {
      let s = 0;
      for (let t = 0, base = c * d; t < d; t++) s += ((row[t] as number) - (flat[base + t] as number)) ** 2;
      if (s < bestDist) { bestDist = s; best = c; }
    }
    cluster[j] = best;
  });
  return groupsOf(members, cluster, kEff, o.k);
}

/** The members grouped by cluster (empty clusters dropped), or split by order when all share one. */
function groupsOf(members: Uint32Array, cluster: ArrayLike<number>, kEff: number, k: number): Uint32Array[] {
  const sizes = new Uint32Array(kEff);
  for (let j = 0; j < members.length; j++) {
    const c = cluster[j] as number;
    sizes[c] = (sizes[c] as number) + 1;
  }
  const groups = Array.from(sizes, (n) => new Uint32Array(n));
  const fill = new Uint32Array(kEff);
  for (let j = 0; j < members.length; j++) {
    const c = cluster[j] as number;
    const at = fill[c] as number;
    (groups[c] as Uint32Array)[at] = members[j] as number;
    fill[c] = at + 1;
  }
  const nonEmpty = groups.filter((g) => g.length > 0);
  // all in one cluster: k-means cannot separate these documents, so order must
  return nonEmpty.length > 1 ? nonEmpty : splitByOrder(members, k);
}

/** `size` of `members` (fewer only if there are fewer), uniformly by reservoir sampling, kept in input order. */
function sampleOf(members: Uint32Array, size: number, seed: number): Uint32Array {
  if (members.length <= size) return members;
  const rng = new Rng(seed);
  const picked = new Uint32Array(size);                            // positions into members
  for (let j = 0; j < size; j++) picked[j] = j;
  for (let j = size; j < members.length; j++) {
    const r = rng.nextInt(j + 1);
    if (r < size) picked[r] = j;
  }
  picked.sort();
  return picked.map((j) => members[j] as number);
}

/**
 * min(limit, number of distinct vectors). kmeans++ needs at least K distinct points (it samples
 * proportionally to squared distances, which are all zero once every distinct point is a centre), so
 * K is capped by this. Early exit keeps it about O(limit · n) comparisons.
 */
function distinctUpTo(vectors: readonly Float32Array[], limit: number): number {
  const seen: Float32Array[] = [];
  for (const e of vectors) {
    if (!seen.some((s) => sameVector(s, e))) {
      seen.push(e);
      if (seen.length >= limit) break;
    }
  }
  return seen.length;
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  return true;
}

/** Contiguous chunks of ceil(n / k), so at most k chunks, each smaller than n when n > 1; copies, so the parent's list can go. */
function splitByOrder(members: Uint32Array, k: number): Uint32Array[] {
  const size = Math.ceil(members.length / k);
  const chunks: Uint32Array[] = [];
  for (let start = 0; start < members.length; start += size) chunks.push(members.slice(start, start + size));
  return chunks;
}

/** A 32-bit k-means seed from the caller's seed and the node's prefix (its digits, and its length so "" and "0" differ). */
function nodeSeed(seed: number, prefix: string): number {
  return mixSeed(seed, prefix.length, ...Array.from(prefix, (ch) => ch.charCodeAt(0)));
}

/** Same dimension everywhere, at least 1, all values finite. */
function checkEmbeddings(embeddings: readonly Float32Array[]): void {
  const d = embeddings[0]?.length ?? 0;
  if (embeddings.length > 0 && d === 0) throw new RangeError('semanticDocids: embeddings[0] has dimension 0');
  embeddings.forEach((e, i) => {
    if (e.length !== d) throw new RangeError(`semanticDocids: embeddings[${i}] has dimension ${e.length}, embeddings[0] has ${d}`);
    const bad = e.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new RangeError(`semanticDocids: embeddings[${i}][${bad}] is ${e[bad]}, not a finite number`);
  });
}
