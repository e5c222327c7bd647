/**
 * The T5 SentencePiece tokenizer, loaded fully offline through @xenova/transformers from a Hugging Face
 * tokenizer folder (tokenizer.json + tokenizer_config.json); by default the shipped data/t5-tokenizer/.
 * Ids match Hugging Face's T5TokenizerFast ("Hello world" -> 8774, 296, 1).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@xenova/transformers';
import { ModelFormatError } from '../runtime/errors.js';
import { DEFAULT_TOKENIZER_DIR } from '../runtime/paths.js';
import { EOS_ID, PAD_ID } from './t5_special_tokens.js';

export { EOS_ID, PAD_ID };

export interface T5Tokenizer {
  /** Name of the tokenizer folder (e.g. "t5-tokenizer"), recorded in prepared datasets. */
  readonly name: string;
  /** sha256 (hex) of tokenizer.json: two datasets with the same hash were tokenized alike. */
  readonly sha256: string;
  /** Pieces the tokenizer knows: 32,000 SentencePiece pieces + 100 `<extra_id_N>` = 32,100. */
  readonly vocabSize: number;
  /**
   * Token ids of `text`, ending with `</s>` (1). With `maxTokens`, the pieces are cut so that the
   * result has at most `maxTokens` ids and still ends with `</s>`.
   */
  encode(text: string, maxTokens?: number): Int32Array;
  /** Text of `ids`; special tokens (`<pad>`, `</s>`, `<unk>`, `<extra_id_N>`) are left out. */
  decode(ids: ArrayLike<number>): string;
  /** Id of a vocabulary piece such as "▁the" (SentencePiece's word-start mark is "▁"), if present. */
  pieceId(piece: string): number | undefined;
}

/** Reads and parses one JSON file of the folder; errors name the file. */
async function readJsonFile(file: string): Promise<{ json: unknown; bytes: Buffer }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ModelFormatError(file, 'missing or unreadable: a Hugging Face tokenizer folder needs this file', { cause: err });
  }
  try {
    return { json: JSON.parse(bytes.toString('utf8')), bytes };
  } catch (err) {
    throw new ModelFormatError(file, `not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the parts of tokenizer.json that the library would otherwise fail on with an unclear message. */
function checkTokenizerJson(file: string, json: unknown): void {
  if (!isObject(json)) throw new ModelFormatError(file, 'expected a JSON object at the top level');
  const model = json['model'];
  if (!isObject(model)) throw new ModelFormatError(file, "field 'model' is missing or not an object");
  if (model['type'] !== 'Unigram') {
    throw new ModelFormatError(file, `field 'model.type' is ${JSON.stringify(model['type'])}, expected "Unigram" (a T5 SentencePiece tokenizer)`);
  }
  if (!Array.isArray(model['vocab']) || model['vocab'].length === 0) {
    throw new ModelFormatError(file, "field 'model.vocab' is missing or empty");
  }
}

/** Wraps the library's tokenizer in the project's small typed interface. */
function wrap(tok: PreTrainedTokenizer, name: string, sha256: string, file: string): T5Tokenizer {
  const piecesToIds = tok.model.tokens_to_ids;
  const vocabSize = tok.model.vocab.length;
  if (piecesToIds.get('</s>') !== EOS_ID || piecesToIds.get('<pad>') !== PAD_ID) {
    throw new ModelFormatError(file, `expected '<pad>' = ${PAD_ID} and '</s>' = ${EOS_ID} as in T5, got ${piecesToIds.get('<pad>')} and ${piecesToIds.get('</s>')}`);
  }
  return {
    name, sha256, vocabSize,
    encode(text: string, maxTokens?: number): Int32Array {
      if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1)) {
        throw new RangeError(`encode: maxTokens must be an integer >= 1 (room for '</s>'), got ${maxTokens}`);
      }
      // pieces without the post-processor's '</s>', so truncation can put it back at the end
      const pieces = tok.encode(text, null, { add_special_tokens: false });
      const n = maxTokens === undefined ? pieces.length : Math.min(pieces.length, maxTokens - 1);
      const ids = new Int32Array(n + 1);
      for (let i = 0; i < n; i++) ids[i] = pieces[i] ?? 0; // i < n <= pieces.length
      ids[n] = EOS_ID;
      return ids;
    },
    decode(ids: ArrayLike<number>): string {
      const list = Array.from(ids);
      list.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new RangeError(`decode: id ${id} at position ${i} is outside the tokenizer's vocabulary [0, ${vocabSize})`);
        }
      });
      return tok.decode(list, { skip_special_tokens: true });
    },
    pieceId(piece: string): number | undefined {
      return piecesToIds.get(piece);
    },
  };
}

/**
 * Loads the T5 tokenizer from `dir` (default: the shipped data/t5-tokenizer/), never over the network.
 * Throws ModelFormatError naming the folder or file when it is missing or malformed.
 */
export async function loadT5Tokenizer(dir: string = DEFAULT_TOKENIZER_DIR): Promise<T5Tokenizer> {
  const folder = resolve(dir);
  const info = await stat(folder).catch((err: unknown) => {
    throw new ModelFormatError(folder, 'tokenizer folder not found', { cause: err });
  });
  if (!info.isDirectory()) throw new ModelFormatError(folder, 'expected a tokenizer folder, found a file');

  const tokenizerFile = join(folder, 'tokenizer.json');
  const { json, bytes } = await readJsonFile(tokenizerFile);
  checkTokenizerJson(tokenizerFile, json);
  const configFile = join(folder, 'tokenizer_config.json');
  const config = await readJsonFile(configFile);
  if (!isObject(config.json)) throw new ModelFormatError(configFile, 'expected a JSON object at the top level');

  // The library resolves names against env.localModelPath (read synchronously inside from_pretrained,
  // so concurrent loads of different folders do not mix). Remote lookups and the library's file cache
  // are off: a missing file is an error here, never a download or a stale cached copy.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  env.useBrowserCache = false;
  env.localModelPath = dirname(folder) + '/';
  let tok: PreTrainedTokenizer;
  try {
    tok = await AutoTokenizer.from_pretrained(basename(folder), { local_files_only: true });
  } catch (err) {
    throw new ModelFormatError(tokenizerFile, `@xenova/transformers could not build a tokenizer: ${(err as Error).message}`, { cause: err });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return wrap(tok, basename(folder), sha256, tokenizerFile);
}
