// The "Runs" tree in the Explorer: every *.pptrace.json of the workspace with its step time and status, newest first.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunSummary } from './run-summary';
import { describeRun, readRunSummary } from './run-summary';

export const RUNS_VIEW_ID = 'pipeprof.runs';
const GLOB = '**/*.pptrace.json';
const MAX_RUNS = 500;

export class RunsProvider implements vscode.TreeDataProvider<RunSummary>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Summaries by path, kept while the file's mtime is unchanged (a summary reads the file's tail). */
  private readonly cache = new Map<string, RunSummary>();
  private readonly watcher: vscode.FileSystemWatcher;
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.watcher = vscode.workspace.createFileSystemWatcher(GLOB);
    const later = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.refresh(), 300);
    };
    this.watcher.onDidCreate(later);
    this.watcher.onDidChange(later);
    this.watcher.onDidDelete(later);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.watcher.dispose();
    this.changed.dispose();
  }

  refresh(): void {
    this.changed.fire();
  }

  /** The runs, newest first (what the tree lists). */
  async runs(): Promise<RunSummary[]> {
    const uris = await vscode.workspace.findFiles(GLOB, '**/node_modules/**', MAX_RUNS);
    const out = await Promise.all(uris.filter((u) => u.scheme === 'file').map(async (u) => {
      const f = u.fsPath;
      const mtime = (await vscode.workspace.fs.stat(u).then((s) => s.mtime, () => 0));
      const hit = this.cache.get(f);
      if (hit && hit.mtimeMs === mtime) return hit;
      const s = await readRunSummary(f);
      this.cache.set(f, s);
      return s;
    }));
    const live = new Set(out.map((s) => s.file));
    for (const k of this.cache.keys()) if (!live.has(k)) this.cache.delete(k);
    return out.sort((a, b) => b.mtimeMs - a.mtimeMs || a.file.localeCompare(b.file));
  }

  getChildren(element?: RunSummary): Promise<RunSummary[]> | RunSummary[] {
    return element ? [] : this.runs();
  }

  getTreeItem(s: RunSummary): vscode.TreeItem {
    const item = new vscode.TreeItem(s.name, vscode.TreeItemCollapsibleState.None);
    const uri = vscode.Uri.file(s.file);
    item.id = s.file;
    item.resourceUri = uri;
    item.description = describeRun(s);
    const folder = vscode.workspace.asRelativePath(path.dirname(s.file));
    const tip = new vscode.MarkdownString();
    tip.appendText(`${folder}/${s.name}\n\n`);
    if (s.plan) tip.appendText(`${s.plan}\n\n`);
    tip.appendText(describeRun(s));
    if (s.problem) tip.appendText(`\n\n${s.problem}`);
    item.tooltip = tip;
    item.iconPath = new vscode.ThemeIcon(s.status === 'failed' ? 'error' : s.status === 'unknown' ? 'question' : s.source === 'predicted' ? 'graph-line' : 'pulse');
    item.contextValue = 'pipeprof.run';
    item.command = { command: 'pipeprof.openTrace', title: 'Open Trace', arguments: [uri] };
    return item;
  }
}
