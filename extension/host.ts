// What the extension's parts share: the "pipeprof" output channel, settings, the open trace views, and writing a plan into a config.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parse as parseJsonc } from 'jsonc-parser';
import { CAPTURE_DEFAULTS } from '../core/config/capture-config';
import { newConfigFields, planText } from '../core/config/apply-plan';
import type { RankedPlan } from '../core/recommend/recommend';
import type { Timeline } from '../core/trace/timeline';
import { CONFIG_NAME, chooseConfig, outputFolderOf, planEdit, toWorkspaceEdit } from './config-edit';

/** A view that `pipeprof._state` can describe (the trace editor and the compare panel). */
export interface StatefulView {
  readonly files: string[];
  readonly panel: vscode.WebviewPanel;
  state(): unknown;
  /** Resolves once the view's content is computed (or failed). */
  readonly loaded: Promise<void>;
  /** Told when a plan from `file` was written into a config by someone else (the Recommend command). */
  noteApplied?(file: string, rank: number, configFile: string): void;
}

export interface AppliedPlan {
  rank: number;
  configFile: string;
  created: boolean;
  changed: boolean;
  plan: { balance: number[]; microbatches: number; schedule: string; recompute: string };
}

export class Host implements vscode.Disposable {
  readonly output: vscode.OutputChannel;
  readonly views = new Set<StatefulView>();
  /** The view that was focused last (what `_state` describes by default). */
  lastActive: StatefulView | undefined;

  constructor(readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('pipeprof');
  }

  dispose(): void {
    this.output.dispose();
  }

  log(level: 'info' | 'warn' | 'error', message: string): void {
    this.output.appendLine(`[${new Date().toISOString()}] ${level}: ${message}`);
  }

  get extensionPath(): string {
    return this.context.extensionPath;
  }

  setting<T>(key: 'backend' | 'outputFolder'): T | undefined {
    return vscode.workspace.getConfiguration('pipeprof').get<T>(key);
  }

  outputFolder(configFile: string): string {
    return outputFolderOf(configFile, this.setting<string>('outputFolder'));
  }

  addView(v: StatefulView): void {
    this.views.add(v);
    this.lastActive = v;
    v.panel.onDidChangeViewState((e) => {
      if (e.webviewPanel.active) this.lastActive = v;
    });
    v.panel.onDidDispose(() => {
      this.views.delete(v);
      if (this.lastActive === v) this.lastActive = [...this.views].pop();
    });
  }

  /** The open views of a file, newest last. */
  viewsOf(file: string): StatefulView[] {
    const f = path.resolve(file);
    return [...this.views].filter((v) => v.files.some((x) => path.resolve(x) === f));
  }

  /** Every pipeprof.config.json of the workspace. */
  async configFiles(): Promise<string[]> {
    const found = await vscode.workspace.findFiles(`**/${CONFIG_NAME}`, '**/node_modules/**', 200);
    return found.map((u) => u.fsPath);
  }

  /** The config a trace's plans go into (see chooseConfig). */
  async configFor(trace: string): Promise<{ file: string; exists: boolean }> {
    const roots = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    const c = chooseConfig(trace, await this.configFiles(), roots);
    return { file: c.file, exists: fs.existsSync(c.file) };
  }

  /**
   * Writes `plan` into the config through one WorkspaceEdit (undoable; the file is created when missing), then saves
   * it unless it had unsaved changes of its own. Comments and formatting are kept.
   */
  async applyPlan(trace: string, timeline: Pick<Timeline, 'model' | 'batch'>, plan: RankedPlan, rank: number, configFile?: string): Promise<AppliedPlan> {
    const target = configFile ? { file: configFile, exists: fs.existsSync(configFile) } : await this.configFor(trace);
    const uri = vscode.Uri.file(target.file);
    const doc = target.exists ? await vscode.workspace.openTextDocument(uri) : null;
    const wasDirty = doc?.isDirty ?? false;
    const { text, edit, created } = planEdit(doc ? doc.getText() : null, plan, target.file, newConfigFields(timeline));
    if (edit) {
      const ok = await vscode.workspace.applyEdit(toWorkspaceEdit(vscode, uri, edit, doc));
      if (!ok) throw new Error(`${target.file}: VS Code refused the edit; is the file read-only?`);
      if (!wasDirty) await (doc ?? (await vscode.workspace.openTextDocument(uri))).save();
    }
    const p = { balance: plan.balance, microbatches: plan.microbatches, schedule: plan.schedule, recompute: plan.recompute };
    this.log('info', `${created ? 'created' : edit ? 'updated' : 'unchanged'} ${target.file}: plan #${rank} ${planText(p)} (from ${trace})`);
    const batch = (parseJsonc(text) as { batch?: unknown } | undefined)?.batch ?? CAPTURE_DEFAULTS.batch;
    if (timeline.batch !== null && batch !== timeline.batch)
      void vscode.window.showWarningMessage(`pipeprof: ${path.basename(target.file)} has batch ${String(batch)} but the plan was found for the traced batch ${timeline.batch}; set "batch": ${timeline.batch} there to run it as recommended`);
    for (const v of this.viewsOf(trace)) v.noteApplied?.(trace, rank, target.file);
    return { rank, configFile: target.file, created, changed: edit !== null, plan: p };
  }
}
