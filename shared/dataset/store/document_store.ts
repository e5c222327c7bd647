/**
 * The deduplicated documents of `prepare`, on disk: passage texts and source ids in two StringSpills,
 * found again through StringHashIndexes, so that resident memory per document is a few tens of bytes
 * whatever the passages' length:
 *   text:       8 (end offset) + 17..34 (hash slot)                       ~ 25-42 B per document
 *   source ids: 8 (offset) + 17..34 (hash slot) + 4 (its document) + 4 (next id of that document)
 *                                                                          ~ 33-50 B per source id
 *   per document: first and last source id (4 + 4)                         8 B
 * Document d's source ids form a linked list in arrival order (first, next, ..., last).
 */
import { join } from 'node:path';
import { growI32, type GrowableArray } from '../../growable.js';
import type { Doc } from '../format.js';
import { StringHashIndex, type StringHash, hash64 } from './hash_index.js';
import { StringSpill } from './string_spill.js';

const NONE = -1;

export class DocumentStore {
  private readonly textSpill: StringSpill;
  private readonly idSpill: StringSpill;
  private readonly docOfText: StringHashIndex;
  private readonly idOfSource: StringHashIndex;
  private readonly idDoc: GrowableArray<Int32Array> = growI32();     // (source ids) document of each id
  private readonly idNext: GrowableArray<Int32Array> = growI32();    // (source ids) next id of the same document
  private readonly firstId: GrowableArray<Int32Array> = growI32();   // (documents)
  private readonly lastId: GrowableArray<Int32Array> = growI32();    // (documents)

  /** Creates the store's files in `dir` (deleted by close()); `hash` is replaceable for collision tests. */
  constructor(dir: string, hash: StringHash = hash64) {
    this.textSpill = new StringSpill(join(dir, 'documents.text'));
    this.idSpill = new StringSpill(join(dir, 'documents.ids'));
    this.docOfText = new StringHashIndex((d) => this.textSpill.get(d), hash);
    this.idOfSource = new StringHashIndex((i) => this.idSpill.get(i), hash);
  }

  get count(): number {
    return this.textSpill.count;
  }

  /** The document holding `text`, or -1. */
  documentOfText(text: string): number {
    return this.docOfText.get(text);
  }

  /** Stores a new distinct text as the next document; returns its index. */
  addDocument(text: string): number {
    const d = this.textSpill.append(text);
    this.docOfText.add(text, d);
    this.firstId.push(NONE);
    this.lastId.push(NONE);
    return d;
  }

  /** The document a source id was given to, or -1. */
  documentOfSourceId(id: string): number {
    const i = this.idOfSource.get(id);
    return i === NONE ? NONE : this.idDoc.get(i);
  }

  /** Gives a new source id to document `d` (after its earlier ids). */
  addSourceId(id: string, d: number): void {
    const i = this.idSpill.append(id);
    this.idOfSource.add(id, i);
    this.idDoc.push(d);
    this.idNext.push(NONE);
    const last = this.lastId.get(d);
    if (last === NONE) this.firstId.set(d, i);
    else this.idNext.set(last, i);
    this.lastId.set(d, i);
  }

  text(d: number): string {
    return this.textSpill.get(d);
  }

  /** Every text in document order, read sequentially. */
  texts(): Generator<string> {
    return this.textSpill.values();
  }

  /** Document d's source ids in arrival order. */
  sourceIds(d: number): string[] {
    const out: string[] = [];
    for (let i = this.firstId.get(d); i !== NONE; i = this.idNext.get(i)) out.push(this.idSpill.get(i));
    return out;
  }

  /** Every document with `docid(d)`, in order. */
  *documents(docid: (d: number) => string): Generator<Doc> {
    let d = 0;
    for (const text of this.texts()) {
      yield { docid: docid(d), text, sourceIds: this.sourceIds(d) };
      d++;
    }
  }

  /** Bytes in memory (offsets, hash tables, id lists) and on disk (texts and ids). */
  get footprint(): { residentBytes: number; diskBytes: number; keyReads: number } {
    const columns = [this.idDoc, this.idNext, this.firstId, this.lastId].reduce((s, c) => s + c.bytes, 0);
    return {
      residentBytes: this.textSpill.residentBytes + this.idSpill.residentBytes + this.docOfText.residentBytes + this.idOfSource.residentBytes + columns,
      diskBytes: this.textSpill.diskBytes + this.idSpill.diskBytes,
      keyReads: this.docOfText.keyReads + this.idOfSource.keyReads,
    };
  }

  close(): void {
    this.textSpill.close();
    this.idSpill.close();
  }
}
