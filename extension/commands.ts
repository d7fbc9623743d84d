// The extension's commands: Profile Training, Open Trace, Recommend, Compare Two Traces, Refresh Runs, and `_state` for tests.
import { predictionText } from '../core/simulate/uncertainty';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parse as parseJsonc } from 'jsonc-parser';
import { planText } from '../core/config/apply-plan';
import { formatBytes } from '../core/text';
import type { CaptureOutcome } from './capture-process';
import { runCapture, timestampName } from './capture-process';
import { CONFIG_NAME } from './config-edit';
import type { AppliedPlan, Host } from './host';
import type { RunSummary } from './run-summary';
import { newestTrace } from './run-summary';
import type { RunsProvider } from './runs-view';
import type { ViewState } from './trace-editor';
import { TraceView, openComparePanel, viewTypeFor } from './trace-editor';
import type { TraceSession } from './trace-session';
import { errorLine, importFolder, loadTraceSession, planAt } from './trace-session';

/** How long Open Trace waits for its view to appear and for core to finish. */
const OPEN_TIMEOUT_MS = 180_000;
const TRACE_FILTERS = { 'Trace files': ['json', 'gz'] };

/** What a command argument names: a Uri, a path, a Runs-view item, or `{fsPath}`. */
export function argPath(arg: unknown): string | undefined {
  if (!arg) return undefined;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof arg === 'string') {
    if (/^file:\/\//.test(arg)) return vscode.Uri.parse(arg).fsPath;
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    return path.isAbsolute(arg) || !root ? path.resolve(arg) : path.join(root, arg);
  }
  if (typeof arg === 'object') {
    const o = arg as { fsPath?: unknown; file?: unknown; scheme?: unknown; path?: unknown };
    if (typeof o.fsPath === 'string') return o.fsPath;
    if (typeof o.file === 'string') return o.file;
    if (o.scheme === 'file' && typeof o.path === 'string') return vscode.Uri.from({ scheme: 'file', path: o.path }).fsPath;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProfileResult extends Omit<CaptureOutcome, 'stderr'> {
  configFile?: string;
  /** The opened trace's view, on success. */
  state?: ViewState | null;
}

export interface RecommendArgs {
  trace?: unknown;
  /** 1-based rank to apply without asking. */
  rank?: number;
  /** The config to write into (default: the one the trace belongs to). */
  config?: unknown;
}

export class Commands implements vscode.Disposable {
  /** Captures running now: cancelled when the extension stops, so no training is left behind. */
  private readonly captures = new Set<AbortController>();

  constructor(private readonly host: Host, private readonly runs: RunsProvider) {}

  dispose(): void {
    for (const ac of this.captures) ac.abort();
  }

  register(): vscode.Disposable[] {
    const c = (id: string, f: (...args: unknown[]) => unknown) => vscode.commands.registerCommand(id, f);
    return [
      c('pipeprof.profile', (arg) => this.profile(arg)),
      c('pipeprof.openTrace', (arg) => this.openTrace(arg)),
      c('pipeprof.recommend', (arg) => this.recommend(arg)),
      c('pipeprof.compare', (a, b) => this.compare(a, b)),
      c('pipeprof.refreshRuns', () => this.refreshRuns()),
      c('pipeprof._state', (arg) => this.state(arg)),
    ];
  }

  /** The trace view of `file`, waiting for VS Code to create it; then for its content. */
  private async waitForView(file: string): Promise<TraceView | undefined> {
    const until = Date.now() + OPEN_TIMEOUT_MS;
    for (;;) {
      const v = this.host.viewsOf(file).filter((x): x is TraceView => x instanceof TraceView && x.kind === 'trace').pop();
      if (v) {
        await Promise.race([v.loaded, sleep(Math.max(0, until - Date.now()))]);
        return v;
      }
      if (Date.now() > until) return undefined;
      await sleep(50);
    }
  }

  /** Opens a trace in the pipeprof editor (a picker without argument); returns what the editor shows once loaded. */
  async openTrace(arg?: unknown): Promise<ViewState | null> {
    let file = argPath(arg);
    if (!file) {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: TRACE_FILTERS, title: 'pipeprof: open a trace' });
      file = picked?.[0]?.fsPath;
      if (!file) return null;
    }
    // A folder of PyTorch rank files: imported (streamed) into a trace in the temporary folder, which then opens as any trace.
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
      const folder = file;
      try {
        file = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `pipeprof: importing ${path.basename(folder)}` }, () => importFolder(folder));
      } catch (e) {
        void vscode.window.showErrorMessage(`pipeprof: ${errorLine(e)}`);
        return null;
      }
    }
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), viewTypeFor(file));
    const v = await this.waitForView(file);
    return v ? v.state() : null;
  }

  /** The config Profile runs: the argument, the active editor's, or the workspace's shallowest. */
  private async pickConfig(arg: unknown): Promise<string | undefined> {
    const given = argPath(arg);
    if (given) return given;
    const active = vscode.window.activeTextEditor?.document;
    if (active && active.uri.scheme === 'file' && path.basename(active.uri.fsPath) === CONFIG_NAME) return active.uri.fsPath;
    const all = await this.host.configFiles();
    return all.sort((a, b) => a.split(/[\\/]/).length - b.split(/[\\/]/).length || a.localeCompare(b))[0];
  }

  /**
   * Profile Training: `pipeprof capture <config> --json --out <outputFolder>/<timestamp>.pptrace.json` with a
   * cancellable progress notification; opens the trace on success, shows the CLI's error line on failure.
   */
  async profile(arg?: unknown): Promise<ProfileResult> {
    const configFile = await this.pickConfig(arg);
    if (!configFile || !fs.existsSync(configFile)) {
      const error = configFile ? `${configFile}: file not found` : `no ${CONFIG_NAME} in the workspace; create one (its JSON Schema completes the fields), e.g. {"model": "mlp", "stages": 2}`;
      void vscode.window.showErrorMessage(`pipeprof: ${error}`);
      return { ok: false, code: null, cancelled: false, error };
    }
    // The CLI reads the file from disk: unsaved changes are saved first.
    const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && path.resolve(d.uri.fsPath) === path.resolve(configFile));
    if (open?.isDirty) await open.save();
    let backend: string | undefined;
    try {
      const raw = parseJsonc(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown> | undefined;
      if (!raw || raw.backend === undefined) backend = this.host.setting<string>('backend') || undefined;
    } catch {
      // The CLI names what is wrong with the file.
    }
    const outDir = this.host.outputFolder(configFile);
    fs.mkdirSync(outDir, { recursive: true });
    const out = path.join(outDir, `${timestampName()}.pptrace.json`);
    const rel = vscode.workspace.asRelativePath(configFile);
    this.host.log('info', `profile ${configFile} → ${out}${backend ? ` (backend ${backend})` : ''}`);
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `pipeprof: profiling ${rel}`, cancellable: true },
      async (progress, token) => {
        const ac = new AbortController();
        this.captures.add(ac);
        token.onCancellationRequested(() => ac.abort());
        let done = 0;
        progress.report({ message: 'starting the stage workers…' });
        return runCapture({ extensionPath: this.host.extensionPath, configFile, out, backend }, {
          signal: ac.signal,
          onProgress: (p) => {
            progress.report({ message: `step ${p.text}`, increment: p.total ? ((p.done - done) / p.total) * 100 : undefined });
            done = p.done;
            this.host.log('info', `capture ${p.text}`);
          },
          onLine: (line) => this.host.log('info', line),
        }).finally(() => this.captures.delete(ac));
      },
    );
    const { stderr: _stderr, ...result } = outcome;
    void _stderr;
    if (outcome.ok && outcome.trace) {
      this.runs.refresh();
      const state = await this.openTrace(vscode.Uri.file(outcome.trace));
      return { ...result, configFile, state };
    }
    if (outcome.cancelled) {
      this.host.log('info', 'profile cancelled');
      void vscode.window.showInformationMessage('pipeprof: profiling cancelled');
    } else {
      this.host.log('error', `profile failed (exit code ${outcome.code}): ${outcome.error}`);
      const actions = outcome.trace ? ['Open Failed Trace', 'Show Log'] : ['Show Log'];
      void vscode.window.showErrorMessage(`pipeprof: ${outcome.error}`, ...actions).then((a) => {
        if (a === 'Open Failed Trace' && outcome.trace) void this.openTrace(vscode.Uri.file(outcome.trace));
        if (a === 'Show Log') this.host.output.show(true);
      });
      if (outcome.trace) this.runs.refresh();
    }
    return { ...result, configFile };
  }

  /** The session of a trace: the open editor's, or loaded now (with a progress notification). */
  private async sessionOf(trace: string): Promise<TraceSession> {
    for (const v of this.host.viewsOf(trace).reverse())
      if (v instanceof TraceView && v.kind === 'trace') {
        await v.loaded;
        if (v.traceSession) return v.traceSession;
      }
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `pipeprof: ranking plans for ${path.basename(trace)}…` },
      () => loadTraceSession(trace),
    );
  }

  /**
   * Recommend: ranked plans for a trace (the argument, the active trace editor's, or the newest in a config's output
   * folder), one chosen from a quick pick (or `rank`) and written into the config. Returns what was written.
   */
  async recommend(arg?: unknown): Promise<AppliedPlan | undefined> {
    const o: RecommendArgs = arg && typeof arg === 'object' && !(arg instanceof vscode.Uri) && ('trace' in arg || 'rank' in arg || 'config' in arg) ? (arg as RecommendArgs) : { trace: arg };
    const config = argPath(o.config);
    try {
      let trace = argPath(o.trace);
      if (!trace && config) {
        trace = await newestTrace(this.host.outputFolder(config));
        if (!trace) throw new Error(`no trace in ${this.host.outputFolder(config)} yet; run ▶ Profile on ${path.basename(config)} first`);
      }
      if (!trace) {
        const v = this.host.lastActive;
        if (v instanceof TraceView && v.kind === 'trace') trace = v.files[0];
      }
      if (!trace) {
        const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: TRACE_FILTERS, title: 'pipeprof: pick a trace to rank plans for' });
        trace = picked?.[0]?.fsPath;
        if (!trace) return undefined;
      }
      const session = await this.sessionOf(trace);
      if (!session.plans.length) throw new Error(session.notice ?? `no plans for ${path.basename(trace)}`);
      let rank = o.rank;
      if (rank === undefined) {
        const items = session.plans.map((p, i) => ({
          rank: i + 1,
          label: `#${i + 1}  ${p.layout}`,
          description: `${predictionText({ ms: p.predictedStepTimeMs, relative: p.intervalRelative })} per step · ${p.speedup.toFixed(2)}x${p.faster ? '' : ' (within noise of the traced plan)'}`,
          detail: `${planText(p)} · bubble ${(p.bubbleFraction * 100).toFixed(1)}% · peak memory ${formatBytes(p.peakMemoryBytes)}`,
        }));
        const pick = await vscode.window.showQuickPick(items, { title: `pipeprof: plans for ${path.basename(trace)}, best first`, placeHolder: 'apply a plan to the config', matchOnDetail: true });
        if (!pick) return undefined;
        rank = pick.rank;
      }
      const applied = await this.host.applyPlan(trace, session.timeline, planAt(session, rank), rank, config);
      void vscode.window.showInformationMessage(`pipeprof: ${applied.created ? 'created' : 'updated'} ${vscode.workspace.asRelativePath(applied.configFile)}: ${planText(applied.plan)}`);
      return applied;
    } catch (e) {
      const message = errorLine(e);
      this.host.log('error', `recommend: ${message}`);
      void vscode.window.showErrorMessage(`pipeprof: ${message}`);
      // Called with a rank (by a test or another extension): the caller hears of the failure too.
      if (o.rank !== undefined) throw e;
      return undefined;
    }
  }

  /** Compare Two Traces: one panel titled "A vs B": both timelines (A as `measured`, B as `predicted`) and the diff of B against A. */
  async compare(a?: unknown, b?: unknown): Promise<ViewState | null> {
    let files = [argPath(a), argPath(b)].filter((f): f is string => !!f);
    while (files.length < 2) {
      const picked = await vscode.window.showOpenDialog({
        canSelectMany: files.length === 0, filters: TRACE_FILTERS,
        title: files.length ? `pipeprof: pick the trace to compare with ${path.basename(files[0])}` : 'pipeprof: pick two traces to compare',
      });
      if (!picked?.length) return null;
      files = [...files, ...picked.map((u) => u.fsPath)];
    }
    const view = await openComparePanel(this.host, files[0], files[1]);
    await view.loaded;
    return view.state();
  }

  async refreshRuns(): Promise<RunSummary[]> {
    this.runs.refresh();
    return this.runs.runs();
  }

  /**
   * What a trace view shows (for tests): the focused (or last opened) view; `{file}`/a Uri for that trace's view;
   * `{all: true}` for every open view.
   */
  async state(arg?: unknown): Promise<ViewState | ViewState[] | null> {
    const views = [...this.host.views].filter((v): v is TraceView => v instanceof TraceView);
    if (arg && typeof arg === 'object' && (arg as { all?: unknown }).all) return views.map((v) => v.state());
    const file = argPath(arg);
    const v = file ? views.filter((x) => x.files.some((f) => path.resolve(f) === path.resolve(file))).pop() : this.host.lastActive;
    if (!(v instanceof TraceView)) return null;
    if ((arg as { wait?: unknown } | undefined)?.wait) await v.loaded;
    return v.state();
  }
}
