// The canvas timeline: one row per RunView row (compute band plus send/receive/all-reduce strips), zoom, pan, hover tooltip.
import type { RunView } from './protocol';
import { KINDS } from './protocol';
import { kindTitle } from './charts';
import type { Kind } from './charts';
import { h, button, replaceChildren } from './dom';
import type { Theme } from './theme';
import { fmtBytes, fmtMs, label } from './text';
import type { TimelineIndex } from './timeline-model';
import { IDLE, KIND_COUNT, LANE_COUNT, LANE_NAMES, Rects, Viewport, buildIndex, clampLabel, hitTest, layoutBand, niceTicks, toColumns } from './timeline-model';

const GUTTER = 150;
const RIGHT_PAD = 8;
const AXIS_H = 22;
/** Row height at least (the compare view's two timelines use it), and at most when a timeline fills the window. */
const ROW_H = 38;
const MAX_ROW_H = 220;
const COMPUTE_Y = 3;
const STRIP_GAP = 1;
/** Strip under the rows for step numbers. */
const STEPS_H = 16;

/** y offset (within a row of height rowH) and height of each lane's band: compute takes what the strips leave. */
function laneBoxes(rowH: number): { y: number; h: number }[] {
  const strip = rowH >= 70 ? 6 : 4;
  const compute = rowH - COMPUTE_Y - (LANE_COUNT - 1) * (strip + STRIP_GAP) - 0;
  return Array.from({ length: LANE_COUNT }, (_, lane) =>
    lane === 0 ? { y: COMPUTE_Y, h: compute } : { y: COMPUTE_Y + compute + STRIP_GAP + (lane - 1) * (strip + STRIP_GAP), h: strip },
  );
}

/** An 8-px diagonal hatch in `color`: idle time (the bubble) reads at a glance, apart from every op colour. */
function hatch(ctx: CanvasRenderingContext2D, color: string): CanvasPattern | string {
  const tile = document.createElement('canvas');
  tile.width = tile.height = 8;
  const g = tile.getContext('2d');
  if (!g) return color;
  g.strokeStyle = color;
  g.lineWidth = 1.5;
  g.beginPath();
  for (const o of [-8, 0, 8]) {
    g.moveTo(o, 8);
    g.lineTo(o + 8, 0);
  }
  g.stroke();
  return ctx.createPattern(tile, 'repeat') ?? color;
}

/** Detail of the 'timeline-draw' event each draw dispatches (the benchmark and tests listen to it). */
export interface DrawStats {
  ms: number;
  rects: number;
  ops: number;
  rows: number;
  buckets: number;
  width: number;
  t0: number;
  t1: number;
}

/** Text of a tooltip for op i: kind, row, micro-batch, step, start, duration, bytes. */
export function opTooltipLines(run: RunView, index: TimelineIndex, i: number): string[] {
  const c = index.cols;
  const kind = KINDS[c.kind[i]] as Kind;
  const lines = [`${kind} · ${kindTitle(kind)}`, label(run.rows[c.row[i]] ?? `row ${c.row[i]}`)];
  const mb = c.microbatch[i] >= 0 ? `micro-batch ${c.microbatch[i]}` : '';
  const st = c.step[i] >= 0 ? `step ${c.step[i]}` : '';
  if (mb || st) lines.push([mb, st].filter(Boolean).join(' · '));
  lines.push(`start ${fmtMs(c.start[i])} · duration ${fmtMs(c.dur[i])}`);
  if (c.bytes[i] > 0) lines.push(`${fmtBytes(c.bytes[i])}`);
  return lines;
}

/** A canvas timeline of one RunView over a (possibly shared) Viewport. */
export class TimelineView {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly tooltip: HTMLElement;
  private readonly caption: HTMLElement;
  private run: RunView | null = null;
  private index: TimelineIndex | null = null;
  private readonly rects = new Rects();
  private theme: Theme;
  private cssWidth = 0;
  private frame = 0;
  private hover: { op: number; band: number } | null = null;
  private drag: { x: number; t0: number; t1: number } | null = null;
  private readonly stop: (() => void)[] = [];
  private drawn = 0;
  /** Run time shown at 0 on the axis (the compare view aligns runs at their first measured step). */
  private offset = 0;
  /** The run's step windows, shifted by `offset`. */
  private steps: NonNullable<RunView['steps']> = [];
  /** Row height of the last draw (fills the window's height when `fill`), and its lanes' boxes. */
  private rowH = ROW_H;
  private boxes = laneBoxes(ROW_H);
  /** Share of the window's height below the canvas top that the rows fill (0: rows of ROW_H). */
  private fill: number;
  private idlePattern: { color: string; pattern: CanvasPattern | string } | null = null;

