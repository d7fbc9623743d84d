// Writing a plan into pipeprof.config.json text (JSON with comments): field edits that keep every other byte, shared by the CLI and the extension.
import { applyEdits, modify, parse, parseTree, printParseErrorCode } from 'jsonc-parser';
import type { Edit, Node, ParseError } from 'jsonc-parser';
import type { Plan } from '../plan/types';
import type { Timeline } from '../trace/timeline';
import { UsageError } from './errors';

/** The plan fields `--apply` writes, in the order they are added to a file. */
export const PLAN_FIELDS = ['balance', 'microbatches', 'schedule', 'recompute'] as const;

/** Indentation and line ends of an existing file, so inserted lines look like their neighbours. */
function detectFormatting(text: string): { indent: string; eol: string } {
  return { eol: text.includes('\r\n') ? '\r\n' : '\n', indent: /^([ \t]+)\S/m.exec(text)?.[1] ?? '  ' };
}

/** JSON on one line, spaced as people write config files: `[7, 1]`, `{"name": "mlp", "width": 256}`. */
export function inlineJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(inlineJson).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${inlineJson(x)}`).join(', ')}}`;
  return JSON.stringify(v);
}

export function rootObject(text: string, file: string): Node {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true });
  if (errors.length) throw new UsageError([`${file}: is not valid JSON (${printParseErrorCode(errors[0].error)} at offset ${errors[0].offset}); fix the syntax, or give --apply a new file`]);
  if (!root || root.type !== 'object') throw new UsageError([`${file}: must hold a JSON object of settings to apply a plan to; give --apply a pipeprof.config.json`]);
  return root;
}

/**
 * What follows a property on its line: an optional comma, then spaces and at most one comment.
 * `end` is where the line's newline starts when nothing else follows, else -1 (more JSON on the same line).
 */
function afterProperty(text: string, from: number): { comma: number; end: number } {
  const m = /^[ \t]*(,?)[ \t]*(\/\/[^\r\n]*|\/\*(?:(?!\*\/)[^\r\n])*\*\/[ \t]*)?(?=\r?\n|$)/.exec(text.slice(from));
  const comma = text.slice(from).search(/\S/);
  return { comma: comma >= 0 && text[from + comma] === ',' ? from + comma : -1, end: m ? from + m[0].length : -1 };
}

/** Removes a top-level field with its whole line (and the comment trailing it) when it has a line of its own. */
export function removeField(text: string, key: string, file = 'config'): string {
  const root = rootObject(text, file);
  const props = root.children ?? [];
  const i = props.findIndex((p) => p.children?.[0].value === key);
  if (i < 0) return text;
  const p = props[i];
  const lineStart = text.lastIndexOf('\n', p.offset - 1) + 1;
  const { comma, end } = afterProperty(text, p.offset + p.length);
  const edits: Edit[] = [];
  // The last property leaves its predecessor's comma dangling.
  const prevComma = comma < 0 && i > 0 ? afterProperty(text, props[i - 1].offset + props[i - 1].length).comma : -1;
  if (/^[ \t]*$/.test(text.slice(lineStart, p.offset)) && end >= 0) {
    const eol = /^\r?\n/.exec(text.slice(end))?.[0] ?? '';
    edits.push({ offset: lineStart, length: end + eol.length - lineStart, content: '' });
    if (prevComma >= 0) edits.push({ offset: prevComma, length: 1, content: '' });
  } else if (prevComma >= 0) {
    // On a shared line: `"a": 1, "key": 2}` loses `, "key": 2`.
    edits.push({ offset: prevComma, length: p.offset + p.length - prevComma, content: '' });
  } else {
    const stop = comma >= 0 ? comma + 1 + (/^[ \t]*/.exec(text.slice(comma + 1))?.[0].length ?? 0) : p.offset + p.length;
    edits.push({ offset: p.offset, length: stop - p.offset, content: '' });
  }
  return applyEdits(text, edits);
}

