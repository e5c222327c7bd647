/**
 * Texts that belong to documents (augmented texts, pseudo-queries), on disk in append order: the text
 * in a StringSpill, its document (int32) and its kind (uint8 index into `kinds`) in memory, 13 bytes
 * resident per text.
 */
import { join } from 'node:path';
import { growI32, growU8, type GrowableArray } from '../../growable.js';
import { StringSpill } from './string_spill.js';

export interface DocText {
  doc: number;
  /** e.g. the augmented corpus "num2text+pos-mlm", or "pseudo-query". */
  kind: string;
  text: string;
}

/** Kinds fit the uint8 column. */
const MAX_KINDS = 256;

export class DocTextStore {
  private readonly spill: StringSpill;
  private readonly docs: GrowableArray<Int32Array> = growI32();
  private readonly kindOf: GrowableArray<Uint8Array> = growU8();
  private readonly kinds: string[] = [];

  /** Creates `dir`/`name` (deleted by close()). */
  constructor(dir: string, name: string) {
    this.spill = new StringSpill(join(dir, name));
  }

  get count(): number {
    return this.spill.count;
  }

  append(doc: number, kind: string, text: string): void {
    let k = this.kinds.indexOf(kind);
    if (k < 0) {
      if (this.kinds.length === MAX_KINDS) throw new RangeError(`${this.spill.file}: more than ${MAX_KINDS} kinds of text`);
      k = this.kinds.push(kind) - 1;
    }
    this.spill.append(text);
    this.docs.push(doc);
    this.kindOf.push(k);
  }

  /** Every text in append order, read sequentially. */
  *entries(): Generator<DocText> {
    let i = 0;
    for (const text of this.spill.values()) {
      yield { doc: this.docs.get(i), kind: this.kinds[this.kindOf.get(i)] ?? '', text };
      i++;
    }
  }

  get residentBytes(): number {
    return this.spill.residentBytes + this.docs.bytes + this.kindOf.bytes;
  }

  close(): void {
    this.spill.close();
  }
}
