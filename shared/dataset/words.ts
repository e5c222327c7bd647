/**
 * The plain word split used by the lexical parts of the pipeline (BM25, TF-IDF): lower case, runs of
 * letters and digits (combining marks kept with their letter), everything else a separator.
 * "Hello, World-2!" -> ["hello", "world", "2"].
 */
const WORD_RUN = /[\p{L}\p{N}\p{M}]+/gu;

export function lowercaseWords(text: string): string[] {
  return text.toLowerCase().match(WORD_RUN) ?? [];
}
