// A config file's text checked before it is parsed: size capped, BOM dropped, nesting bounded (no recursion on hostile text), repeated keys named.
import { createScanner, SyntaxKind, visit } from 'jsonc-parser';
import { UsageError } from './errors';

/** A config file is a few hundred bytes of settings; past this it is not one (a 100 MB file of spaces took 33 s and 3.4 GB). */
export const MAX_CONFIG_BYTES = 1 << 20;
/** Settings nest two levels ({"model": {"name": ...}}); past this the parser would recurse without end. */
export const MAX_CONFIG_DEPTH = 64;

const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length;

/** Refuses text larger than MAX_CONFIG_BYTES (its size in bytes given), with the file named. */
export function checkConfigSize(bytes: number, file: string): void {
  if (bytes > MAX_CONFIG_BYTES)
    throw new UsageError([`${file}: a config file must be at most ${MAX_CONFIG_BYTES / 2 ** 20} MiB (it is ${bytes > 10 * 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : `${bytes} bytes`}); is it the right file? a config holds a few settings, e.g. {"model": "mlp", "stages": 2}`]);
}

/**
 * The text of a config file ready for jsonc-parser: a leading byte-order mark dropped; a UsageError when it nests
 * deeper than MAX_CONFIG_DEPTH (found with the tokenizer, which does not recurse) or repeats a key in one object.
 */
export function checkConfigText(raw: string, file: string): string {
  checkConfigSize(raw.length, file); // characters: at most its bytes
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  const scanner = createScanner(text, false);
  let depth = 0;
  for (let t = scanner.scan(); t !== SyntaxKind.EOF; t = scanner.scan()) {
    if (t === SyntaxKind.OpenBraceToken || t === SyntaxKind.OpenBracketToken) {
      if (++depth > MAX_CONFIG_DEPTH)
        throw new UsageError([`${file}: nests deeper than ${MAX_CONFIG_DEPTH} levels (line ${lineOf(text, scanner.getTokenOffset())}); a config is a flat object of settings, e.g. {"model": {"name": "mlp", "width": 256}, "stages": 2}`]);
    } else if (t === SyntaxKind.CloseBraceToken || t === SyntaxKind.CloseBracketToken) depth--;
  }
  // Repeated keys: JSON parsers keep the last silently, so a setting could be changed in one place and read from another.
  const keys: Map<string, number>[] = [];
  const repeated: string[] = [];
  visit(text, {
    onObjectBegin: () => void keys.push(new Map()),
    onObjectEnd: () => void keys.pop(),
    onObjectProperty: (name, offset) => {
      const seen = keys[keys.length - 1];
      const line = lineOf(text, offset);
      const first = seen?.get(name);
      if (first !== undefined) repeated.push(`${file}: key ${JSON.stringify(name)} appears twice in one object (lines ${first} and ${line}); the last would win silently; keep one`);
      else seen?.set(name, line);
    },
  }, { allowTrailingComma: true, disallowComments: false });
  if (repeated.length) throw new UsageError(repeated);
  return text;
}