  constructor(
    readonly viewport: Viewport,
    theme: Theme,
    opts: { caption?: string; fill?: number } = {},
  ) {
    this.theme = theme;
    this.fill = opts.fill ?? 0;
    this.canvas = h('canvas', { class: 'timeline-canvas', attrs: { tabindex: 0, role: 'img', 'aria-label': 'pipeline timeline' } });
    const ctx = this.canvas.getContext('2d');
    if (!ctx) throw new Error('this webview cannot draw on a canvas (no 2d context)');
    this.ctx = ctx;
    this.tooltip = h('div', { class: 'timeline-tooltip', attrs: { role: 'tooltip', hidden: true } });
    this.caption = h('div', { class: 'timeline-caption' }, opts.caption ?? '');
    this.element = h('div', { class: 'timeline' }, this.caption, h('div', { class: 'timeline-stage' }, this.canvas, this.tooltip));
    this.stop.push(viewport.onChange(() => this.invalidate()));
    const ro = new ResizeObserver(() => this.invalidate());
    ro.observe(this.element);
    this.stop.push(() => ro.disconnect());
    {
      const onResize = () => this.invalidate();
      window.addEventListener('resize', onResize);
      this.stop.push(() => window.removeEventListener('resize', onResize));
    }
    this.listen();
  }

  /** Sets the share of the window's height the rows fill (0: fixed rows), e.g. ½ when a second timeline follows. */
  setFill(share: number): void {
    this.fill = share;
    this.invalidate();
  }

  setCaption(text: string): void {
    replaceChildren(this.caption, label(text));
  }

  /** Shows a run (null: nothing); indexes its ops once. Throws when its columns disagree in length. */
  setRun(run: RunView | null, offsetMs = 0): void {
    this.run = run;
    this.offset = Number.isFinite(offsetMs) ? offsetMs : 0;
    let index: TimelineIndex | null = null;
    if (run) {
      const cols = toColumns(run.ops);
      if (this.offset) for (let i = 0; i < cols.length; i++) cols.start[i] -= this.offset;
      index = buildIndex(cols, run.rows.length, run.spanMs - this.offset);
    }
    this.index = index;
    // Step windows on the same shifted clock as the ops: made once here, not on every draw.
    this.steps = (run?.steps ?? []).map((s) => ({ ...s, start: s.start - this.offset, end: s.end - this.offset }));
    this.hover = null;
    this.hideTooltip();
    this.invalidate();
  }

  /** The run's span in ms (ops included), 0 without a run. */
  get spanMs(): number {
    return this.index?.spanMs ?? 0;
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.invalidate();
  }

