/**
 * The augmented corpora of `prepare`. `--augment` lists corpora separated by commas; each corpus is a
 * chain of steps joined by '+', applied left to right to every document:
 *   --augment stopwords,num2text+pos-mlm   ->  corpus "stopwords" and corpus "num2text+pos-mlm".
 * Steps: stopwords (NLTK list + punctuation), num2text (numbers as words), pos-mlm (verbs refilled).
 * A corpus keeps only the documents it changed (an unchanged or emptied text would add nothing).
 *
 * Streaming: documents are read from the store one at a time; stopwords and num2text are applied on
 * the fly, POS-MLM reads its input twice (verbs first, for the corpus filler, then refills) through a
 * spill of its input and of each document's verb slots; the changed texts go to a DocTextStore on disk.
 * Resident: 13 bytes per augmented text, plus the corpus filler's verb-context counts (grows with the
 * distinct (tag, previous, next) contexts, not with documents' length).
 */
import { join } from 'node:path';
import { ConfigError } from '../../runtime/errors.js';
import { mixSeed } from '../../runtime/random.js';
import { numbersToText } from '../augment/augment_num2text.js';
import { removeStopwords } from '../augment/augment_stopwords.js';
import { CorpusVerbFiller, MaskedLmVerbFiller, PosMlm, type PosMlmStats, type VerbSlot } from '../augment/augment_pos_mlm.js';
import type { JsonValue } from '../format.js';
import { DocTextStore } from '../store/doc_texts.js';
import { StringSpill } from '../store/string_spill.js';
import type { TextCorpus } from './assign_docids.js';
import type { Stages, StageTimer } from './progress.js';

export const AUGMENTATION_STEPS = ['stopwords', 'num2text', 'pos-mlm'] as const;
export type AugmentationStep = (typeof AUGMENTATION_STEPS)[number];

/** Documents between progress reports of the per-document steps. */
const TICK_EVERY = 1024;

export interface AugmentOptions {
  seed: number;
  /** Share of sentences POS-MLM masks. */
  posMlmShare: number;
  /** Local fill-mask model folder for POS-MLM; empty: the corpus filler. */
  mlmModel: string;
  stopwords: ReadonlySet<string>;
  stages: Stages;
  /** Folder for the spills (the run's work folder). */
  workDir: string;
}

/** "a+b,c" -> [[a, b], [c]]; errors name the unknown step. Empty: no corpora. */
export function parseAugmentSpec(spec: string): AugmentationStep[][] {
  if (spec.trim() === '') return [];
  const chains = spec.split(',').map((chain) => chain.split('+').map((s) => s.trim()));
  const names = new Set<string>();
  for (const chain of chains) {
    for (const step of chain) {
      if (!(AUGMENTATION_STEPS as readonly string[]).includes(step)) {
        throw new ConfigError('prepare.augment', `unknown augmentation '${step}' in '${spec}'; steps: ${AUGMENTATION_STEPS.join(', ')} (',' separates corpora, '+' chains steps)`);
      }
    }
    const name = chain.join('+');
    if (names.has(name)) throw new ConfigError('prepare.augment', `corpus '${name}' is listed twice in '${spec}'`);
    names.add(name);
  }
  return chains as AugmentationStep[][];
}

/**
 * Runs every chain over the documents; the changed texts go to `out` (kind: the corpus name), corpus
 * by corpus, in document order. Returns a manifest report per corpus.
 */
export async function runAugmentations(docs: TextCorpus, chains: AugmentationStep[][], out: DocTextStore, o: AugmentOptions): Promise<JsonValue[]> {
  const report: JsonValue[] = [];
  const n = docs.count;
  for (const [c, chain] of chains.entries()) {
    const name = chain.join('+');
    const timer = o.stages.start(`augment ${name}`, 'documents', n);
    const spills: StringSpill[] = [];
    try {
      let current: TextCorpus = docs;
      const steps: JsonValue[] = [];
      for (const [s, step] of chain.entries()) {
        if (step === 'stopwords') {
          current = mapTexts(current, (t) => removeStopwords(t, o.stopwords));
          steps.push({ step, list: 'nltk-english', words: o.stopwords.size });
        } else if (step === 'num2text') {
          current = mapTexts(current, numbersToText);
          steps.push({ step, library: 'n2words', ordinals: true, years: 'spoken' });
        } else {
          const filler = o.mlmModel === '' ? new CorpusVerbFiller() : await MaskedLmVerbFiller.load(o.mlmModel);
          const seed = mixSeed(o.seed, c);
          const pos = new PosMlm(o.posMlmShare, seed, filler);
          const spill = (what: string): StringSpill => { const x = new StringSpill(join(o.workDir, `augment-${c}-${s}.${what}`)); spills.push(x); return x; };
          current = await posMlmPasses(current, pos, spill('input'), spill('slots'), spill('output'), timer);
          steps.push({ step, tagger: 'wink-pos-tagger', filler: filler.name, ...(filler instanceof MaskedLmVerbFiller ? { model_dir: filler.model.dir } : {}), share: o.posMlmShare, seed, ...statsJson(pos.stats) });
        }
      }
      let unchanged = 0, emptied = 0, doc = 0;
      const originals = docs.texts()[Symbol.iterator]();
      for (const text of current.texts()) {
        const original = originals.next().value as string;   // both have n texts
        if (text.trim() === '') emptied++;
        else if (text === original) unchanged++;
        else out.append(doc, name, text);
        if (++doc % TICK_EVERY === 0) timer.tick(doc);
      }
      const stage = timer.end(n);
      report.push({ corpus: name, steps, documents: n - unchanged - emptied, unchanged_skipped: unchanged, emptied_skipped: emptied, docs_per_s: stage.items_per_s });
    } finally {
      for (const x of spills) x.close();
    }
  }
  return report;
}

/** `corpus` with `fn` applied to each text as it is read. */
function mapTexts(corpus: TextCorpus, fn: (text: string) => string): TextCorpus {
  return {
    count: corpus.count,
    *texts() { for (const t of corpus.texts()) yield fn(t); },
  };
}

/** POS-MLM's two passes: 1) slots of every input text (spilled with the input), 2) refills into `output`. */
async function posMlmPasses(input: TextCorpus, pos: PosMlm, inputSpill: StringSpill, slotSpill: StringSpill, output: StringSpill, timer: StageTimer): Promise<TextCorpus> {
  let d = 0;
  for (const text of input.texts()) {
    inputSpill.append(text);
    slotSpill.append(JSON.stringify(pos.slots(text, d)));
    if (++d % TICK_EVERY === 0) timer.tick(d);
  }
  const slots = slotSpill.values();
  d = 0;
  for (const text of inputSpill.values()) {
    output.append(await pos.refill(text, JSON.parse(slots.next().value as string) as VerbSlot[], d));
    if (++d % TICK_EVERY === 0) timer.tick(d);
  }
  return { count: output.count, texts: () => output.values() };
}

function statsJson(s: PosMlmStats): Record<string, number> {
  return { sentences: s.sentences, chosen_sentences: s.chosen_sentences, verbs_masked: s.verbs_masked, verbs_replaced: s.verbs_replaced };
}
