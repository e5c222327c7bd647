/**
 * Texts that belong to documents (augmented texts, pseudo-queries), on disk in append order: the text
 * in a StringSpill, its document (int32) and its kind (uint8 index into `kinds`) in memory, 13 bytes
 * resident per text. save() writes the columns beside the spill; the store is reopened from them (a
 * resumed prepare) by passing what save() returned to the constructor.
 */
import { join } from 'node:path';
import { GrowableArray, growI32, growU8 } from '../../runtime/growable.js';
import { readColumn, writeColumn } from './columns.js';
import { StringSpill } from './string_spill.js';

export interface DocText {
  doc: number;
  /** e.g. the augmented corpus "num2text+pos-mlm", or "pseudo-query". */
  kind: string;
  text: string;
}

/** What reopening needs besides the files. */
export interface SavedDocTexts {
  count: number;
  kinds: string[];
}

/** Kinds fit the uint8 column. */
const MAX_KINDS = 256;

export class DocTextStore {
  private readonly spill: StringSpill;
  private readonly docs: GrowableArray<Int32Array>;
  private readonly kindOf: GrowableArray<Uint8Array>;
  private readonly kinds: string[];

  /** Creates `dir`/`name` (deleted by close()); with `saved`, reopens what save() left there. */
  constructor(private readonly dir: string, private readonly name: string, saved?: SavedDocTexts) {
    if (saved === undefined) {
      this.spill = new StringSpill(join(dir, name));
      this.docs = growI32();
      this.kindOf = growU8();
      this.kinds = [];
      return;
    }
    const i32 = (n: number): Int32Array => new Int32Array(n);
    const u8 = (n: number): Uint8Array => new Uint8Array(n);
    this.docs = GrowableArray.filled(readColumn(join(dir, `${name}.doc`), i32, saved.count), i32);
    this.kindOf = GrowableArray.filled(readColumn(join(dir, `${name}.kind`), u8, saved.count), u8);
    this.kinds = [...saved.kinds];
    this.spill = new StringSpill(join(dir, name), readColumn(join(dir, `${name}.ends`), (n) => new Float64Array(n), saved.count));
  }

  /** Fsyncs the texts and writes the columns; the result reopens the store after a crash. */
  save(): SavedDocTexts {
    this.spill.sync();
    writeColumn(join(this.dir, `${this.name}.ends`), this.spill.endOffsets());
    writeColumn(join(this.dir, `${this.name}.doc`), this.docs.trimmed());
    writeColumn(join(this.dir, `${this.name}.kind`), this.kindOf.trimmed());
    return { count: this.count, kinds: [...this.kinds] };
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

  /** Closes and deletes the texts; with `keep`, leaves them for a resumed run. */
  close(keep = false): void {
    this.spill.close(keep);
  }
}
