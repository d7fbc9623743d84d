// Predicted against measured (or trace b against trace a): two timelines on one time axis, the deltas, and the per-stage and per-kind diff.
import type { TraceDiff } from '../../core/analysis/diff';
import type { RunView } from './protocol';
import { diffModel } from './diff-table';
import type { DiffTable } from './diff-table';
import { h, replaceChildren } from './dom';
import { compareDeltas } from './summary';
import type { Theme } from './theme';
import { fmtMs, label } from './text';
import { TimelineView, timelineToolbar } from './timeline';
import { Viewport, firstMeasuredStart } from './timeline-model';

export class CompareView {
  readonly element: HTMLElement;
  readonly viewport = new Viewport();
  private readonly measured: TimelineView;
  private readonly predicted: TimelineView;
  private readonly deltas: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly body: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly diff: HTMLElement;

  constructor(theme: Theme, private readonly onBack: () => void) {
    this.measured = new TimelineView(this.viewport, theme, { caption: 'measured' });
    this.predicted = new TimelineView(this.viewport, theme, { caption: 'predicted' });
    this.deltas = h('ul', { class: 'deltas' });
    this.heading = h('div', { class: 'compare-heading' });
    this.empty = h('p', { class: 'muted' }, 'No prediction to compare with: press Preview on a plan in Recommendations.');
    this.diff = h('details', { class: 'diff', attrs: { open: true, hidden: true } });
    this.body = h('div', { class: 'compare-body' }, this.deltas, this.diff, timelineToolbar(this.viewport), this.measured.element, this.predicted.element);
    this.element = h('div', { class: 'compare' }, this.heading, this.empty, this.body);
  }

  /**
   * Shows measured over predicted on one axis (the longer span of the two); `what` names the prediction
   * (the run's own plan or a previewed one). With a `diff` (Compare Two Traces) the runs are "a" and "b", and the
   * per-stage and per-kind tables are shown above the timelines. Returns the axis span.
   */
  set(measured: RunView | null, predicted: RunView | null, what: { text: string; preview: boolean }, diff: TraceDiff | null = null): number {
    const both = !!(measured && predicted);
    this.empty.hidden = both;
    this.body.hidden = !both;
    const back = what.preview ? h('vscode-button', { attrs: { secondary: true } }, 'Back to the run’s own prediction') : null;
    back?.addEventListener('click', () => this.onBack());
    replaceChildren(this.heading, h('span', null, label(what.text)), back);
    if (!measured || !predicted) {
      this.measured.setRun(null);
      this.predicted.setRun(null);
      replaceChildren(this.deltas);
      this.showDiff(null, ['', '']);
      return 0;
    }
    // One axis for both, each run shifted so its first measured step starts at 0 (start-up and warm-up fall left of it).
    const offM = firstMeasuredStart(measured.steps);
    const offP = firstMeasuredStart(predicted.steps);
    this.measured.setRun(measured, offM);
    this.predicted.setRun(predicted, offP);
    const from = (off: number) => (off > 0 ? ` · from its first measured step (${fmtMs(off)} in)` : '');
    if (diff) {
      this.measured.setCaption(`a · ${label(measured.source)} · ${label(measured.title)}${from(offM)}`);
      this.predicted.setCaption(`b · ${label(predicted.source)} · ${label(predicted.title)}${from(offP)}`);
      replaceChildren(this.deltas);
    } else {
      this.measured.setCaption(`measured · ${label(measured.title)}${from(offM)}`);
      this.predicted.setCaption(`predicted · ${label(predicted.title)}${from(offP)}`);
      replaceChildren(this.deltas, ...compareDeltas(measured.report, predicted.report).map((d) => h('li', { class: `delta delta-${d.key}` }, h('b', null, `${d.label}: `), d.text)));
    }
    this.showDiff(diff, [measured.title, predicted.title]);
    const span = Math.max(this.measured.spanMs, this.predicted.spanMs);
    this.viewport.setSpan(span);
    return span;
  }

  /** The diff's runs, plan change, notes and tables (every string through label(), into textContent only). */
  private showDiff(diff: TraceDiff | null, titles: [string, string]): void {
    this.diff.hidden = !diff;
    if (!diff) return replaceChildren(this.diff);
    const m = diffModel(diff, titles);
    replaceChildren(
      this.diff,
      h('summary', null, 'b against a: per run, per stage and per op kind'),
      h('ul', { class: 'diff-runs' }, ...m.runs.map((r) => h('li', null, r)), m.plan ? h('li', { class: 'diff-plan' }, h('b', null, 'plan: '), m.plan) : null),
      m.notes.length ? h('ul', { class: 'diff-notes' }, ...m.notes.map((n) => h('li', null, n))) : null,
      ...m.tables.map(diffTable),
    );
  }

  setTheme(theme: Theme): void {
    this.measured.setTheme(theme);
    this.predicted.setTheme(theme);
  }

  invalidate(): void {
    this.measured.invalidate();
    this.predicted.invalidate();
  }
}

/** One table of the diff: <table class="diff-table diff-{key}"> with a caption; rows carry data-key (stage or op kind). */
function diffTable(t: DiffTable): HTMLElement {
  const cls = (i: number) => (t.numeric[i] ? 'num' : '');
  return h(
    'table',
    { class: `diff-table diff-${t.key}` },
    h('caption', null, t.caption),
    h('thead', null, h('tr', null, ...t.headers.map((c, i) => h('th', { class: cls(i) }, c)))),
    h('tbody', null, ...t.rows.map((r) => h('tr', { attrs: { 'data-key': r.key } }, ...r.cells.map((c, i) => h('td', { class: `${cls(i)}${t.delta[i] && r.tone ? ` ${r.tone}` : ''}`.trim() }, c))))),
  );
}
