/**
 * Prefix trie of the valid docid token sequences (each ending with </s>): beam search may only
 * extend a prefix by a token that keeps it inside the trie, so every returned docid exists.
 */
export interface TrieNode {
  children: Map<number, TrieNode>;
  /** Index of the document whose sequence ends here (set on the node after </s>). */
  doc: number;
}

export class DocidTrie {
  readonly root: TrieNode = { children: new Map(), doc: -1 };
  readonly maxLength: number;
  readonly size: number;

  constructor(sequences: readonly Int32Array[]) {
    let maxLength = 0;
    sequences.forEach((seq, doc) => {
      let node = this.root;
      for (const tok of seq) {
        let next = node.children.get(tok);
        if (!next) {
          next = { children: new Map(), doc: -1 };
          node.children.set(tok, next);
        }
        node = next;
      }
      if (node.doc !== -1) throw new Error(`docid trie: documents ${node.doc} and ${doc} have the same token sequence [${[...seq].join(', ')}]`);
      if (node.children.size > 0) throw new Error(`docid trie: the sequence of document ${doc} is a prefix of another docid; end each with </s>`);
      node.doc = doc;
      maxLength = Math.max(maxLength, seq.length);
    });
    this.maxLength = maxLength;
    this.size = sequences.length;
  }

  /** The node reached by `prefix`, or undefined when the prefix is not a docid prefix. */
  walk(prefix: ArrayLike<number>): TrieNode | undefined {
    let node: TrieNode | undefined = this.root;
    for (let i = 0; i < prefix.length && node; i++) node = node.children.get(prefix[i] as number);
    return node;
  }
}
