/**
 * The deduplicated documents of `prepare`, on disk: passage texts and source ids in two StringSpills,
 * found again through StringHashIndexes, so that resident memory per document is a few tens of bytes
 * whatever the passages' length:
 *   text:       8 (end offset) + 17..34 (hash slot)                       ~ 25-42 B per document
 *   source ids: 8 (offset) + 17..34 (hash slot) + 4 (its document) + 4 (next id of that document)
 *                                                                          ~ 33-50 B per source id
 *   per document: first and last source id (4 + 4)                         8 B
 * Document d's source ids form a linked list in arrival order (first, next, ..., last).
 * save() writes the columns beside the spills; DocumentStore.reopen reads them back (for a resumed
 * prepare), read-only: the hash indexes are not saved, and only the read stage looks texts up.
 */
import { join } from 'node:path';
import { GrowableArray, growI32 } from '../../runtime/growable.js';
import { readColumn, writeColumn } from './columns.js';
import type { Doc } from '../format.js';
import { StringHashIndex, type StringHash, hash64 } from './hash_index.js';
import { StringSpill } from './string_spill.js';

const NONE = -1;

/** What reopening needs besides the files: how many documents and source ids. */
export interface SavedDocumentStore {
  documents: number;
  sourceIds: number;
}

export class DocumentStore {
  private readonly textSpill: StringSpill;
  private readonly idSpill: StringSpill;
  private readonly docOfText: StringHashIndex;
  private readonly idOfSource: StringHashIndex;
  private readonly idDoc: GrowableArray<Int32Array>;     // (source ids) document of each id
  private readonly idNext: GrowableArray<Int32Array>;    // (source ids) next id of the same document
  private readonly firstId: GrowableArray<Int32Array>;   // (documents)
  private readonly lastId: GrowableArray<Int32Array>;    // (documents)
  /** Reopened from saved files: lookups and additions would need the unsaved hash indexes. */
  private readonly readOnly: boolean;

  /** Creates the store's files in `dir` (deleted by close()); `hash` is replaceable for collision tests. */
  constructor(private readonly dir: string, hash: StringHash = hash64, saved?: SavedDocumentStore) {
    const i32 = (n: number): Int32Array => new Int32Array(n);
    const column = (name: string, n: number): GrowableArray<Int32Array> => (saved ? GrowableArray.filled(readColumn(join(dir, name), i32, n), i32) : growI32());
    const ends = (name: string, n: number): Float64Array | undefined => (saved ? readColumn(join(dir, name), (k) => new Float64Array(k), n) : undefined);
    this.readOnly = saved !== undefined;
    this.idDoc = column('documents.id-doc', saved?.sourceIds ?? 0);
    this.idNext = column('documents.id-next', saved?.sourceIds ?? 0);
    this.firstId = column('documents.first-id', saved?.documents ?? 0);
    this.lastId = column('documents.last-id', saved?.documents ?? 0);
    this.textSpill = new StringSpill(join(dir, 'documents.text'), ends('documents.text.ends', saved?.documents ?? 0));
    this.idSpill = new StringSpill(join(dir, 'documents.ids'), ends('documents.ids.ends', saved?.sourceIds ?? 0));
    this.docOfText = new StringHashIndex((d) => this.textSpill.get(d), hash);
    this.idOfSource = new StringHashIndex((i) => this.idSpill.get(i), hash);
  }

  /** The store saved by save() in `dir`, read-only; throws naming a file that is missing or of the wrong size. */
  static reopen(dir: string, saved: SavedDocumentStore): DocumentStore {
    return new DocumentStore(dir, hash64, saved);
  }

  /** Fsyncs the spills and writes the columns: reopen(dir, returned) gets this store back after a crash. */
  save(): SavedDocumentStore {
    this.textSpill.sync();
    this.idSpill.sync();
    writeColumn(join(this.dir, 'documents.text.ends'), this.textSpill.endOffsets());
    writeColumn(join(this.dir, 'documents.ids.ends'), this.idSpill.endOffsets());
    writeColumn(join(this.dir, 'documents.id-doc'), this.idDoc.trimmed());
    writeColumn(join(this.dir, 'documents.id-next'), this.idNext.trimmed());
    writeColumn(join(this.dir, 'documents.first-id'), this.firstId.trimmed());
    writeColumn(join(this.dir, 'documents.last-id'), this.lastId.trimmed());
    return { documents: this.count, sourceIds: this.idSpill.count };
  }

  private checkIndexed(): void {
    if (this.readOnly) throw new Error(`${this.dir}: a reopened document store is read-only (its hash indexes are not saved)`);
  }

  get count(): number {
    return this.textSpill.count;
  }

  /** The document holding `text`, or -1. */
  documentOfText(text: string): number {
    this.checkIndexed();
    return this.docOfText.get(text);
  }

  /** Stores a new distinct text as the next document; returns its index. */
  addDocument(text: string): number {
    this.checkIndexed();
    const d = this.textSpill.append(text);
    this.docOfText.add(text, d);
    this.firstId.push(NONE);
    this.lastId.push(NONE);
    return d;
  }

  /** The document a source id was given to, or -1. */
  documentOfSourceId(id: string): number {
    this.checkIndexed();
    const i = this.idOfSource.get(id);
    return i === NONE ? NONE : this.idDoc.get(i);
  }

  /** Gives a new source id to document `d` (after its earlier ids). */
  addSourceId(id: string, d: number): void {
    this.checkIndexed();
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

  /** Closes and deletes the files; with `keep`, leaves them for a resumed run. */
  close(keep = false): void {
    this.textSpill.close(keep);
    this.idSpill.close(keep);
  }
}