  /** Schedules a draw on the next animation frame (several calls, one draw). */
  invalidate(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  destroy(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    for (const s of this.stop) s();
    this.element.remove();
  }

  private plotWidth(): number {
    return Math.max(1, this.cssWidth - GUTTER - RIGHT_PAD);
  }

  private scale(): number {
    return this.plotWidth() / (this.viewport.t1 - this.viewport.t0);
  }

  /** Draws everything now: axis, steps, rows, ops (level of detail per band), the hovered op. */
  draw(): void {
    const t = performance.now();
    const width = this.element.clientWidth;
    if (width <= 0) return; // hidden tab: drawn when it shows (the ResizeObserver fires)
    const rows = this.run?.rows.length ?? 0;
    // A timeline that fills the window shares its height among the rows (within ROW_H..MAX_ROW_H): no empty page below.
    const top = this.canvas.getBoundingClientRect().top + window.scrollY;
    const avail = this.fill * (window.innerHeight - top - 24) - AXIS_H - STEPS_H;
    const rowH = this.fill > 0 && rows > 0 ? Math.max(ROW_H, Math.min(MAX_ROW_H, Math.floor(avail / rows))) : ROW_H;
    if (rowH !== this.rowH) {
      this.rowH = rowH;
      this.boxes = laneBoxes(rowH);
    }
    this.canvas.dataset.rowH = String(rowH);
    this.canvas.dataset.computeH = String(this.boxes[0].h);
    const ROW = rowH;
    const height = AXIS_H + Math.max(1, rows) * ROW + STEPS_H;
    const dpr = window.devicePixelRatio || 1;
    this.cssWidth = width;
    if (this.canvas.width !== Math.round(width * dpr) || this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.ctx;
    const th = this.theme;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = th.background;
    ctx.fillRect(0, 0, width, height);
    ctx.font = `${Math.max(10, th.fontSize - 1)}px ${th.font}`;
    ctx.textBaseline = 'middle';
    const { t0, t1 } = this.viewport;
    const W = this.plotWidth();
    const scale = W / (t1 - t0);
    const xOf = (ms: number) => GUTTER + (ms - t0) * scale;

    // Axis and grid.
    const { ticks, step } = niceTicks(t0, t1, W);
    const digits = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step)));
    ctx.fillStyle = th.muted;
    ctx.textAlign = 'left';
    ctx.fillText('time (ms)', 6, AXIS_H / 2);
    ctx.strokeStyle = th.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const tk of ticks) {
      const x = Math.round(xOf(tk)) + 0.5;
      ctx.moveTo(x, AXIS_H - 4);
      ctx.lineTo(x, height);
    }
    ctx.stroke();
    ctx.textAlign = 'center';
    // The labels stay within the plot: the last one is not cut off at the right edge.
    for (const tk of ticks) {
      const text = tk.toFixed(digits);
      ctx.fillText(text, clampLabel(xOf(tk), ctx.measureText(text).width, GUTTER, width - 2), AXIS_H / 2);
    }

    let rectCount = 0;
    let visibleOps = 0;
    let buckets = 0;
    const run = this.run;
    const index = this.index;
    if (!run || !index) {
      ctx.textAlign = 'left';
      ctx.fillText('no run to show', GUTTER, AXIS_H + ROW / 2);
    } else {
      ctx.save();
      ctx.beginPath();
      ctx.rect(GUTTER, 0, W, height);
      ctx.clip();
      // Steps: a dashed line at each step start (none when they would be closer than 6 px), its number below the rows.
      const steps = this.steps.filter((s) => s.end >= t0 && s.start <= t1);
      const dense = steps.length > W / 6;
      ctx.setLineDash([3, 3]);
      ctx.strokeStyle = th.muted;
      ctx.beginPath();
      for (const s of dense ? [] : steps) {
        if (!(s.start >= t0 - 1e-9 && s.start <= t1)) continue;
        const x = Math.round(xOf(s.start)) + 0.5;
        ctx.moveTo(x, AXIS_H);
        ctx.lineTo(x, height);
      }
      ctx.stroke();
      ctx.setLineDash([]);
      // Rows: idle background of the compute band over the run's span (tinted and hatched: the bubble), then the ops of each lane.
      const spanX0 = Math.max(GUTTER, xOf(0));
      const spanX1 = Math.min(GUTTER + W, xOf(index.spanMs));
      if (this.idlePattern?.color !== th.muted) this.idlePattern = { color: th.muted, pattern: hatch(ctx, th.muted) };
      const computeBox = this.boxes[0];
      for (let r = 0; r < rows; r++) {
        const y = AXIS_H + r * ROW;
        ctx.fillStyle = th.palette.idle;
        ctx.fillRect(spanX0, y + computeBox.y, spanX1 - spanX0, computeBox.h);
        ctx.fillStyle = this.idlePattern.pattern;
        ctx.fillRect(spanX0, y + computeBox.y, spanX1 - spanX0, computeBox.h);
        for (let lane = 0; lane < LANE_COUNT; lane++) {
          const band = index.bands[r * LANE_COUNT + lane];
          if (!band.ops.length) continue;
          this.rects.clear();
          const lay = layoutBand(index, band, t0, t1, W, this.rects);
          visibleOps += lay.visible;
          if (lay.mode === 'buckets') buckets++;
          rectCount += this.rects.length;
          const box = this.boxes[lane];
          this.drawRects(y + box.y, box.h, lane === 0 && lay.mode === 'ops');
        }
      }
      this.drawCriticalPath(xOf);
      // Step labels over the lines.
      ctx.fillStyle = th.muted;
      ctx.textAlign = 'left';
      for (const s of dense ? [] : steps) {
        const x = xOf(s.start);
        if (x < GUTTER - 1 || x > GUTTER + W) continue;
        // The longest label that fits before the next step starts: none overlaps its neighbour.
        const room = Math.min(xOf(s.end), GUTTER + W) - x - 8;
        const text = [`step ${label(s.step)}${s.warmup ? ' (warm-up)' : ''}`, `step ${label(s.step)}`, label(s.step)].find((t) => ctx.measureText(t).width <= room);
        if (text) ctx.fillText(text, x + 4, height - STEPS_H / 2);
      }
      this.drawHover(xOf);
      ctx.restore();
      // Row labels in the gutter; the straggler's row says so under its name, with a bar in the "worse" colour.
      ctx.textAlign = 'left';
      const straggler = this.stragglerRow();
      for (let r = 0; r < rows; r++) {
        const y = AXIS_H + r * ROW;
        const mid = y + computeBox.y + computeBox.h / 2;
        ctx.fillStyle = th.foreground;
        ctx.fillText(this.fit(label(run.rows[r]), GUTTER - 12), 6, r === straggler ? mid - 8 : mid);
        if (r !== straggler) continue;
        const over = run.report?.straggler?.overMeanFraction;
        ctx.fillStyle = th.worse;
        ctx.fillRect(0, y + computeBox.y, 3, computeBox.h);
        ctx.fillText(this.fit(`straggler${Number.isFinite(over) ? ` +${(100 * over).toFixed(1)}%` : ''}`, GUTTER - 12), 6, mid + 8);
      }
      if (!index.cols.length) {
        ctx.fillStyle = th.muted;
        ctx.fillText('this run has no ops', GUTTER + 6, AXIS_H + ROW / 2);
      }
    }
    const stats: DrawStats = { ms: performance.now() - t, rects: rectCount, ops: visibleOps, rows, buckets, width: W, t0, t1 };
    this.drawn++;
    this.canvas.dispatchEvent(new CustomEvent<DrawStats>('timeline-draw', { bubbles: true, detail: stats }));
  }

  /** The straggler's row: its stage, when the rows are the report's stages (no replicas); else -1. */
  private stragglerRow(): number {
    const r = this.run?.report;
    const stage = r?.straggler?.stage;
    if (!r || !Array.isArray(r.stages) || r.stages.length < 2 || r.stages.length !== this.run!.rows.length || typeof stage !== 'number' || !Number.isInteger(stage)) return -1;
    return stage;
  }

  /**
   * Outlines the report's critical path in its step: each compute op on the path boxed in the foreground colour, the
   * hand-overs between stages as dashed lines (a path of thousands of kernels, a PyTorch trace's, is outlined alone).
   */
  private drawCriticalPath(xOf: (ms: number) => number): void {
    const cp = this.run?.report?.criticalPath;
    const stepStart = cp ? this.steps.find((s) => s.step === cp.step)?.start : undefined;
    const rows = this.run?.rows.length ?? 0;
    // Path ops name stages: drawn when the rows are the stages (no replicas).
    if (!cp || stepStart === undefined || !Array.isArray(cp.ops) || this.run?.report?.stages?.length !== rows) return;
    const box = this.boxes[0];
    const ctx = this.ctx;
    const path = cp.ops.filter((o) => o.kind !== 'SEND' && o.kind !== 'RECV' && Number.isInteger(o.stage) && o.stage >= 0 && o.stage < rows);
    ctx.strokeStyle = this.theme.foreground;
    ctx.lineWidth = 2;
    for (const o of path) {
      const x0 = xOf(stepStart + o.startMs);
      const w = Math.max(2, xOf(stepStart + o.startMs + o.durMs) - x0);
      ctx.strokeRect(x0 + 1, AXIS_H + o.stage * this.rowH + box.y + 1, w - 2, box.h - 2);
    }
    if (path.length > 500) return;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    for (let i = 1; i < path.length; i++) {
      const a = path[i - 1];
      const b = path[i];
      if (a.stage === b.stage) continue;
      ctx.moveTo(xOf(stepStart + a.startMs + a.durMs), AXIS_H + a.stage * this.rowH + box.y + box.h / 2);
      ctx.lineTo(xOf(stepStart + b.startMs), AXIS_H + b.stage * this.rowH + box.y + box.h / 2);
    }
    ctx.stroke();
    ctx.setLineDash([]);
  }

  /** Number of draws so far (for tests). */
  get draws(): number {
    return this.drawn;
  }

  /** Draws the rects in the buffer at row offset y, one fillStyle per kind; labels ops wide enough for 'F3'. */
  private drawRects(y: number, hgt: number, labels: boolean): void {
    const ctx = this.ctx;
    const rc = this.rects;
    const n = rc.length;
    for (let k = 0; k <= KIND_COUNT; k++) {
      if (k === IDLE) continue;
      ctx.fillStyle = this.theme.palette[KINDS[k]];
      for (let j = 0; j < n; j++) {
        if (rc.kind[j] !== k) continue;
        const w = rc.w[j];
        // Separate neighbouring ops by a hairline when there is room.
        ctx.fillRect(GUTTER + rc.x[j], y, w >= 4 && rc.op[j] >= 0 ? w - 1 : w, hgt);
      }
    }
    if (!labels || !this.index) return;
    const c = this.index.cols;
    ctx.fillStyle = this.theme.background;
    ctx.textAlign = 'center';
    for (let j = 0; j < n; j++) {
      const i = rc.op[j];
      if (i < 0 || rc.w[j] < 24) continue;
      const text = `${KINDS[c.kind[i]]}${c.microbatch[i] >= 0 ? c.microbatch[i] : ''}`;
      const x0 = Math.max(rc.x[j], 0);
      const x1 = Math.min(rc.x[j] + rc.w[j], this.plotWidth());
      if (x1 - x0 >= 24) ctx.fillText(text, GUTTER + (x0 + x1) / 2, y + hgt / 2 + 1);
    }
  }

  private drawHover(xOf: (ms: number) => number): void {
    if (!this.hover || !this.index) return;
    const { op, band } = this.hover;
    const c = this.index.cols;
    const b = this.index.bands[band];
    const box = this.boxes[b.lane];
    const x0 = xOf(c.start[op]);
    const w = Math.max(2, c.dur[op] * this.scale());
    this.ctx.strokeStyle = this.theme.focus;
    this.ctx.lineWidth = 2;
    this.ctx.strokeRect(x0, AXIS_H + b.row * this.rowH + box.y - 1, w, box.h + 2);
  }

  /** Cuts text to fit `max` pixels with an ellipsis. */
  private fit(text: string, max: number): string {
    if (this.ctx.measureText(text).width <= max) return text;
    let lo = 0;
    let hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.ctx.measureText(`${text.slice(0, mid)}…`).width <= max) lo = mid;
      else hi = mid - 1;
    }
    return `${text.slice(0, lo)}…`;
  }

  /** The band and time under a point of the canvas (CSS pixels), or null outside the plot. */
  private locate(x: number, y: number): { band: number; t: number } | null {
    if (!this.run || x < GUTTER || y < AXIS_H) return null;
    const r = Math.floor((y - AXIS_H) / this.rowH);
    if (r < 0 || r >= this.run.rows.length) return null;
    const within = y - AXIS_H - r * this.rowH;
    let lane = -1;
    for (let l = 0; l < LANE_COUNT; l++) {
      const b = this.boxes[l];
      if (within >= b.y - 1 && within <= b.y + b.h + 1) lane = l;
    }
    if (lane < 0) return null;
    return { band: r * LANE_COUNT + lane, t: this.viewport.t0 + (x - GUTTER) / this.scale() };
  }

  private updateHover(e: PointerEvent): void {
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    const at = this.locate(x, y);
    let next: { op: number; band: number } | null = null;
    if (at && this.index) {
      const op = hitTest(this.index, this.index.bands[at.band], at.t, 3 / this.scale());
      if (op >= 0) next = { op, band: at.band };
    }
    if (next?.op !== this.hover?.op) {
      this.hover = next;
      this.invalidate();
    }
    if (!next || !this.run || !this.index) return this.hideTooltip();
    const lane = LANE_NAMES[this.index.bands[next.band].lane];
    const lines = opTooltipLines(this.run, this.index, next.op);
    lines.splice(2, 0, `${lane} lane`);
    replaceChildren(this.tooltip, ...lines.map((l, i) => h('div', { class: i === 0 ? 'tt-title' : 'tt-line' }, l)));
    this.tooltip.hidden = false;
    const tw = this.tooltip.offsetWidth;
    const left = x + 14 + tw > this.cssWidth ? Math.max(0, x - 14 - tw) : x + 14;
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${y + 14}px`;
  }

  private hideTooltip(): void {
    this.tooltip.hidden = true;
  }

  private listen(): void {
    const c = this.canvas;
    const vp = this.viewport;
    c.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      this.drag = { x: e.clientX, t0: vp.t0, t1: vp.t1 };
      c.classList.add('dragging');
      this.hideTooltip();
      try {
        c.setPointerCapture(e.pointerId);
      } catch {
        // synthetic events have no active pointer to capture
      }
    });
    c.addEventListener('pointermove', (e) => {
      if (this.drag) {
        const dt = (e.clientX - this.drag.x) / this.scale();
        vp.set(this.drag.t0 - dt, this.drag.t1 - dt);
        return;
      }
      this.updateHover(e);
    });
    const end = () => {
      this.drag = null;
      c.classList.remove('dragging');
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    c.addEventListener('pointerleave', () => {
      if (!this.drag && this.hover) {
        this.hover = null;
        this.hideTooltip();
        this.invalidate();
      }
    });
    c.addEventListener(
      'wheel',
      (e) => {
        const rect = c.getBoundingClientRect();
        const x = e.clientX - rect.left;
        if (x < GUTTER) return;
        e.preventDefault();
        const k = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
        const dx = e.deltaX * k;
        const dy = e.deltaY * k;
        if (e.shiftKey || Math.abs(dx) > Math.abs(dy)) vp.pan((dx || dy) / this.scale());
        else vp.zoom(Math.exp(dy * 0.0015), vp.t0 + (x - GUTTER) / this.scale());
      },
      { passive: false },
    );
    c.addEventListener('keydown', (e) => {
      const len = vp.t1 - vp.t0;
      const k = e.key;
      if (k === 'ArrowLeft' || k === 'a') vp.pan(-len * (e.shiftKey ? 0.5 : 0.1));
      else if (k === 'ArrowRight' || k === 'd') vp.pan(len * (e.shiftKey ? 0.5 : 0.1));
      else if (k === '+' || k === '=' || k === 'w') vp.zoom(0.8);
      else if (k === '-' || k === '_' || k === 's') vp.zoom(1.25);
      else if (k === '0' || k === 'Home') vp.fit();
      else return;
      e.preventDefault();
    });
  }
}

/** Kinds only some runs have (a PyTorch profiler trace's, gradient compression): their legend items show when a run holds them (showLegendKinds). */
const GPU_KINDS: readonly Kind[] = ['KERNEL', 'COMM', 'MEMCPY', 'MEMSET', 'COMPRESS', 'DECOMPRESS', 'SYNC'];

/** Shows the legend items of the GPU kinds `run` holds, hides the others (the pipeline kinds always show). */
export function showLegendKinds(toolbar: HTMLElement, run: RunView): void {
  const present = new Set<number>();
  for (let i = 0; i < run.ops.kind.length; i++) present.add(run.ops.kind[i]);
  for (const k of GPU_KINDS) {
    const item = toolbar.querySelector<HTMLElement>(`.legend-item[data-kind="${k}"]`);
    if (item) item.hidden = !present.has(KINDS.indexOf(k));
  }
}

/** Zoom buttons and a legend for one or several timelines on a viewport. */
export function timelineToolbar(viewport: Viewport, extra: (Node | string)[] = []): HTMLElement {
  const legend = h(
    'div',
    { class: 'legend', attrs: { 'aria-label': 'op kinds' } },
    ...KINDS.map((k) =>
      h('span', { class: 'legend-item', title: kindTitle(k), attrs: { 'data-kind': k, hidden: GPU_KINDS.includes(k) } }, h('span', { class: `swatch kind-${k}` }), k),
    ),
    h('span', { class: 'legend-item', title: 'no compute on the stage: the bubble' }, h('span', { class: 'swatch kind-idle' }), 'idle (bubble)'),
    h('span', { class: 'legend-item', title: 'the ops that set the step time, in the report’s typical step' }, h('span', { class: 'swatch critical-path' }), 'critical path'),
  );
  return h(
    'div',
    { class: 'toolbar' },
    button('−', () => viewport.zoom(1.5), { secondary: true, title: 'zoom out (-)' }),
    button('+', () => viewport.zoom(1 / 1.5), { secondary: true, title: 'zoom in (+)' }),
    button('Fit', () => viewport.fit(), { secondary: true, title: 'show the whole run (0)' }),
    h('span', { class: 'hint' }, 'drag or ←/→ to pan · wheel or +/− to zoom'),
    ...extra,
    legend,
  );
}
