// The top plans as a table with their predicted speedup, and Apply / Preview buttons (<vscode-button>) that ask the host.
import type { FromWebview, RecommendationView } from './protocol';
import { button, h, replaceChildren } from './dom';
import { fmtBytes, fmtMs, label } from './text';

export class RecommendationsView {
  readonly element: HTMLElement;
  private readonly status: HTMLElement;
  private readonly table: HTMLElement;
  private recs: RecommendationView[] = [];
  private rows = new Map<number, { tr: HTMLElement; state: HTMLElement; buttons: HTMLElement[] }>();
  private previewRank: number | null = null;

  constructor(private readonly post: (m: FromWebview) => void) {
    this.status = h('div', { class: 'recs-status', attrs: { role: 'status' } });
    this.table = h('div', { class: 'recs-table' });
    this.element = h('div', { class: 'recs' }, this.status, this.table);
  }

  get ranks(): number[] {
    return this.recs.map((r) => r.rank);
  }

  set(recs: RecommendationView[]): void {
    this.recs = Array.isArray(recs) ? recs : [];
    this.rows.clear();
    replaceChildren(this.status);
    if (!this.recs.length) return replaceChildren(this.table, h('p', { class: 'muted' }, 'No recommendation for this run.'));
    const head = ['#', 'layout', 'balance', 'micro-batches', 'schedule', 'recompute', 'predicted step', 'speedup', 'peak memory', ''];
    const numeric = new Set([0, 3, 6, 7, 8]);
    const tbody = h('tbody');
    for (const r of this.recs) {
      const state = h('span', { class: 'row-state' });
      const preview = button('Preview', () => this.preview(r.rank), { secondary: true, title: 'show the predicted timeline of this plan' });
      const apply = button('Apply', () => this.apply(r.rank), { title: 'write this plan into the config file' });
      const cells = [
        label(r.rank),
        label(r.layout),
        `[${(Array.isArray(r.balance) ? r.balance : []).map((b) => label(b)).join(',')}]`,
        label(r.microbatches),
        label(r.schedule),
        label(r.recompute),
        typeof r.intervalRelative === 'number' && r.intervalRelative > 0 ? `${fmtMs(r.predictedStepTimeMs)} ± ${(r.intervalRelative * 100).toFixed(1)} %` : fmtMs(r.predictedStepTimeMs),
        Number.isFinite(r.speedup) ? `${r.speedup.toFixed(2)}×${r.faster === false ? ' (within noise)' : ''}` : '–',
        fmtBytes(r.peakMemoryBytes),
      ];
      const tr = h('tr', { attrs: { 'data-rank': label(r.rank) } }, ...cells.map((c, i) => h('td', { class: numeric.has(i) ? 'num' : '' }, c)), h('td', { class: 'actions' }, preview, apply, state));
      tbody.append(tr);
      this.rows.set(r.rank, { tr, state, buttons: [preview, apply] });
    }
    replaceChildren(
      this.table,
      h('table', null, h('thead', null, h('tr', null, ...head.map((c, i) => h('th', { class: numeric.has(i) ? 'num' : '' }, c)))), tbody),
    );
    this.markPreview(this.previewRank);
  }

  private setBusy(rank: number, text: string): void {
    const row = this.rows.get(rank);
    if (!row) return;
    replaceChildren(row.state, text);
    for (const b of row.buttons) b.setAttribute('disabled', '');
  }

  private preview(rank: number): void {
    this.setBusy(rank, 'simulating…');
    this.post({ type: 'preview', rank });
  }

  private apply(rank: number): void {
    this.setBusy(rank, 'applying…');
    this.post({ type: 'apply', rank });
  }

  /** Re-enables every row's buttons and clears their transient state (after an answer or an error). */
  settle(): void {
    for (const row of this.rows.values()) {
      replaceChildren(row.state);
      for (const b of row.buttons) b.removeAttribute('disabled');
    }
    this.markPreview(this.previewRank);
  }

  /** Marks the row whose prediction the Compare tab shows (null: none). */
  markPreview(rank: number | null): void {
    this.previewRank = rank;
    for (const [r, row] of this.rows) {
      row.tr.classList.toggle('previewing', r === rank);
      if (r === rank && !row.state.textContent) replaceChildren(row.state, 'previewing');
      if (r !== rank && row.state.textContent === 'previewing') replaceChildren(row.state);
    }
  }

  /** The host wrote plan `rank` into `configFile`. */
  applied(rank: number, configFile: string): void {
    this.settle();
    const open = button('Open config', () => this.post({ type: 'open-config' }), { secondary: true });
    replaceChildren(this.status, `Plan #${label(rank)} written to ${label(configFile, 400)}. `, open);
    const row = this.rows.get(rank);
    if (row) replaceChildren(row.state, 'applied');
  }
}
