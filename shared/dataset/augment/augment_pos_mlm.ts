/**
 * The "POS-MLM" text augmentation: in a seeded share of sentences (default 10%), a part-of-speech tagger
 * (wink-pos-tagger, Penn tags) marks the verbs (VB, VBD, VBG, VBN, VBP, VBZ); each is masked and refilled
 * by a filler, so the document says the same things with other verbs.
 *
 * Fillers:
 * - MaskedLmVerbFiller: a masked language model (bert-base-uncased's ONNX export, local folder) predicts
 *   the masked word in its document; the best whole alphabetic word that differs from the original wins.
 * - CorpusVerbFiller (offline): learns from the corpus itself which verbs occur between which words, with
 *   the same tag: (tag, previous word, next word) counts, backing off to (tag, previous), (tag, next) and
 *   (tag); a verb is drawn in proportion to its count, the original excluded.
 * A verb no filler can replace keeps its original word. The output never holds a mask token: the
 * refilled words are spliced into the original text at the verbs' offsets, and the result is checked.
 */
import Tagger from 'wink-pos-tagger';
import { Rng, mixSeed } from '../../runtime/random.js';
import { checkLocalModel, loadLocalPipeline, type LocalModelFiles } from '../local_model.js';

export const DEFAULT_POS_MLM_SHARE = 0.1;
const VERB_TAGS: ReadonlySet<string> = new Set(['VB', 'VBD', 'VBG', 'VBN', 'VBP', 'VBZ']);
/** bert-base-uncased's mask token. */
export const BERT_MASK = '[MASK]';
/** Predictions looked at per masked verb. */
const MLM_TOP_K = 10;
/** Keeps the choice of sentences apart from other uses of the seed. */
const SENTENCE_STREAM = 0x706f736d; // "posm"
const START = '<s>';
const END = '</s>';

/** One verb to refill: its span in the document text, its Penn tag and its neighbouring words (lower case). */
export interface VerbSlot {
  start: number;
  end: number;
  word: string;
  tag: string;
  prev: string;
  next: string;
}

/** Sentences: maximal runs ending in . ! or ? (or the text's end); concatenated they are the text. */
function sentenceSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const m of text.matchAll(/[^.!?]*[.!?]+|[^.!?]+$/g)) spans.push([m.index, m.index + m[0].length]);
  return spans;
}

/** The verbs of the chosen sentences of `text`. Sentences are chosen with probability `share`, seeded per document. */
export function findVerbSlots(tagger: Tagger, text: string, docIndex: number, share: number, seed: number): { slots: VerbSlot[]; sentences: number; chosen: number } {
  const rng = new Rng(mixSeed(seed, SENTENCE_STREAM, docIndex));
  const spans = sentenceSpans(text);
  const slots: VerbSlot[] = [];
  let chosen = 0;
  for (const [s, e] of spans) {
    if (rng.nextFloat() >= share) continue;
    chosen++;
    const tokens = tagger.tagSentence(text.slice(s, e));
    // locate each token in the text: the tagger's tokens are substrings in order (spacing is not kept)
    let cursor = s;
    const located = tokens.map((t) => {
      const at = text.indexOf(t.value, cursor);
      if (at < 0 || at >= e) return undefined;
      cursor = at + t.value.length;
      return { start: at, end: cursor, token: t };
    });
    const wordAt = (i: number, step: number): string => {
      for (let j = i + step; j >= 0 && j < tokens.length; j += step) if (tokens[j]?.tag === 'word') return tokens[j]?.normal ?? '';
      return step < 0 ? START : END;
    };
    located.forEach((l, i) => {
      if (l === undefined || l.token.tag !== 'word' || !VERB_TAGS.has(l.token.pos) || !/^[A-Za-z]+$/.test(l.token.value)) return;
      slots.push({ start: l.start, end: l.end, word: l.token.value, tag: l.token.pos, prev: wordAt(i, -1), next: wordAt(i, 1) });
    });
  }
  return { slots, sentences: spans.length, chosen };
}

/** Picks the refill words of one document's slots (same order); a slot keeps its word when nothing fits. */
export interface VerbFiller {
  readonly name: string;
  fill(text: string, slots: readonly VerbSlot[], rng: Rng): Promise<string[]>;
}

/** `text` with each slot's span replaced by its word, matched to the original's capitalisation. */
export function spliceWords(text: string, slots: readonly VerbSlot[], words: readonly string[]): string {
  let out = '';
  let at = 0;
  slots.forEach((slot, i) => {
    const w = words[i] ?? slot.word;
    const cased = /^[A-Z]/.test(slot.word) ? w.charAt(0).toUpperCase() + w.slice(1) : w;
    out += text.slice(at, slot.start) + cased;
    at = slot.end;
  });
  return out + text.slice(at);
}

/** Offline filler: verb counts by (tag, previous word, next word) with back-off, learnt from the corpus's own verbs. */
export class CorpusVerbFiller implements VerbFiller {
  readonly name = 'corpus-context';
  private readonly counts = new Map<string, Map<string, number>>();

