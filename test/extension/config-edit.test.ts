// Writing a plan into pipeprof.config.json from the editor: one minimal edit keeping comments, which config a trace belongs to, the WorkspaceEdit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { applyEdits } from 'jsonc-parser';
import { applyPlanToConfig, newConfigFields } from '../../core/config/apply-plan';
import type { EditApi, TextEdit } from '../../extension/config-edit';
import { CONFIG_NAME, chooseConfig, minimalEdit, outputFolderOf, planEdit, toWorkspaceEdit } from '../../extension/config-edit';

const plan = { balance: [3, 1], microbatches: 8, schedule: '1f1b' as const, recompute: 'except-last' as const };
const apply = (text: string, e: TextEdit | null) => (e ? applyEdits(text, [e]) : text);

test('a plan becomes one edit of the changed span; comments, order and other fields stay byte for byte', () => {
  const before = [
    '{',
    '  // the model we study',
    '  "model": {"name": "mlp", "width": 256},',
    '  "stages": 2, /* two workers */',
    '  "balance": [2, 2],',
    '  "microbatches": 4,',
    '  "batch": 32 // per step',
    '}',
    '',
  ].join('\n');
  const r = planEdit(before, plan, CONFIG_NAME);
  assert.equal(r.created, false);
  assert.equal(r.text, applyPlanToConfig(before, plan, CONFIG_NAME));
  assert.equal(apply(before, r.edit), r.text);
  assert.equal(r.text, [
    '{',
    '  // the model we study',
    '  "model": {"name": "mlp", "width": 256},',
    '  "stages": 2, /* two workers */',
    '  "balance": [3, 1],',
    '  "microbatches": 8,',
    '  "batch": 32, // per step',
    '  "schedule": "1f1b",',
    '  "recompute": "except-last"',
    '}',
    '',
  ].join('\n'));
  // The edit spans from the first change to the last, no more.
  assert.equal(before.slice(0, r.edit!.offset), '{\n  // the model we study\n  "model": {"name": "mlp", "width": 256},\n  "stages": 2, /* two workers */\n  "balance": [');
  assert.ok(before.slice(r.edit!.offset + r.edit!.length).endsWith('\n}\n'));
  // Applying the same plan again changes nothing: no edit.
  assert.equal(planEdit(r.text, plan, CONFIG_NAME).edit, null);
  // A stage count that disagrees with the balance goes.
  assert.equal(JSON.parse(planEdit('{"stages": 3, "batch": 16}', plan, CONFIG_NAME).text).stages, undefined);
});

test('a missing config is created with the traced model and batch first, then the plan', () => {
  const fields = newConfigFields({ model: { name: 'mlp', options: { width: 32, depth: 4 }, loss: 'mse' }, batch: 16 });
  assert.deepEqual(fields, { model: { name: 'mlp', width: 32, depth: 4 }, batch: 16 });
  assert.deepEqual(newConfigFields({ model: { name: 'cnn', options: {}, loss: '' }, batch: 8 }), { model: 'cnn', batch: 8 });
  const r = planEdit(null, plan, CONFIG_NAME, fields);
  assert.equal(r.created, true);
  assert.deepEqual(r.edit, { offset: 0, length: 0, content: r.text });
  assert.equal(r.text, '{\n  "model": {"name": "mlp", "width": 32, "depth": 4},\n  "batch": 16,\n  "balance": [3, 1],\n  "microbatches": 8,\n  "schedule": "1f1b",\n  "recompute": "except-last"\n}\n');
  assert.throws(() => planEdit('{"model": "mlp",', plan, 'c.json'), /c\.json: is not valid JSON/);
});

test('minimalEdit: the span between the common prefix and suffix', () => {
  assert.equal(minimalEdit('abc', 'abc'), null);
  assert.deepEqual(minimalEdit('abcdef', 'abXYef'), { offset: 2, length: 2, content: 'XY' });
  assert.deepEqual(minimalEdit('aaa', 'aaaa'), { offset: 3, length: 0, content: 'a' });
  assert.deepEqual(minimalEdit('abc', ''), { offset: 0, length: 3, content: '' });
  for (const [a, b] of [['{"a": 1}', '{"a": 1, "b": 2}'], ['x\r\ny', 'x\r\nz\r\ny'], ['', 'new']]) assert.equal(apply(a, minimalEdit(a, b)), b);
});

