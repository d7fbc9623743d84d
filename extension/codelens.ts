// CodeLens on pipeprof.config.json: "▶ Profile" runs a capture of it, "Recommend" ranks plans from its newest trace.
import * as vscode from 'vscode';

export const CONFIG_SELECTOR: vscode.DocumentSelector = [{ scheme: 'file', pattern: '**/pipeprof.config.json' }];

export class ConfigCodeLens implements vscode.CodeLensProvider {
  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const top = new vscode.Range(0, 0, 0, 0);
    return [
      new vscode.CodeLens(top, { title: '▶ Profile', tooltip: 'pipeprof: train this configuration and open its trace', command: 'pipeprof.profile', arguments: [doc.uri] }),
      new vscode.CodeLens(top, { title: 'Recommend', tooltip: 'pipeprof: rank plans from the newest trace of this configuration and apply one', command: 'pipeprof.recommend', arguments: [{ config: doc.uri }] }),
    ];
  }
}
