/**
 * `prepare` on the bundled sample: every augmentation with each docid scheme and indexing mode, the
 * written examples decoded back, and the semantic ids checked against the clustering that made them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadT5Tokenizer, type T5Tokenizer } from '../shared/dataset/tokenizer.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { DOCID_PREFIX, DOCUMENT_PREFIX } from '../shared/dataset/prepare/examples.js';
import { AUGMENTED_FILE, DOCIDS_FILE, DOCUMENTS_FILE, EXAMPLE_KIND_INDEXING } from '../shared/dataset/format.js';
import { docidToTokens, type DocidScheme } from '../shared/dataset/docids/docids.js';
import { openPreparedDataset } from '../shared/dataset/reader.js';
import { loadStopwords } from '../shared/dataset/augment/augment_stopwords.js';
import Tagger from 'wink-pos-tagger';
import { CorpusVerbFiller, findVerbSlots, posMlmAugment } from '../shared/dataset/augment/augment_pos_mlm.js';
import { SAMPLE_JSONL } from '../shared/runtime/paths.js';
import { fitTfidfSvd } from '../shared/dataset/docids/tfidf_svd.js';
import { semanticDocids } from '../shared/dataset/docids/semantic_ids.js';
import type { IndexingMode } from '../shared/dataset/prepare/examples.js';
import { at, prepareOptions, readJsonl } from './prepare_helpers.js';

type DocLine = { docid: string; text: string; source_ids: string[] };
type AugLine = { docid: string; augmentation: string; text: string };

const AUGMENT = 'stopwords,num2text,pos-mlm,num2text+pos-mlm';
const CORPORA = ['stopwords', 'num2text', 'pos-mlm', 'num2text+pos-mlm'];
const PSEUDO_QUERIES = 2;
/** Small leaves make the sample's 1000 documents nest two or three levels deep. */
const SEMANTIC_K = 10;
const SEMANTIC_MAX_LEAF = 30;
const SEED = 7;

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-prepare-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The prefix pieces of a task prefix: its ids without the final </s>. */
function prefixIds(tok: T5Tokenizer, prefix: string): number[] {
  return Array.from(tok.encode(prefix)).slice(0, -1);
}

/**
 * sha256 of every file of the three runs below, as written by prepare when it held the corpus in memory
 * (before the disk-backed store): the store must not change a byte.
 */
const IN_MEMORY_FILES: Record<DocidScheme, Record<string, string>> = {
  naive: {
    'documents.jsonl': 'c4eb2dd071275121fbda0c3d2575df76e9b2b8ec537c8f8a465237b213e9af88',
    'queries.jsonl': '0629326aef75424988af56eaa41135294bab5d2d1f4493585804a237395a48fa',
    'examples.bin': 'a0d295a8884b8ecb25f0e7b24981edbeb1e48ea0fc409c1e6a2faa391c9701ec',
    'examples.idx': 'c18ac6cca92ae49b3adc7c8a279ff663e03bb41b28d6549b8b18d692e29f0300',
    'docids.txt': '9a8c52de869acc23761baed2d3b7314c209640da496736eaa082fb0843820fcb',
    'source_ids.tsv': '084b429bf20fa00414873ff13768027623522576d63825d165fb9a24b7bdc756',
    'augmented.jsonl': '77a0dbb3a160dc298a88d6f3d37274fe7f5ecf109c7cde8945e74eddaeb39fe0',
    'bm25.eval.trec': '067d5bc718dca332aa9df9e884e57d7ef5d5f758d6269802104e9dbab0740e4b',
  },
  atomic: {
    'documents.jsonl': 'f4c2fe72ffeaacb072daff7739afedcfa155227f22aef66f2c383b3632a39684',
    'queries.jsonl': '31525e115b111e578e9e39f15991ee1e5c6e1bcc65ed64bc08bac9449eb98cdf',
    'examples.bin': '51d19472380bd30ed978683985093a625156e6ea616d4545c989a474afbc91fb',
    'examples.idx': 'b49aa7d6e3f061a8bd29c4a5cc5a710f65678619ce8949499129a38086492d27',
    'docids.txt': '8db91b2ee25d579493dbc2ca66417cc945e215b5424349884013834d43df7ac4',
    'source_ids.tsv': 'fe5dfa6b050cbb83ae8a7d019e1801122813d1b9091ef9f125e06aa64054af7c',
    'augmented.jsonl': 'c981c6885fd64bc4b17ce06719c3ff50653f82c05f6827f9cee5f7b7c210275a',
    'bm25.eval.trec': '0d00de9cf2eefa3ee6e0df8449a137641330d1f3b0c71f42387b50aa3beefe31',
  },
  semantic: {
    'documents.jsonl': 'b072bed1bffe8d26de6cdefb9a811159be424750e3b08f5f81b061588ac9f2a4',
    'queries.jsonl': '1e173fc6d274f95890a782654621bc34ae3fdc1fe59f83965cb56b53e6b12413',
    'examples.bin': 'aa64965ee9a79c923aef7a5fa017819f4dcd1bb39a1133dd394c492ca7931efe',
    'examples.idx': 'b78b44f20b4ce55954f25fa2b3dd9e4b60827262df34ccad83b036c61ce79311',
    'docids.txt': '29837d0a1c02fa4a677824944727afd5e9f2e851d3f49b1bb5f5cfcac5fd6a73',
    'source_ids.tsv': '341052cf9d4a38d587271cab0de734f6af6c26f0e3a49e232506c8abd17948c3',
    'augmented.jsonl': '8afd0a41cccefad374344356fe589c6c93d6d2245e9f53a2136b1bf0819bdb72',
    'bm25.eval.trec': '974df3f8cdf219c8557e9d39bad1867d86b1e35e8cb08e6eaa2dc576afac6be7',
  },
};

