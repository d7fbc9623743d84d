// UI state of the webview (tab, zoom windows, scroll, preview) kept with the VS Code webview API's getState/setState.

export const TABS = ['timeline', 'compare', 'charts', 'recommendations'] as const;
export type Tab = (typeof TABS)[number];

export interface TimeWindow {
  t0: number;
  t1: number;
}

export interface UiState {
  version: 1;
  /** The trace the windows belong to: a window is not carried over to another file. */
  file: string | null;
  tab: Tab;
  window: TimeWindow | null;
  compareWindow: TimeWindow | null;
  /** Page scroll offset per tab. */
  scroll: Record<Tab, number>;
  /** Rank of the plan whose prediction the Compare tab shows, or null for the load's own prediction. */
  previewRank: number | null;
}

/** What acquireVsCodeApi() returns, as far as state goes. */
export interface StateApi {
  getState(): unknown;
  setState(state: unknown): void;
}

export function defaultState(): UiState {
  return { version: 1, file: null, tab: 'timeline', window: null, compareWindow: null, scroll: { timeline: 0, compare: 0, charts: 0, recommendations: 0 }, previewRank: null };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function toWindow(v: unknown): TimeWindow | null {
  if (!isObj(v) || !num(v.t0) || !num(v.t1) || !(v.t1 > v.t0)) return null;
  return { t0: v.t0, t1: v.t1 };
}

/** Reads whatever getState() returned (nothing, an older shape, garbage) into a valid UiState; unknown parts fall back to defaults. */
export function restoreState(raw: unknown): UiState {
  const s = defaultState();
  if (!isObj(raw) || raw.version !== 1) return s;
  if (typeof raw.file === 'string') s.file = raw.file;
  if (typeof raw.tab === 'string' && (TABS as readonly string[]).includes(raw.tab)) s.tab = raw.tab as Tab;
  s.window = toWindow(raw.window);
  s.compareWindow = toWindow(raw.compareWindow);
  if (isObj(raw.scroll)) for (const t of TABS) if (num(raw.scroll[t]) && raw.scroll[t] >= 0) s.scroll[t] = raw.scroll[t] as number;
  if (num(raw.previewRank)) s.previewRank = raw.previewRank;
  return s;
}

/**
 * The UI state and its persistence: update() changes it at once and saves it with setState after `delayMs` of quiet
 * (a pan fires an update per frame; one save is enough), flush() saves now (before the page goes away).
 */
export class StateStore {
  private state: UiState;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly api: StateApi,
    private readonly delayMs = 250,
  ) {
    let raw: unknown = undefined;
    try {
      raw = api.getState();
    } catch {
      raw = undefined;
    }
    this.state = restoreState(raw);
  }

  get(): Readonly<UiState> {
    return this.state;
  }

  update(patch: Partial<UiState>): void {
    this.state = { ...this.state, ...patch, scroll: { ...this.state.scroll, ...(patch.scroll ?? {}) } };
    if (this.delayMs <= 0) return this.flush();
    if (this.timer === null) this.timer = setTimeout(() => this.flush(), this.delayMs);
  }

  /** Switches to a trace: keeps the tab, forgets windows and preview that belonged to another file. */
  openFile(file: string): void {
    if (this.state.file === file) return;
    this.update({ file, window: null, compareWindow: null, previewRank: null, scroll: { timeline: 0, compare: 0, charts: 0, recommendations: 0 } });
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.api.setState(this.state);
  }
}
