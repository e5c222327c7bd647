/**
 * T5's special token ids, in a module of their own so that code which only needs the ids (docids,
 * beam search, batching) does not load the tokenizer library.
 */

/** `<pad>`: padding, and the decoder's start token. */
export const PAD_ID = 0;
/** `</s>`: end of sequence; every encoded input and docid target ends with it. */
export const EOS_ID = 1;
/** `<unk>`: a character the vocabulary cannot spell. */
export const UNK_ID = 2;