/** Sets a top-level field: its value replaced in place, or a new line after the last field, indented like it. */
export function setField(text: string, key: string, value: unknown, file = 'config'): string {
  const root = rootObject(text, file);
  const props = root.children ?? [];
  const existing = props.find((p) => p.children?.[0].value === key);
  if (existing) {
    // jsonc-parser locates the value; its content is replaced with the one-line form.
    return applyEdits(text, modify(text, [key], value, {}).map((e) => ({ ...e, content: inlineJson(value) })));
  }
  const { eol, indent: unit } = detectFormatting(text);
  const entry = `${JSON.stringify(key)}: ${inlineJson(value)}`;
  if (!props.length) return applyEdits(text, [{ offset: root.offset + 1, length: root.length - 2, content: `${eol}${unit}${entry}${eol}` }]);
  const last = props[props.length - 1];
  const lineStart = text.lastIndexOf('\n', last.offset - 1) + 1;
  const before = text.slice(lineStart, last.offset);
  const { comma, end } = afterProperty(text, last.offset + last.length);
  const edits: Edit[] = [];
  if (comma < 0) edits.push({ offset: last.offset + last.length, length: 0, content: ',' });
  if (/^[ \t]*$/.test(before) && end >= 0) edits.push({ offset: end, length: 0, content: `${eol}${before}${entry}${comma >= 0 ? ',' : ''}` });
  else edits.push({ offset: comma >= 0 ? comma + 1 : last.offset + last.length, length: 0, content: ` ${entry}${comma >= 0 ? ',' : ''}` });
  return applyEdits(text, edits);
}

/**
 * Writes a plan's balance, micro-batches, schedule and recompute into config text, leaving every other byte
 * (comments, order, formatting) alone, and removes a `stages` that disagrees with the balance. `text` null: a new file
 * holding `newFile`'s fields first.
 */
export function applyPlanToConfig(text: string | null, plan: Pick<Plan, (typeof PLAN_FIELDS)[number]> & Partial<Pick<Plan, 'replicas' | 'sync' | 'chunks'>>, file: string, newFile: Record<string, unknown> = {}): string {
  let out = text ?? '{}\n';
  const raw = parse(out) as Record<string, unknown>;
  rootObject(out, file);
  if (text === null) for (const [k, v] of Object.entries(newFile)) out = setField(out, k, v, file);
  if (raw.stages !== undefined && (raw.stages as number) * (plan.chunks ?? 1) !== plan.balance.length) out = removeField(out, 'stages', file);
  for (const k of PLAN_FIELDS) out = setField(out, k, plan[k], file);
  // Chunks (interleaved), replicas and their sync: written when the plan has them, or to reset a file that asked for them.
  const v = plan.chunks ?? 1;
  if (v > 1 || raw.chunks !== undefined) out = setField(out, 'chunks', v, file);
  const R = plan.replicas ?? 1;
  if (R > 1 || raw.replicas !== undefined) out = setField(out, 'replicas', R, file);
  if (R > 1 && plan.sync) for (const k of ['sync', 'allreduce', 'compress'] as const) out = setField(out, k, plan.sync[k], file);
  return out;
}

export function planText(p: { balance: number[]; microbatches: number; schedule: string; recompute: string; replicas?: number; sync?: { sync: string }; chunks?: number }): string {
  const R = p.replicas ?? 1;
  const v = p.chunks ?? 1;
  return `balance [${p.balance.join(',')}]${v > 1 ? ` (${p.balance.length / v} stages × ${v} chunks)` : ''}, ${p.microbatches} micro-batches, ${p.schedule}, recompute ${p.recompute}${R > 1 ? `, ${R} replicas (sync ${p.sync?.sync ?? 'step'})` : ''}`;
}

/**
 * The fields a new config file starts with besides the plan: the traced model and batch, so `pipeprof capture FILE`
 * runs the plan as recommended.
 */
export function newConfigFields(t: Pick<Timeline, 'model' | 'batch'>): Record<string, unknown> {
  const model = t.model;
  return model ? { model: Object.keys(model.options).length ? { name: model.name, ...model.options } : model.name, batch: t.batch } : { batch: t.batch };
}
