// Predicted against measured: two timelines stacked on one time axis, and the deltas of step time and bubble.
import type { RunView } from './protocol';
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

  constructor(theme: Theme, private readonly onBack: () => void) {
    this.measured = new TimelineView(this.viewport, theme, { caption: 'measured' });
    this.predicted = new TimelineView(this.viewport, theme, { caption: 'predicted' });
    this.deltas = h('ul', { class: 'deltas' });
    this.heading = h('div', { class: 'compare-heading' });
    this.empty = h('p', { class: 'muted' }, 'No prediction to compare with: press Preview on a plan in Recommendations.');
    this.body = h('div', { class: 'compare-body' }, this.deltas, timelineToolbar(this.viewport), this.measured.element, this.predicted.element);
    this.element = h('div', { class: 'compare' }, this.heading, this.empty, this.body);
  }

  /**
   * Shows measured over predicted on one axis (the longer span of the two); `what` names the prediction
   * (the run's own plan or a previewed one). Returns the axis span.
   */
  set(measured: RunView | null, predicted: RunView | null, what: { text: string; preview: boolean }): number {
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
      return 0;
    }
    // One axis for both, each run shifted so its first measured step starts at 0 (start-up and warm-up fall left of it).
    const offM = firstMeasuredStart(measured.steps);
    const offP = firstMeasuredStart(predicted.steps);
    this.measured.setRun(measured, offM);
    this.predicted.setRun(predicted, offP);
    this.measured.setCaption(`measured · ${label(measured.title)}${offM > 0 ? ` · from its first measured step (${fmtMs(offM)} in)` : ''}`);
    this.predicted.setCaption(`predicted · ${label(predicted.title)}${offP > 0 ? ` · from its first measured step (${fmtMs(offP)} in)` : ''}`);
    replaceChildren(this.deltas, ...compareDeltas(measured.report, predicted.report).map((d) => h('li', { class: `delta delta-${d.key}` }, h('b', null, `${d.label}: `), d.text)));
    const span = Math.max(this.measured.spanMs, this.predicted.spanMs);
    this.viewport.setSpan(span);
    return span;
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
