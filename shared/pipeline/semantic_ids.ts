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
 */
import { kmeans } from 'ml-kmeans';
import { mixSeed } from '../random.js';

export interface SemanticDocidOptions {
  /** Seed of every k-means initialisation. */
  seed: number;
  /** Clusters per level (k in the paper). @default 10 */
  k?: number;
  /** Most documents in a leaf (c in the paper). @default 100 */
  maxLeaf?: number;
  /** Lloyd iterations per k-means run (ml-kmeans's default). @default 100 */
  maxIterations?: number;
}

export const DEFAULT_CLUSTERS = 10;
export const DEFAULT_MAX_LEAF = 100;
export const DEFAULT_KMEANS_ITERATIONS = 100;

/** One subtree still to be assigned: documents (indices into the input) and their common prefix. */
interface Subtree {
  members: number[];
  prefix: string;
}

/** The semantic docid of each embedding, in input order. */
export function semanticDocids(embeddings: readonly Float32Array[], options: SemanticDocidOptions): string[] {
  const k = options.k ?? DEFAULT_CLUSTERS;
  const maxLeaf = options.maxLeaf ?? DEFAULT_MAX_LEAF;
  const maxIterations = options.maxIterations ?? DEFAULT_KMEANS_ITERATIONS;
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`semanticDocids: option 'k' must be an integer >= 2, got ${k}`);
  if (!Number.isInteger(maxLeaf) || maxLeaf < 1) throw new RangeError(`semanticDocids: option 'maxLeaf' must be an integer >= 1, got ${maxLeaf}`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new RangeError(`semanticDocids: option 'maxIterations' must be an integer >= 1, got ${maxIterations}`);
  }
  checkEmbeddings(embeddings);
  const clusterWidth = String(k - 1).length;
  const leafWidth = String(maxLeaf - 1).length;
  const ids = new Array<string>(embeddings.length);
  if (embeddings.length === 0) return ids;

  // depth-first with an explicit stack: degenerate data may nest deeper than the call stack allows
  const stack: Subtree[] = [{ members: embeddings.map((_, i) => i), prefix: '' }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const groups = partition(embeddings, node, k, maxIterations, options.seed);
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

/** Splits a node's documents into 2..k non-empty groups (1 only for a single document), each in input order. */
function partition(embeddings: readonly Float32Array[], node: Subtree, k: number, maxIterations: number, seed: number): number[][] {
  const { members } = node;
  const kEff = distinctUpTo(embeddings, members, Math.min(k, members.length));
  if (kEff < 2) return splitByOrder(members, k);
  const data = members.map((i) => Array.from(embeddings[i] as Float32Array));  // members index the input
  const result = kmeans(data, kEff, { initialization: 'kmeans++', seed: nodeSeed(seed, node.prefix), maxIterations });
  const byCluster: number[][] = Array.from({ length: kEff }, () => []);
  result.clusters.forEach((cluster, j) => byCluster[cluster]?.push(members[j] as number));
  const groups = byCluster.filter((g) => g.length > 0);
  // all in one cluster: k-means cannot separate these documents, so order must
  return groups.length > 1 ? groups : splitByOrder(members, k);
}

/**
 * min(limit, number of distinct embeddings among `members`). kmeans++ needs at least K distinct points
 * (it samples proportionally to squared distances, which are all zero once every distinct point is a
 * centre), so K is capped by this. Early exit keeps it about O(limit · n) comparisons.
 */
function distinctUpTo(embeddings: readonly Float32Array[], members: readonly number[], limit: number): number {
  const seen: Float32Array[] = [];
  for (const i of members) {
    const e = embeddings[i] as Float32Array;
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

/** Contiguous chunks of ceil(n / k), so at most k chunks, each smaller than n when n > 1. */
function splitByOrder(members: number[], k: number): number[][] {
  const size = Math.ceil(members.length / k);
  const chunks: number[][] = [];
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
