// Webview entry: builds the page (summary, tabs: timeline, compare, charts, recommendations), handles host messages, keeps UI state.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import type { TraceDiff } from '../../core/analysis/diff';
import type { FromWebview, RunView, ToWebview } from './protocol';
import { ChartsView } from './chart-view';
import { CompareView } from './compare';
import { button, h, replaceChildren } from './dom';
import { RecommendationsView } from './recommendations';
import { StateStore, TABS } from './state';
import type { StateApi, Tab } from './state';
import { summaryParts } from './summary';
import { fmtMs, label } from './text';
import { applyKindColors, onThemeChange, readTheme } from './theme';
import { TimelineView, showLegendKinds, timelineToolbar } from './timeline';
import { Viewport, representativeStep } from './timeline-model';


interface VsCodeApi extends StateApi {
  postMessage(message: FromWebview): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode: VsCodeApi =
  typeof acquireVsCodeApi === 'function'
    ? acquireVsCodeApi()
    : { postMessage: (m) => console.log('pipeprof webview →', m), getState: () => undefined, setState: () => undefined };
const post = (m: FromWebview): void => vscode.postMessage(m);
const log = (level: 'info' | 'warn' | 'error', message: string): void => post({ type: 'log', level, message: label(message, 2000) });

/** Builds the page and starts listening; runs once the document has a body (the host may put the script in <head>). */
function start(): void {
  const store = new StateStore(vscode);
  applyKindColors();
  let theme = readTheme();

  // Page skeleton.
  const title = h('h1', { class: 'title' }, 'pipeprof');
  const summary = h('div', { class: 'summary', attrs: { 'aria-label': 'summary' } });
  const notice = h('div', { class: 'notice', attrs: { role: 'status', hidden: true } });
  const errorBox = h('div', { class: 'error', attrs: { role: 'alert', hidden: true } });

  const mainViewport = new Viewport();
  const timeline = new TimelineView(mainViewport, theme, { fill: 1 });
  /** Compare Two Traces: run b under run a on the Timeline tab, on the same axis. */
  const timelineB = new TimelineView(mainViewport, theme);
  timelineB.element.hidden = true;
  /** The window of the step the view opens on (the median measured step), for the Step button. */
  let stepWindow: { t0: number; t1: number } | null = null;
  const stepButton = button('Step', () => stepWindow && mainViewport.set(stepWindow.t0, stepWindow.t1), { secondary: true, title: 'show the median measured step, as the view opens' });
  const sampledNote = h('span', { class: 'sampled', attrs: { hidden: true } }, 'sampled: a very large trace, the timeline shows a sample of its ops');
  let previewRun: { rank: number; run: RunView } | null = null;
  const compare = new CompareView(theme, () => showPrediction(null));
  const charts = new ChartsView(theme);
  const recs = new RecommendationsView(post);

  const mainToolbar = timelineToolbar(mainViewport, [stepButton, sampledNote]);
  const TAB_TITLES: Record<Tab, string> = { timeline: 'Timeline', compare: 'Predicted vs measured', charts: 'Charts', recommendations: 'Recommendations' };
  const panel = (t: Tab, ...children: Node[]) => h('div', { class: 'panel', attrs: { id: `panel-${t}` } }, ...children);
  const panels: Record<Tab, HTMLElement> = {
    timeline: panel('timeline', mainToolbar, timeline.element, timelineB.element),
    compare: panel('compare', compare.element),
    charts: panel('charts', charts.element),
    recommendations: panel('recommendations', recs.element),
  };
  // vscode-tabs gives its headers and panels ids of its own: ours are on the inner elements and in data-tab.
  const tabs = h('vscode-tabs', { attrs: { panel: true } });
  const headers = {} as Record<Tab, HTMLElement>;
  for (const t of TABS) {
    headers[t] = h('vscode-tab-header', { attrs: { slot: 'header', 'data-tab': t } }, TAB_TITLES[t]);
    tabs.append(headers[t]);
    tabs.append(h('vscode-tab-panel', { attrs: { 'data-tab': t } }, panels[t]));
  }
  document.body.append(h('header', null, title, summary), errorBox, notice, tabs);

  let current: { file: string; measured: RunView; predicted: RunView | null; diff: TraceDiff | null } | null = null;

  function selectTab(tab: Tab, fromUser: boolean): void {
    const prev = store.get().tab;
    if (prev !== tab) store.update({ tab, scroll: { [prev]: window.scrollY } as Record<Tab, number> });
    if (!fromUser) (tabs as HTMLElement & { selectedIndex: number }).selectedIndex = TABS.indexOf(tab);
    // Panels become visible after the tab element updates: draw and scroll then.
    requestAnimationFrame(() => {
      if (tab === 'charts') charts.render();
      if (tab === 'timeline') {
        timeline.invalidate();
        timelineB.invalidate();
      }
      if (tab === 'compare') compare.invalidate();
      window.scrollTo(0, store.get().scroll[tab] ?? 0);
    });
  }

  tabs.addEventListener('vsc-tabs-select', (e) => {
    const i = (e as CustomEvent<{ selectedIndex: number }>).detail?.selectedIndex;
    if (typeof i === 'number' && TABS[i]) selectTab(TABS[i], true);
  });
  window.addEventListener('scroll', () => store.update({ scroll: { [store.get().tab]: window.scrollY } as Record<Tab, number> }), { passive: true });
  window.addEventListener('pagehide', () => store.flush());
  mainViewport.onChange(() => store.update({ window: { t0: mainViewport.t0, t1: mainViewport.t1 } }));
  compare.viewport.onChange(() => store.update({ compareWindow: { t0: compare.viewport.t0, t1: compare.viewport.t1 } }));

  onThemeChange(() => {
    theme = readTheme();
    timeline.setTheme(theme);
    timelineB.setTheme(theme);
    compare.setTheme(theme);
    charts.setTheme(theme);
  });

  function showError(message: string | null): void {
    errorBox.hidden = message === null;
    replaceChildren(errorBox, message === null ? null : label(message, 2000));
  }

  /** Shows the load's own prediction (rank null) or a previewed plan's in the Compare tab. */
  function showPrediction(rank: number | null): void {
    if (!current) return;
    const preview = rank !== null && previewRun?.rank === rank ? previewRun.run : null;
    const predicted = preview ?? current.predicted;
    const diff = preview ? null : current.diff;
    const what = preview
      ? { text: `Plan #${label(rank)} (preview) against the measured run`, preview: true }
      : diff && current.predicted
        ? { text: `b (${label(current.predicted.title)}) against a (${label(current.measured.title)})`, preview: false }
        : { text: current.predicted ? 'The simulator’s prediction of the traced plan against the measured run' : '', preview: false };
    compare.set(current.measured, predicted, what, diff);
    const saved = store.get().compareWindow;
    if (saved) compare.viewport.set(saved.t0, saved.t1);
    else compare.viewport.fit();
    store.update({ previewRank: preview ? rank : null });
    recs.markPreview(preview ? rank : null);
  }

  function onLoad(msg: Extract<ToWebview, { type: 'load' }>): void {
    const diff = msg.diff && typeof msg.diff === 'object' ? msg.diff : null;
    // Compare Two Traces opens on its Compare tab; a reload of the same traces keeps the tab the user chose.
    if (diff && store.get().file !== String(msg.file ?? '')) store.update({ tab: 'compare' });
    store.openFile(String(msg.file ?? ''));
    const measured = msg.measured;
    current = { file: String(msg.file ?? ''), measured, predicted: msg.predicted ?? null, diff };
    replaceChildren(headers.compare, diff ? 'Compare' : TAB_TITLES.compare);
    previewRun = null;
    showError(null);
    replaceChildren(title, label(measured.title || msg.file || 'pipeprof'));
    title.title = label(msg.file, 2000);
    replaceChildren(
      summary,
      ...summaryParts(measured.report).map((p) => h('span', { class: `summary-item summary-${p.key}`, title: p.title }, h('span', { class: 'summary-label' }, p.label), ' ', h('span', { class: 'summary-value' }, p.value))),
    );
    const notes = [msg.notice ? label(msg.notice, 1000) : ''].filter(Boolean);
    notice.hidden = !notes.length;
    replaceChildren(notice, ...notes);
    sampledNote.hidden = !measured.sampled;
    timeline.setRun(measured);
    // Compare Two Traces: b under a on the Timeline tab too, each captioned.
    const b = diff ? msg.predicted : null;
    timelineB.element.hidden = !b;
    timelineB.setRun(b ?? null);
    // Two runs share the window's height: a the upper half, b what is left below it.
    timeline.setFill(b ? 0.5 : 1);
    timelineB.setFill(b ? 1 : 0);
    showLegendKinds(mainToolbar, measured);
    mainViewport.setSpan(Math.max(timeline.spanMs, timelineB.spanMs));
    // The view opens on one representative step: the report's typical (median) measured step, its critical path outlined.
    const rep = representativeStep(measured.steps, measured.report?.criticalPath?.step);
    stepWindow = rep ? { t0: rep.t0, t1: rep.t1 } : null;
    stepButton.hidden = !rep;
    const shows = rep
      ? `step ${label(rep.step.step)}${rep.step.warmup ? ' (warm-up)' : ''}: the median of ${rep.among} ${rep.step.warmup ? '' : 'measured '}step${rep.among === 1 ? '' : 's'}, ${fmtMs(rep.step.end - rep.step.start)} · Fit (0) shows the whole run · Step comes back here`
      : '';
    timeline.setCaption(b ? `a · ${label(measured.title)}${shows ? ` · ${shows}` : ''}` : shows);
    timelineB.setCaption(b ? `b · ${label(b.title)}` : '');
    const st = store.get();
    if (st.window) mainViewport.set(st.window.t0, st.window.t1);
    else if (stepWindow) mainViewport.set(stepWindow.t0, stepWindow.t1);
    else mainViewport.fit();
    charts.setRun(measured);
    recs.set(msg.recommendations ?? []);
    const wanted = st.previewRank;
    showPrediction(null);
    // A preview shown before the webview was hidden: ask for it again (the host does not keep it).
    if (wanted !== null && recs.ranks.includes(wanted)) post({ type: 'preview', rank: wanted });
    selectTab(st.tab, false);
  }

  function onMessage(msg: ToWebview): void {
    switch (msg.type) {
      case 'load':
        return onLoad(msg);
      case 'preview':
        previewRun = { rank: msg.rank, run: msg.predicted };
        recs.settle();
        showPrediction(msg.rank);
        return selectTab('compare', false);
      case 'applied':
        return recs.applied(msg.rank, msg.configFile);
      case 'error':
        recs.settle();
        return showError(String(msg.message ?? 'unknown error'));
      default: {
        const type = (msg as { type?: unknown }).type;
        log('warn', `webview: unknown message type ${label(type)}; ignored`);
      }
    }
  }

  window.addEventListener('message', (e: MessageEvent) => {
    const msg = e.data as ToWebview | null;
    if (!msg || typeof msg !== 'object' || typeof (msg as { type?: unknown }).type !== 'string') {
      log('warn', `webview: message without a type ignored (${label(msg, 80)})`);
      return;
    }
    try {
      onMessage(msg);
    } catch (err) {
      const text = `webview: could not show the ${label(msg.type)} message: ${err instanceof Error ? err.message : String(err)}`;
      showError(text);
      log('error', text);
    }
  });
  window.addEventListener('error', (e) => log('error', `webview: ${e.message} (${label(e.filename)}:${e.lineno})`));

  post({ type: 'ready' });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
else start();