test("a trace's config: the nearest one above it, else the shallowest of its workspace folder, else a new one there", () => {
  const ws = path.resolve('/ws');
  const other = path.resolve('/other');
  const p = (...s: string[]) => path.join(...s);
  const trace = p(ws, 'exp', '.pipeprof', '2025-01-01T00-00-00.pptrace.json');
  const top = p(ws, CONFIG_NAME);
  const exp = p(ws, 'exp', CONFIG_NAME);
  const deep = p(ws, 'a', 'b', CONFIG_NAME);
  assert.deepEqual(chooseConfig(trace, [top, exp, deep], [ws]), { file: exp, exists: true });
  assert.deepEqual(chooseConfig(p(ws, 'runs', 'r.pptrace.json'), [deep, top], [ws]), { file: top, exists: true });
  assert.deepEqual(chooseConfig(p(ws, 'runs', 'r.pptrace.json'), [deep, p(ws, 'c', CONFIG_NAME)], [ws]), { file: p(ws, 'c', CONFIG_NAME), exists: true });
  assert.deepEqual(chooseConfig(p(other, 'r.pptrace.json'), [deep], [ws]), { file: deep, exists: true });
  assert.deepEqual(chooseConfig(trace, [], [other, ws]), { file: top, exists: false });
  assert.deepEqual(chooseConfig(p(other, 'r.pptrace.json'), [], [ws]), { file: top, exists: false });
  assert.deepEqual(chooseConfig(p(other, 'r.pptrace.json'), [], []), { file: p(other, CONFIG_NAME), exists: false });
  // A folder named like a prefix is not a parent.
  assert.deepEqual(chooseConfig(p(ws, 'exp2', 'r.pptrace.json'), [exp, deep], [ws]), { file: exp, exists: true });
});

test('the output folder is relative to the config folder unless absolute', () => {
  const cfg = path.resolve('/ws/exp', CONFIG_NAME);
  assert.equal(outputFolderOf(cfg, undefined), path.resolve('/ws/exp/.pipeprof'));
  assert.equal(outputFolderOf(cfg, ' '), path.resolve('/ws/exp/.pipeprof'));
  assert.equal(outputFolderOf(cfg, 'traces/x'), path.resolve('/ws/exp/traces/x'));
  assert.equal(outputFolderOf(cfg, path.resolve('/tmp/t')), path.resolve('/tmp/t'));
});

test('the WorkspaceEdit: a replacement at the edit positions, or a created file with its text', () => {
  const calls: unknown[][] = [];
  class Position {
    constructor(readonly line: number, readonly character: number) {}
  }
  class Range {
    constructor(readonly start: Position, readonly end: Position) {}
  }
  class WorkspaceEdit {
    replace(...a: unknown[]) {
      calls.push(['replace', ...a]);
    }
    insert(...a: unknown[]) {
      calls.push(['insert', ...a]);
    }
    createFile(...a: unknown[]) {
      calls.push(['createFile', ...a]);
    }
  }
  const api = { WorkspaceEdit, Range, Position } as unknown as EditApi;
  const uri = { fsPath: '/ws/pipeprof.config.json' } as never;
  const doc = { positionAt: (o: number) => new Position(0, o) } as never;
  toWorkspaceEdit(api, uri, { offset: 3, length: 2, content: 'x' }, doc);
  assert.deepEqual(calls, [['replace', uri, new Range(new Position(0, 3), new Position(0, 5)), 'x']]);
  calls.length = 0;
  toWorkspaceEdit(api, uri, { offset: 0, length: 0, content: '{}\n' }, null);
  assert.deepEqual(calls, [['createFile', uri, { ignoreIfExists: true }], ['insert', uri, new Position(0, 0), '{}\n']]);
});
