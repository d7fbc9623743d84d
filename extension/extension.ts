// The VS Code extension's entry point: wires the trace editor, commands, Runs view and config CodeLens to one Host.
import * as vscode from 'vscode';
import { CONFIG_SELECTOR, ConfigCodeLens } from './codelens';
import { Commands } from './commands';
import { Host } from './host';
import { RUNS_VIEW_ID, RunsProvider } from './runs-view';
import { TraceEditorProvider } from './trace-editor';

/** What `activate` returns (`vscode.extensions.getExtension('pipeprof.pipeprof').exports`), for tests and other extensions. */
export interface PipeprofApi {
  state: Commands['state'];
  openTrace: Commands['openTrace'];
  recommend: Commands['recommend'];
  profile: Commands['profile'];
  compare: Commands['compare'];
  runs: RunsProvider['runs'];
}

export function activate(context: vscode.ExtensionContext): PipeprofApi {
  const host = new Host(context);
  const runs = new RunsProvider();
  const commands = new Commands(host, runs);
  context.subscriptions.push(
    host,
    runs,
    commands,
    vscode.window.registerTreeDataProvider(RUNS_VIEW_ID, runs),
    ...TraceEditorProvider.register(host),
    ...commands.register(),
    vscode.languages.registerCodeLensProvider(CONFIG_SELECTOR, new ConfigCodeLens()),
  );
  host.log('info', `activated (extension ${context.extensionPath})`);
  return {
    state: (arg) => commands.state(arg),
    openTrace: (arg) => commands.openTrace(arg),
    recommend: (arg) => commands.recommend(arg),
    profile: (arg) => commands.profile(arg),
    compare: (a, b) => commands.compare(a, b),
    runs: () => runs.runs(),
  };
}

export function deactivate(): void {
  // Everything is in context.subscriptions (running captures are cancelled there).
}
