/**
 * The "Num2Text" text augmentation: numbers written as English words ("42" -> "forty two").
 *
 * The words come from n2words (forzagreen/n2words: maintained, ESM with types, no dependencies,
 * exact for large integers via strings). This module only finds the numbers and decides how each
 * is read:
 * - integers, with or without thousands commas: "1,500" -> "one thousand five hundred";
 * - decimals, fraction read digit by digit as spoken: "3.14" -> "three point one four"
 *   (n2words alone would say "three point fourteen");
 * - ordinals (optional): "21st" -> "twenty first";
 * - years (optional): four-digit integers 1100-2099 without a comma are read as years are said,
 *   "1999" -> "nineteen ninety nine", "1905" -> "nineteen oh five", "2024" -> "twenty twenty four",
 *   "2005" -> "two thousand five"; written "1,999" it is a count;
 * - digit strings that are codes rather than quantities are read digit by digit: a leading zero
 *   ("007" -> "zero zero seven") or more than 15 digits.
 * Hyphens in the words are spaces ("forty two", as the issue writes it): the T5 tokenizer then sees
 * the same pieces as in ordinary prose, and "forty-two" never fuses with a neighbouring hyphen.
 * A number glued to letters ("mp3", "5kg", "1990s") or part of a dotted/comma list ("1.2.3",
 * "1,5") is left as is; a leading '-' is not read as "minus" (in text it is mostly a range or a dash).
 */
import { toCardinal, toOrdinal } from 'n2words/en-US';

export type YearReading = 'spoken' | 'cardinal' | 'digits';

export interface Num2TextOptions {
  /** Rewrite ordinals ("1st", "22nd", "103rd", "4th") as words. @default true */
  ordinals?: boolean;
  /**
   * Four-digit integers 1100-2099 without a comma: 'spoken' reads them as years ("nineteen ninety
   * nine"), 'cardinal' as counts ("one thousand nine hundred ninety nine"), 'digits' leaves them.
   * @default 'spoken'
   */
  years?: YearReading;
}

const DEFAULT_ORDINALS = true;
const DEFAULT_YEARS: YearReading = 'spoken';
/** Longer digit strings are identifiers (phone, account, ISBN), read digit by digit. */
const MAX_CARDINAL_DIGITS = 15;
const FIRST_YEAR = 1100;
const LAST_YEAR = 2099;

/**
 * A number not glued to letters or to another number: integer part (groups of three after commas,
 * or plain digits), optional '.' fraction, optional ordinal suffix.
 */
const NUMBER =
  /(?<![\p{L}\p{N}\p{M}]|\p{N}[.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(st|nd|rd|th)?(?![\p{L}\p{N}\p{M}]|[.,]\p{N})/giu;

/** `text` with every number it can read replaced by words; the rest of the text is unchanged. */
export function numbersToText(text: string, options: Num2TextOptions = {}): string {
  const ordinals = options.ordinals ?? DEFAULT_ORDINALS;
  const years = options.years ?? DEFAULT_YEARS;
  if (!['spoken', 'cardinal', 'digits'].includes(years)) {
    throw new RangeError(`numbersToText: option 'years' must be 'spoken', 'cardinal' or 'digits', got '${String(years)}'`);
  }
  return text.replace(NUMBER, (match: string, grouped: string, fraction: string | undefined, suffix: string | undefined) => {
    const digits = grouped.replaceAll(',', '');
    if (suffix !== undefined) {
      // "1.5th" is no ordinal; "21st" stays when ordinals are off
      if (!ordinals || fraction !== undefined || digits === '0' || isCode(digits)) return match;
      return words(toOrdinal(digits));
    }
    if (fraction !== undefined) return `${integerWords(digits)} point ${digitByDigit(fraction)}`;
    if (grouped === digits && isYear(digits)) {
      if (years === 'digits') return match;
      if (years === 'spoken') return yearWords(Number(digits));
    }
    return integerWords(digits);
  });
}

/** A digit string that names something rather than counts it. */
function isCode(digits: string): boolean {
  return (digits.length > 1 && digits.startsWith('0')) || digits.length > MAX_CARDINAL_DIGITS;
}

function isYear(digits: string): boolean {
  const n = Number(digits);
  return digits.length === 4 && n >= FIRST_YEAR && n <= LAST_YEAR;
}

function integerWords(digits: string): string {
  return isCode(digits) ? digitByDigit(digits) : words(toCardinal(digits));
}

function digitByDigit(digits: string): string {
  return Array.from(digits, (d) => words(toCardinal(d))).join(' ');
}

/** 1999 -> "nineteen ninety nine", 1900 -> "nineteen hundred", 1905 -> "nineteen oh five", 2005 -> "two thousand five". */
function yearWords(year: number): string {
  const century = Math.floor(year / 100);  // 11..20
  const rest = year % 100;                 // 0..99
  if (year % 1000 === 0 || (century === 20 && rest < 10)) return words(toCardinal(year));
  if (rest === 0) return `${words(toCardinal(century))} hundred`;
  const restWords = rest < 10 ? `oh ${words(toCardinal(rest))}` : words(toCardinal(rest));
  return `${words(toCardinal(century))} ${restWords}`;
}

/** n2words writes "forty-two"; we write "forty two". */
function words(fromLibrary: string): string {
  return fromLibrary.replaceAll('-', ' ');
}
