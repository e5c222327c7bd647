/**
 * The "stopwords" text augmentation: drop English stopwords (the NLTK list, 179 words, shipped in
 * data/nltk-stopwords/english) and all punctuation, keeping the remaining words in order.
 *
 * Words are runs of letters and digits. Two joiners stay inside a word:
 * - an apostrophe (' or ’) between letters/digits, so the list's contractions match whole
 *   ("don't", "should've" are dropped) and possessives survive ("dog's" stays "dog's");
 * - a '.' or ',' between digits, so numbers survive ("3.5", "1,500").
 * Everything else (punctuation, symbols, hyphens, whitespace) separates words and is removed; the
 * kept words are joined by single spaces. Matching ignores case (the list is lower case, ’ is read
 * as '); kept words keep their case.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../runtime/errors.js';
import { REPO_ROOT } from '../../runtime/paths.js';

/** The NLTK English stopword list shipped with the repo (see data/nltk-stopwords/MANIFEST.txt). */
export const DEFAULT_STOPWORDS_FILE = join(REPO_ROOT, 'data', 'nltk-stopwords', 'english');

/** A word: letters/digits, joined by apostrophes, or by '.'/',' when digits are on both sides. */
const WORD = /[\p{L}\p{N}\p{M}]+(?:(?:['’]|(?<=\p{N})[.,](?=\p{N}))[\p{L}\p{N}\p{M}]+)*/gu;

/**
 * Reads a stopword list: one word per line, LF or CRLF. Blank lines (the file's trailing empty line)
 * are skipped; a line with inner whitespace or a repeated word is an error naming its line.
 */
export async function loadStopwords(file: string = DEFAULT_STOPWORDS_FILE): Promise<ReadonlySet<string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(file, undefined, undefined, 'cannot read the stopword list', { cause: err });
  }
  const words = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const word = raw.replace(/\r$/, '');
    if (word.trim() === '') return;
    if (/\s/.test(word)) throw new InputError(file, i + 1, undefined, `expected one word per line, got '${word}'`);
    const key = normalise(word);
    if (words.has(key)) throw new InputError(file, i + 1, undefined, `'${word}' is listed twice`);
    words.add(key);
  });
  if (words.size === 0) throw new InputError(file, undefined, undefined, 'the stopword list is empty');
  return words;
}

/** `text` without stopwords and punctuation: the kept words, in order, joined by single spaces. */
export function removeStopwords(text: string, stopwords: ReadonlySet<string>): string {
  const kept: string[] = [];
  for (const m of text.matchAll(WORD)) {
    if (!stopwords.has(normalise(m[0]))) kept.push(m[0]);
  }
  return kept.join(' ');
}

/** Lower case, typographic apostrophe as ASCII: the form the NLTK list is written in. */
function normalise(word: string): string {
  return word.toLowerCase().replaceAll('’', "'");
}
