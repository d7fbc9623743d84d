// UI state: restoring whatever getState() returns, debounced saving through setState, per-file windows.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { StateStore, defaultState, restoreState } from '../../media/src/state';
import type { StateApi, UiState } from '../../media/src/state';

function api(initial?: unknown): StateApi & { saved: unknown[] } {
  const saved: unknown[] = [];
  return { saved, getState: () => initial, setState: (s) => void saved.push(s) };
}

test('restoreState falls back to defaults for nothing, garbage or another version', () => {
  for (const raw of [undefined, null, 42, 'x', [], { version: 2, tab: 'charts' }]) assert.deepEqual(restoreState(raw), defaultState());
});

test('restoreState keeps the valid parts and drops the rest', () => {
  const s = restoreState({ version: 1, file: '/a.json', tab: 'charts', window: { t0: 5, t1: 9 }, compareWindow: { t0: 9, t1: 5 }, scroll: { timeline: 120, charts: -4, bogus: 3 }, previewRank: 2 });
  assert.equal(s.file, '/a.json');
  assert.equal(s.tab, 'charts');
  assert.deepEqual(s.window, { t0: 5, t1: 9 });
  assert.equal(s.compareWindow, null, 't1 before t0');
  assert.deepEqual(s.scroll, { timeline: 120, compare: 0, charts: 0, recommendations: 0 });
  assert.equal(s.previewRank, 2);
  assert.equal(restoreState({ version: 1, tab: 'settings' }).tab, 'timeline');
});

test('StateStore saves the state round trip: what it saves, a new store restores', () => {
  const a = api();
  const store = new StateStore(a, 0);
  store.update({ tab: 'recommendations', window: { t0: 1, t1: 2 }, scroll: { compare: 40 } as UiState['scroll'] });
  const last = a.saved.at(-1);
  const again = new StateStore(api(JSON.parse(JSON.stringify(last))), 0);
  assert.deepEqual(again.get(), store.get());
  assert.equal(again.get().scroll.compare, 40);
  assert.equal(again.get().scroll.timeline, 0, 'a partial scroll update keeps the other tabs');
});

test('StateStore debounces: a burst of updates (a pan) is one setState, flush() saves at once', async () => {
  const a = api();
  const store = new StateStore(a, 20);
  for (let i = 0; i < 50; i++) store.update({ window: { t0: i, t1: i + 10 } });
  assert.equal(a.saved.length, 0);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(a.saved.length, 1);
  assert.deepEqual((a.saved[0] as UiState).window, { t0: 49, t1: 59 });
  store.update({ tab: 'charts' });
  store.flush();
  assert.equal(a.saved.length, 2);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(a.saved.length, 2, 'the flushed timer does not save again');
});

test('openFile keeps the windows of the same trace and forgets those of another', () => {
  const store = new StateStore(api({ ...defaultState(), file: '/a.json', tab: 'compare', window: { t0: 1, t1: 2 }, previewRank: 3 }), 0);
  store.openFile('/a.json');
  assert.deepEqual(store.get().window, { t0: 1, t1: 2 });
  store.openFile('/b.json');
  assert.equal(store.get().window, null);
  assert.equal(store.get().previewRank, null);
  assert.equal(store.get().tab, 'compare', 'the tab stays');
});

test('a getState that throws is treated as no state', () => {
  const store = new StateStore({ getState: () => { throw new Error('no'); }, setState: () => undefined }, 0);
  assert.deepEqual(store.get(), defaultState());
});