const RUNS: Array<{ scheme: DocidScheme; indexing: IndexingMode }> = [
  { scheme: 'naive', indexing: 'bidirectional' },
  { scheme: 'atomic', indexing: 'targets2inputs' },
  { scheme: 'semantic', indexing: 'inputs2targets' },
];

for (const { scheme, indexing } of RUNS) {
  test(`sample, ${scheme} docids, ${indexing}: every augmentation, pseudo-queries, examples and files agree`, async (t) => {
    const out = path.join(tmp(t), 'data');
    const tok = await loadT5Tokenizer();
    const m = await prepareDataset(prepareOptions(tok, out, {
      scheme, indexing, augment: AUGMENT, pseudoQueries: PSEUDO_QUERIES, seed: SEED, semanticK: SEMANTIC_K, semanticMaxLeaf: SEMANTIC_MAX_LEAF,
      lowercase: false,   // the in-memory corpus's files below were written before texts were lower-cased
    }));
    assert.equal(m.counts.documents, 1000);
    assert.deepEqual([m.counts.train_queries, m.counts.eval_queries], [800, 200]);
    // sampling.bin is newer than those files: every file they had is byte for byte the same
    const hashes = Object.fromEntries(Object.entries(m.files).filter(([f]) => f !== 'sampling.bin').map(([f, e]) => [f, e.sha256]));
    assert.deepEqual(hashes, IN_MEMORY_FILES[scheme], 'the same bytes as the in-memory corpus wrote');
    assert.ok(m.files['sampling.bin'], 'sampling.bin is written too');
    const p = m.pipeline ?? {};
    const ex = (p['counts'] as { examples: Record<string, number> }).examples;
    const both = indexing === 'bidirectional';
    assert.equal(ex['indexing_inputs2targets'], indexing === 'targets2inputs' ? 0 : 1000);
    assert.equal(ex['indexing_targets2inputs'], indexing === 'inputs2targets' ? 0 : 1000);
    assert.ok((ex['retrieval'] ?? 0) >= 800, 'one retrieval example per relevant docid of each training query');
    assert.equal(m.counts.train_examples, Object.values(ex).reduce((a, b) => a + b, 0));

    const docs = readJsonl<DocLine>(path.join(out, DOCUMENTS_FILE));
    assert.deepEqual(readFileSync(path.join(out, DOCIDS_FILE), 'utf8').split('\n').slice(0, -1), docs.map((d) => d.docid));
    const textOf = new Map(docs.map((d) => [d.docid, d.text]));
    const aug = readJsonl<AugLine>(path.join(out, AUGMENTED_FILE));
    assert.deepEqual([...new Set(aug.map((a) => a.augmentation))], [...CORPORA, 'pseudo-query']);
    assert.equal(aug.filter((a) => a.augmentation !== 'pseudo-query').length, ex['augmented']);
    const stopwords = await loadStopwords();
    for (const a of aug) {
      const original = textOf.get(a.docid) ?? assert.fail(`augmented text of unknown docid ${a.docid}`);
      assert.ok(!a.text.includes('[MASK]'), `a literal [MASK] in ${a.augmentation} of ${a.docid}`);
      assert.notEqual(a.text, original, 'an augmented corpus keeps only changed texts');
      // the kept words are joined by single spaces, punctuation gone
      if (a.augmentation === 'stopwords') for (const w of a.text.split(' ')) assert.ok(!stopwords.has(w.toLowerCase()) && !/[;:!?()"]/.test(w), `'${w}' kept`);
      if (a.augmentation === 'pos-mlm') {
        // verbs replaced one word for one word: the same number of words, some of them different
        assert.equal(a.text.split(/\s+/).length, original.split(/\s+/).length, `${a.text}\n${original}`);
      }
    }
    const bradford = docs.find((d) => d.text.includes('between 1621 and 1657')) ?? assert.fail('the Bradford passage');
    const bradfordNums = aug.find((a) => a.docid === bradford.docid && a.augmentation === 'num2text') ?? assert.fail('its num2text text');
    assert.match(bradfordNums.text, /between sixteen twenty one and sixteen fifty seven/);
    const perDoc = new Map<string, number>();
    for (const a of aug) if (a.augmentation === 'pseudo-query') perDoc.set(a.docid, (perDoc.get(a.docid) ?? 0) + 1);
    assert.ok([...perDoc.values()].every((n) => n >= 1 && n <= PSEUDO_QUERIES));
    assert.ok(perDoc.size > 990, `pseudo-queries for ${perDoc.size} of 1000 documents`);

    // the first examples, decoded back: their inputs and targets are the first document's
    const data = await openPreparedDataset(out);
    t.after(() => data.close());
    const d0 = at(docs, 0);
    const docidTokens = Array.from(docidToTokens(scheme, d0.docid));
    const e0 = data.example(0);
    assert.equal(e0.kind, EXAMPLE_KIND_INDEXING);
    if (indexing === 'targets2inputs') {
      assert.deepEqual(Array.from(e0.input), docidTokens);
      assert.deepEqual(Array.from(e0.target), Array.from(tok.encode(d0.text, 64)));
    } else {
      const prefix = both ? prefixIds(tok, DOCUMENT_PREFIX) : [];
      assert.deepEqual(Array.from(e0.input.slice(0, prefix.length)), prefix);
      assert.equal(tok.decode(e0.input.slice(prefix.length)), tok.decode(tok.encode(d0.text, 64 - prefix.length)));
      assert.deepEqual(Array.from(e0.target), docidTokens);
    }
    if (both) assert.deepEqual(Array.from(data.example(1).input), [...prefixIds(tok, DOCID_PREFIX), ...docidTokens]);
    if (scheme === 'semantic') {
      const info = p['docids'] as { embedder: { name: string }; k: number; max_leaf: number };
      assert.deepEqual([info.embedder.name, info.k, info.max_leaf], ['tfidf-svd', SEMANTIC_K, SEMANTIC_MAX_LEAF]);
      checkSemanticIds(docs);
    }
  });
}

/** Squared Euclidean distance in float64. */
function dist2(a: Float32Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += ((a[j] as number) - (b[j] as number)) ** 2;
  return s;
}

/**
 * Semantic ids: unique digit strings; leaves (ids minus their 2-digit position) hold at most c documents;
 * the ids are exactly the recursive k-means of the documents' TF-IDF + SVD embeddings; and at every inner
 * node each document lies nearest the centroid of its own child group (k-means's fixed point).
 */
function checkSemanticIds(docs: readonly DocLine[]): void {
  const ids = docs.map((d) => d.docid);
  assert.equal(new Set(ids).size, ids.length, 'unique');
  for (const id of ids) assert.match(id, /^\d+$/);
  const leafWidth = String(SEMANTIC_MAX_LEAF - 1).length;
  const leaves = new Map<string, number>();
  for (const id of ids) leaves.set(id.slice(0, -leafWidth), (leaves.get(id.slice(0, -leafWidth)) ?? 0) + 1);
  assert.ok([...leaves.values()].every((n) => n <= SEMANTIC_MAX_LEAF), 'leaves of at most c documents');
  assert.ok(Math.max(...ids.map((id) => id.length)) >= 1 + 1 + leafWidth, 'the sample nests at least two levels');

  const { embeddings } = fitTfidfSvd(docs.map((d) => d.text), { seed: SEED });
  assert.deepEqual(semanticDocids(embeddings, { seed: SEED, k: SEMANTIC_K, maxLeaf: SEMANTIC_MAX_LEAF }), ids, 'the ids are the clustering of the embeddings');
  // every inner node: its ids are all longer than prefix + leaf position
  const prefixes = new Set<string>(['']);
  for (const id of ids) for (let l = 1; l < id.length - leafWidth; l++) prefixes.add(id.slice(0, l));
  let checked = 0;
  for (const prefix of prefixes) {
    const members = ids.flatMap((id, i) => (id.startsWith(prefix) ? [i] : []));
    if (members.some((i) => at(ids, i).length <= prefix.length + leafWidth)) continue; // a leaf
    const groups = new Map<string, number[]>();
    for (const i of members) { const c = at(ids, i)[prefix.length] ?? ''; groups.set(c, [...(groups.get(c) ?? []), i]); }
    const centroids = new Map([...groups].map(([c, g]) => {
      const mean = new Float64Array(at(embeddings, 0).length);
      for (const i of g) at(embeddings, i).forEach((x, j) => { mean[j] = (mean[j] as number) + x / g.length; });
      return [c, mean] as const;
    }));
    for (const [c, g] of groups) {
      for (const i of g) {
        const e = at(embeddings, i);
        const own = dist2(e, centroids.get(c) as Float64Array);
        for (const [other, centre] of centroids) if (other !== c) assert.ok(own <= dist2(e, centre) + 1e-9, `doc ${i} (${at(ids, i)}) is nearer cluster ${prefix}${other}`);
      }
    }
    checked++;
  }
  assert.ok(checked >= 2, `inner nodes checked: ${checked}`);
}

test('POS-MLM with the corpus filler: seeded, only the tagged verbs change, share of sentences respected', async () => {
  const texts = readJsonl<{ passage: string }>(SAMPLE_JSONL).slice(0, 300).map((r) => r.passage);
  const run = (seed: number, share: number) => posMlmAugment(texts, { share, seed, filler: new CorpusVerbFiller() });
  const a = await run(3, 0.1), b = await run(3, 0.1), c = await run(4, 0.1);
  assert.deepEqual(a.texts, b.texts, 'same seed, same texts');
  assert.notDeepEqual(a.texts, c.texts);
  const share = a.stats.chosen_sentences / a.stats.sentences;
  assert.ok(share > 0.05 && share < 0.15, `chosen share ${share}`);
  assert.ok(a.stats.verbs_replaced > 0.8 * a.stats.verbs_masked, JSON.stringify(a.stats));
  // outside the verbs the tagger marked, every character is the original's; each verb is one new word
  const tagger = new Tagger();
  texts.forEach((text, d) => {
    const out = at(a.texts, d);
    let q = 0, pos = 0;
    for (const slot of findVerbSlots(tagger, text, d, 0.1, 3).slots) {
      const between = text.slice(pos, slot.start);
      assert.ok(out.startsWith(between, q), `document ${d}: text before '${slot.word}' changed`);
      q += between.length;
      const word = /^[A-Za-z]+/.exec(out.slice(q))?.[0] ?? assert.fail(`document ${d}: no word in place of '${slot.word}'`);
      q += word.length;
      pos = slot.end;
    }
    assert.equal(out.slice(q), text.slice(pos), `document ${d}: the end changed`);
  });
  const all = await run(3, 1);
  assert.ok(all.stats.chosen_sentences === all.stats.sentences);
  const none = await run(3, 0);
  assert.deepEqual(none.texts, texts);
});