  /** Learns from every slot (the verbs the tagger found in the chosen sentences of the corpus). */
  learn(slots: readonly VerbSlot[]): void {
    for (const s of slots) for (const key of this.keys(s)) {
      const m = this.counts.get(key) ?? new Map<string, number>();
      const w = s.word.toLowerCase();
      m.set(w, (m.get(w) ?? 0) + 1);
      this.counts.set(key, m);
    }
  }

  /** Most specific context first. */
  private keys(s: VerbSlot): string[] {
    return [`${s.tag}\t${s.prev}\t${s.next}`, `${s.tag}\t${s.prev}\t`, `${s.tag}\t\t${s.next}`, `${s.tag}\t\t`];
  }

  async fill(_text: string, slots: readonly VerbSlot[], rng: Rng): Promise<string[]> {
    return slots.map((s) => {
      const original = s.word.toLowerCase();
      for (const key of this.keys(s)) {
        const options = [...(this.counts.get(key) ?? [])].filter(([w]) => w !== original);
        if (options.length === 0) continue;
        let total = 0;
        for (const [, n] of options) total += n;
        let r = rng.nextFloat() * total;
        for (const [w, n] of options) if ((r -= n) < 0) return w;
        return options[options.length - 1]?.[0] ?? s.word;
      }
      return s.word;
    });
  }
}

/** bert-base-uncased (or another fill-mask model) from a local ONNX folder. */
export class MaskedLmVerbFiller implements VerbFiller {
  readonly name = 'masked-lm';
  private constructor(readonly model: LocalModelFiles, private readonly predict: (input: unknown, options?: unknown) => Promise<unknown>) {}

  static async load(dir: string): Promise<MaskedLmVerbFiller> {
    const model = checkLocalModel(dir, 'fill-mask', 'POS-MLM (--mlm-model)');
    return new MaskedLmVerbFiller(model, await loadLocalPipeline(model, 'fill-mask'));
  }

  async fill(text: string, slots: readonly VerbSlot[]): Promise<string[]> {
    const words: string[] = [];
    for (const s of slots) {
      // one verb masked at a time, the others as written: the model sees the document's own context
      const masked = text.slice(0, s.start) + BERT_MASK + text.slice(s.end);
      const predictions = (await this.predict(masked, { topk: MLM_TOP_K })) as Array<{ token_str: string }>;
      const best = predictions.map((p) => p.token_str.trim()).find((w) => /^[a-z]+$/i.test(w) && w.toLowerCase() !== s.word.toLowerCase());
      words.push(best ?? s.word);
    }
    return words;
  }
}

export interface PosMlmStats {
  sentences: number;
  chosen_sentences: number;
  verbs_masked: number;
  verbs_replaced: number;
}

/**
 * POS-MLM one document at a time, in two passes over the corpus (so it can be read from disk):
 *   1) slots(text, d) for every document in order: the verbs of its chosen sentences; learn(slots) feeds
 *      the corpus filler, which must see every document before it fills any;
 *   2) refill(text, slots, d) for every document: the text with its verbs refilled, seeded per document.
 */
export class PosMlm {
  readonly stats: PosMlmStats = { sentences: 0, chosen_sentences: 0, verbs_masked: 0, verbs_replaced: 0 };
  private readonly tagger = new Tagger();

  constructor(private readonly share: number, private readonly seed: number, readonly filler: VerbFiller) {
    if (!(share >= 0 && share <= 1)) throw new RangeError(`posMlmAugment: share must be in [0, 1], got ${share}`);
  }

  /** Pass 1: document d's verb slots; the corpus filler learns from them. */
  slots(text: string, d: number): VerbSlot[] {
    const r = findVerbSlots(this.tagger, text, d, this.share, this.seed);
    this.stats.sentences += r.sentences;
    this.stats.chosen_sentences += r.chosen;
    this.stats.verbs_masked += r.slots.length;
    if (this.filler instanceof CorpusVerbFiller) this.filler.learn(r.slots);
    return r.slots;
  }

  /** Pass 2: document d's text with its slots refilled. */
  async refill(text: string, slots: readonly VerbSlot[], d: number): Promise<string> {
    if (slots.length === 0) return text;
    const words = await this.filler.fill(text, slots, new Rng(mixSeed(this.seed, SENTENCE_STREAM, d, 1)));
    words.forEach((w, i) => { if (w.toLowerCase() !== slots[i]?.word.toLowerCase()) this.stats.verbs_replaced++; });
    const refilled = spliceWords(text, slots, words);
    if (count(refilled, BERT_MASK) > count(text, BERT_MASK)) throw new Error(`posMlmAugment: document ${d} would keep a literal ${BERT_MASK}`);
    return refilled;
  }
}

/** POS-MLM over texts held in memory (PosMlm's two passes): the new texts in order, and the counts. */
export async function posMlmAugment(texts: readonly string[], options: { share: number; seed: number; filler: VerbFiller }): Promise<{ texts: string[]; stats: PosMlmStats }> {
  const p = new PosMlm(options.share, options.seed, options.filler);
  const slotsOf = texts.map((text, d) => p.slots(text, d));
  const out: string[] = [];
  for (let d = 0; d < texts.length; d++) out.push(await p.refill(texts[d] as string, slotsOf[d] as VerbSlot[], d));
  return { texts: out, stats: p.stats };
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}
