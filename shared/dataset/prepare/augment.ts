/**
 * The augmented corpora of `prepare`. `--augment` lists corpora separated by commas; each corpus is a
 * chain of steps joined by '+', applied left to right to every document:
 *   --augment stopwords,num2text+pos-mlm   ->  corpus "stopwords" and corpus "num2text+pos-mlm".
 * Steps: stopwords (NLTK list + punctuation), num2text (numbers as words), pos-mlm (verbs refilled).
 * A corpus keeps only the documents it changed (an unchanged or emptied text would add nothing).
 */
import { ConfigError } from '../../errors.js';
import { mixSeed } from '../../random.js';
import { numbersToText } from '../../pipeline/augment_num2text.js';
import { removeStopwords } from '../../pipeline/augment_stopwords.js';
import { CorpusVerbFiller, MaskedLmVerbFiller, posMlmAugment, type PosMlmStats } from '../../pipeline/augment_pos_mlm.js';
import type { JsonValue } from '../format.js';
import type { Stages } from './progress.js';

export const AUGMENTATION_STEPS = ['stopwords', 'num2text', 'pos-mlm'] as const;
export type AugmentationStep = (typeof AUGMENTATION_STEPS)[number];

/** Documents between progress reports of the per-document steps. */
const TICK_EVERY = 1024;

/** One augmented text of one document. */
export interface AugmentedText {
  doc: number;
  /** The corpus: its chain, e.g. "num2text+pos-mlm". */
  augmentation: string;
  text: string;
}

export interface AugmentOptions {
  seed: number;
  /** Share of sentences POS-MLM masks. */
  posMlmShare: number;
  /** Local fill-mask model folder for POS-MLM; empty: the corpus filler. */
  mlmModel: string;
  stopwords: ReadonlySet<string>;
  stages: Stages;
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

/** Runs every chain over `texts`; returns the changed texts and a manifest report per corpus. */
export async function runAugmentations(texts: readonly string[], chains: AugmentationStep[][], o: AugmentOptions): Promise<{ augmented: AugmentedText[]; report: JsonValue[] }> {
  const augmented: AugmentedText[] = [];
  const report: JsonValue[] = [];
  for (const [c, chain] of chains.entries()) {
    const name = chain.join('+');
    const timer = o.stages.start(`augment ${name}`, 'documents', texts.length);
    let current = [...texts];
    const steps: JsonValue[] = [];
    for (const step of chain) {
      if (step === 'stopwords') {
        current = current.map((t, d) => { if (d % TICK_EVERY === 0) timer.tick(d); return removeStopwords(t, o.stopwords); });
        steps.push({ step, list: 'nltk-english', words: o.stopwords.size });
      } else if (step === 'num2text') {
        current = current.map((t, d) => { if (d % TICK_EVERY === 0) timer.tick(d); return numbersToText(t); });
        steps.push({ step, library: 'n2words', ordinals: true, years: 'spoken' });
      } else {
        const filler = o.mlmModel === '' ? new CorpusVerbFiller() : await MaskedLmVerbFiller.load(o.mlmModel);
        const seed = mixSeed(o.seed, c);
        const r = await posMlmAugment(current, { share: o.posMlmShare, seed, filler, onProgress: (d) => { if (d % TICK_EVERY === 0) timer.tick(d); } });
        current = r.texts;
        steps.push({ step, tagger: 'wink-pos-tagger', filler: filler.name, ...(filler instanceof MaskedLmVerbFiller ? { model_dir: filler.model.dir } : {}), share: o.posMlmShare, seed, ...statsJson(r.stats) });
      }
    }
    let unchanged = 0, emptied = 0;
    current.forEach((text, doc) => {
      if (text.trim() === '') emptied++;
      else if (text === texts[doc]) unchanged++;
      else augmented.push({ doc, augmentation: name, text });
    });
    const stage = timer.end(texts.length);
    report.push({ corpus: name, steps, documents: texts.length - unchanged - emptied, unchanged_skipped: unchanged, emptied_skipped: emptied, docs_per_s: stage.items_per_s });
  }
  return { augmented, report };
}

function statsJson(s: PosMlmStats): Record<string, number> {
  return { sentences: s.sentences, chosen_sentences: s.chosen_sentences, verbs_masked: s.verbs_masked, verbs_replaced: s.verbs_replaced };
}
