// Renders the chart configurations of charts.ts with chart.js (bundled, only the parts used): utilization and bubble bars, loss curve.
import { BarController, BarElement, CategoryScale, Chart, Legend, LineController, LineElement, LinearScale, PointElement, Title, Tooltip } from 'chart.js';
import type { ChartConfiguration } from 'chart.js';
import type { RunView } from './protocol';
import { hasLoss, toLossChart, toUtilizationChart } from './charts';
import { h, replaceChildren } from './dom';
import type { Theme } from './theme';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Title, Tooltip);

/** The Charts tab: built lazily when it is visible (chart.js needs a laid-out canvas), rebuilt on a new run or theme. */
export class ChartsView {
  readonly element: HTMLElement;
  private charts: Chart[] = [];
  private run: RunView | null = null;
  private dirty = false;

  constructor(private theme: Theme) {
    this.element = h('div', { class: 'charts' });
  }

  setRun(run: RunView | null): void {
    this.run = run;
    this.dirty = true;
    this.render();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.dirty = true;
    this.render();
  }

  /** Draws when the tab is shown and something changed since the last draw. */
  render(): void {
    if (!this.dirty || !this.element.isConnected || this.element.offsetParent === null) return;
    this.dirty = false;
    for (const c of this.charts) c.destroy();
    this.charts = [];
    const run = this.run;
    if (!run) return replaceChildren(this.element, h('p', { class: 'muted' }, 'no run loaded'));
    Chart.defaults.color = this.theme.foreground;
    Chart.defaults.font.family = this.theme.font;
    Chart.defaults.font.size = Math.max(10, this.theme.fontSize - 1);
    const boxes: HTMLElement[] = [];
    const add = (cfg: ChartConfiguration<'bar' | 'line', (number | null)[], string>, name: string) => {
      const canvas = h('canvas', { attrs: { role: 'img', 'aria-label': name } });
      const box = h('div', { class: 'chart-box' }, canvas);
      boxes.push(box);
      return () => this.charts.push(new Chart(canvas, cfg as ChartConfiguration));
    };
    const draws = [add(toUtilizationChart(run.report, this.theme.palette), 'utilization and bubble per stage')];
    if (hasLoss(run.steps)) draws.push(add(toLossChart(run.steps, this.theme.palette), 'loss per step'));
    replaceChildren(this.element, ...boxes, hasLoss(run.steps) ? null : h('p', { class: 'muted' }, 'this run recorded no loss'));
    for (const d of draws) d();
  }

  destroy(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
  }
}
