// A plan into pipeprof.config.json: the text edit (every other byte kept), which config a trace belongs to, and the undoable WorkspaceEdit.
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { applyPlanToConfig } from '../core/config/apply-plan';
import type { Plan } from '../core/plan/types';

export const CONFIG_NAME = 'pipeprof.config.json';

/** Replace `length` characters at `offset` with `content`. */
export interface TextEdit {
  offset: number;
  length: number;
  content: string;
}

/** The one edit turning `before` into `after`: the span between their common prefix and common suffix; null if equal. */
export function minimalEdit(before: string, after: string): TextEdit | null {
  if (before === after) return null;
  let p = 0;
  const max = Math.min(before.length, after.length);
  while (p < max && before.charCodeAt(p) === after.charCodeAt(p)) p++;
  let s = 0;
  while (s < max - p && before.charCodeAt(before.length - 1 - s) === after.charCodeAt(after.length - 1 - s)) s++;
  return { offset: p, length: before.length - p - s, content: after.slice(p, after.length - s) };
}

/**
 * The edit writing `plan` into config text (core's applyPlanToConfig: comments and formatting kept, a disagreeing
 * `stages` removed); `text` null means a new file holding `newFile`'s fields, then the plan.
 */
export function planEdit(
  text: string | null,
  plan: Pick<Plan, 'balance' | 'microbatches' | 'schedule' | 'recompute'>,
  file: string,
  newFile: Record<string, unknown> = {},
): { text: string; edit: TextEdit | null; created: boolean } {
  const after = applyPlanToConfig(text, plan, file, newFile);
  return { text: after, edit: text === null ? { offset: 0, length: 0, content: after } : minimalEdit(text, after), created: text === null };
}

const inside = (dir: string, file: string) => {
  const rel = path.relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/**
 * The config a trace's plan goes into: the nearest pipeprof.config.json in a folder above the trace (Profile writes
 * traces under the config's folder), else the shallowest one in the trace's workspace folder, else any; with none,
 * a new one in the trace's workspace folder (or the first, or the trace's own folder).
 */
export function chooseConfig(trace: string, candidates: readonly string[], roots: readonly string[]): { file: string; exists: boolean } {
  const depth = (f: string) => f.split(/[\\/]/).length;
  const above = candidates.filter((c) => inside(path.dirname(c), trace)).sort((a, b) => depth(b) - depth(a));
  if (above.length) return { file: above[0], exists: true };
  const root = roots.find((r) => inside(r, trace));
  const sameRoot = candidates.filter((c) => root !== undefined && inside(root, c)).sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
  if (sameRoot.length) return { file: sameRoot[0], exists: true };
  if (candidates.length) return { file: [...candidates].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b))[0], exists: true };
  return { file: path.join(root ?? roots[0] ?? path.dirname(trace), CONFIG_NAME), exists: false };
}

/** The output folder of a config (the `pipeprof.outputFolder` setting): relative to the config's folder unless absolute. */
export function outputFolderOf(configFile: string, setting: string | undefined): string {
  const folder = setting && setting.trim() ? setting.trim() : '.pipeprof';
  return path.resolve(path.dirname(configFile), folder);
}

/** The parts of the vscode API an edit is built from (passed in, so this file loads without VS Code). */
export type EditApi = Pick<typeof vscode, 'WorkspaceEdit' | 'Range' | 'Position'>;

/**
 * The TextEdit as one undoable WorkspaceEdit: a replacement in an open document, or a new file created with its text.
 * `doc` is the open document (for offsets → positions); null when the file is created.
 */
export function toWorkspaceEdit(api: EditApi, uri: vscode.Uri, edit: TextEdit, doc: Pick<vscode.TextDocument, 'positionAt'> | null): vscode.WorkspaceEdit {
  const we = new api.WorkspaceEdit();
  if (!doc) {
    we.createFile(uri, { ignoreIfExists: true });
    we.insert(uri, new api.Position(0, 0), edit.content);
  } else {
    we.replace(uri, new api.Range(doc.positionAt(edit.offset), doc.positionAt(edit.offset + edit.length)), edit.content);
  }
  return we;
}
