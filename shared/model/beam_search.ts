/**
 * Docid retrieval: beam search over the decoder, constrained to the docid trie, ranking
 * documents by the log-probability of their whole token sequence.
 */
import * as tf from '@tensorflow/tfjs';
import type { T5Config } from './config.js';
import { decode, encode, type Weights } from './t5.js';
import type { DocidTrie, TrieNode } from './docid_trie.js';
import type { OutputVocabulary } from './grads.js';

export interface RankedDoc {
  doc: number;          // document index (order of the trie's sequences)
  score: number;        // sum of token log-probabilities
  tokens: number[];
}

interface Beam {
  tokens: number[];
  score: number;
  node: TrieNode;
}

/**
 * Top `beamSize` documents for each of Q queries. inputIds (Q, S) padded with pad id.
 * Each step re-runs the decoder on the whole prefix (docids are a handful of tokens). With `output`,
 * token probabilities are the softmax over those rows only (as the model was trained), else over the
 * whole vocabulary.
 */
export async function beamSearch(
  c: T5Config, w: Weights, trie: DocidTrie, inputIds: Int32Array, Q: number, S: number, beamSize: number, output?: OutputVocabulary,
): Promise<RankedDoc[][]> {
  const K = beamSize;
  // encoder once per query, then each query's states repeated for its K beams
  const enc = tf.tidy(() => {
    const e = encode(c, w, tf.tensor2d(inputIds, [Q, S], 'int32'));
    const rows = tf.tensor1d(Int32Array.from({ length: Q * K }, (_, r) => Math.floor(r / K)), 'int32');
    const D = e.hidden.shape[1];
    const hidden = tf.gather(e.hidden.reshape([Q, S, D]), rows).reshape([Q * K * S, D]) as tf.Tensor2D;  // (Q*K*S, D)
    const bias = tf.gather(e.bias, rows) as tf.Tensor4D;                                                  // (Q*K, 1, 1, S)
    return { hidden, bias };
  });
  const beams: Beam[][] = Array.from({ length: Q }, () => [{ tokens: [], score: 0, node: trie.root }]);
  const finished: RankedDoc[][] = Array.from({ length: Q }, () => []);
  try {
    for (let t = 0; t < trie.maxLength; t++) {
      if (beams.every((b) => b.length === 0)) break;
      const logp = await stepLogProbs(c, w, enc, beams, Q, K, S, t, output);   // (Q*K, V or R) in JS
      const V = logp.length / (Q * K);
      const column = output ? (tok: number): number => output.columnOf(tok) : (tok: number): number => tok;
      for (let q = 0; q < Q; q++) {
        const candidates: Beam[] = [];
        (beams[q] as Beam[]).forEach((beam, k) => {
          const row = (q * K + k) * V;
          for (const [tok, child] of beam.node.children)
            candidates.push({ tokens: [...beam.tokens, tok], score: beam.score + (logp[row + column(tok)] as number), node: child });
        });
        candidates.sort((a, b) => b.score - a.score);
        const next: Beam[] = [];
        for (const cand of candidates.slice(0, K)) {
          if (cand.node.doc >= 0) (finished[q] as RankedDoc[]).push({ doc: cand.node.doc, score: cand.score, tokens: cand.tokens });
          else next.push(cand);
        }
        // log-probabilities only fall: once K finished docs beat the best open beam, it cannot enter the top K
        const done = (finished[q] as RankedDoc[]).sort((a, b) => b.score - a.score);
        const kth = done[K - 1];
        beams[q] = kth && next.every((b) => b.score <= kth.score) ? [] : next;
      }
    }
  } finally {
    tf.dispose([enc.hidden, enc.bias]);
  }
  return finished.map((f) => f.sort((a, b) => b.score - a.score || a.doc - b.doc).slice(0, K));
}

/** Log-probabilities of the next token for every beam row (inactive rows repeat row 0). */
async function stepLogProbs(
  c: T5Config, w: Weights, enc: { hidden: tf.Tensor2D; bias: tf.Tensor4D }, beams: Beam[][],
  Q: number, K: number, S: number, t: number, output?: OutputVocabulary,
): Promise<Float32Array> {
  const T = t + 1;
  const ids = new Int32Array(Q * K * T);                                  // (Q*K, T): start id, then the prefix
  for (let q = 0; q < Q; q++) {
    const qb = beams[q] as Beam[];
    for (let k = 0; k < K; k++) {
      const beam = qb[k] ?? qb[0];
      const row = (q * K + k) * T;
      ids[row] = c.decoderStartTokenId;
      if (beam) for (let i = 0; i < t; i++) ids[row + 1 + i] = beam.tokens[i] as number;
    }
  }
  const logp = tf.tidy(() => {
    const rows = output ? { ids: tf.tensor1d(output.ids, 'int32') } : undefined;
    const logits = decode(c, w, { hidden: enc.hidden, bias: enc.bias, B: Q * K, S }, tf.tensor2d(ids, [Q * K, T], 'int32'), undefined, undefined, rows); // (Q*K*T, V or R)
    const V = logits.shape[1];
    const last = logits.reshape([Q * K, T, V]).slice([0, T - 1, 0], [Q * K, 1, V]).reshape([Q * K, V]);  // (Q*K, V)
    return tf.logSoftmax(last);
  });
  // read outside tidy: tidy walks a returned typed array element by element; async: the webgpu
  // backend cannot read synchronously in Node
  const out = (await logp.data()) as Float32Array;
  logp.dispose();
  return out;
}
