#!/usr/bin/env node
// Runs the VS Code end-to-end suite: code-server + headless Chromium, the extension under test, UI checks, screenshots.
//
// Usage: node scripts/e2e-run.js [--no-build] [--keep]      (npm run test:e2e)
// Needs scripts/e2e-setup.sh first (.e2e/node, .e2e/code-server, /usr/bin/chromium). Prints the suite's output,
// then a plain `N passed, N failed` line; exits 0 only when every test passed. Screenshots go to .e2e/artifacts/.
// code-server runs in its own process group and is killed by group; Chromium is closed, then swept by its profile path.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const E2E = path.join(ROOT, '.e2e');
const NODE24 = path.join(E2E, 'node', 'bin', 'node');
const CODE_SERVER = path.join(E2E, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const CHROMIUM = process.env.PIPEPROF_E2E_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(E2E, 'artifacts');
const SUITE = path.join(ROOT, 'dist', 'test', 'e2e', 'suite', 'index.js');
const TIMEOUT_MS = Number(process.env.PIPEPROF_E2E_TIMEOUT_S || 300) * 1000;
const XSS = '<img src=x onerror=alert(1)>';
/** Lines of the suite (test/e2e/suite/index.ts) among everything the workbench logs. */
const SUITE_LINE = /^(\s*[✓✗] |\d+ passing|Error: \d+ e2e test)/;
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CODE_SERVER_FLAGS = ['--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
  '--disable-getting-started-override', '--vscode-option', 'enable-smoke-test-driver'];
/** User settings: no welcome page, chat, tips or update checks in the way of the screenshots. */
const SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'files.autoSave': 'off',
  'security.workspace.trust.enabled': false,
};

const args = new Set(process.argv.slice(2));
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const say = (line) => console.log(`[e2e ${elapsed()}] ${line}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Everything started here, for cleanup (which may run more than once). */
const started = { codeServer: null, context: null, tmp: null };

function prerequisites() {
  const missing = [];
  if (!fs.existsSync(NODE24)) missing.push('.e2e/node (Node 24)');
  if (!fs.existsSync(CODE_SERVER)) missing.push('.e2e/code-server');
  if (!fs.existsSync(CHROMIUM)) missing.push(CHROMIUM);
  try {
    require.resolve('playwright-core');
  } catch {
    missing.push('playwright-core (npm ci)');
  }
  return missing;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

function runOrDie(cmd, argv, what) {
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    process.stdout.write(r.stdout || '');
    process.stderr.write(r.stderr || '');
    throw new Error(`${what} failed (exit ${r.status})`);
  }
  return r;
}

/** The workspace the suite opens: a real captured trace, its config, a prediction of another plan, one trace with HTML in its names, one bad config. */
function makeWorkspace(ws) {
  fs.mkdirSync(ws, { recursive: true });
  const trace = path.join(ws, 'run.pptrace.json');
  runOrDie(process.execPath, [path.join(ROOT, 'bin', 'pipeprof.js'), 'capture', '--model', 'transformer', '--stages', '2',
    '--batch', '8', '--microbatches', '4', '--steps', '2', '--out', trace], 'pipeprof capture');
  // A prediction of another plan of the same run, for Compare Two Traces (the diff of it against the capture).
  runOrDie(process.execPath, [path.join(ROOT, 'bin', 'pipeprof.js'), 'simulate', trace, '--balance', '4,6', '--microbatches', '2',
    '--out', path.join(ws, 'predicted.pptrace.json')], 'pipeprof simulate');
  // No $schema: validation must come from the extension's jsonValidation contribution.
  const config = { model: 'transformer', stages: 2, batch: 8, microbatches: 4, steps: 2, out: 'run.pptrace.json' };
  fs.writeFileSync(path.join(ws, 'pipeprof.config.json'), JSON.stringify(config, null, 2) + '\n');
  // The same run with HTML in every name a view may show, its file name included: it must appear as text and never run.
  const t = JSON.parse(fs.readFileSync(trace, 'utf8'));
  for (const e of t.traceEvents) if (e.ph === 'M' && e.name === 'process_name') e.args.name = `${e.args.name} ${XSS}`;
  for (const l of t.pipeprof.layers) l.name = `${l.name} ${XSS}`;
  t.pipeprof.model.name = `${t.pipeprof.model.name} ${XSS}`;
  fs.writeFileSync(path.join(ws, `${XSS}.pptrace.json`), JSON.stringify(t));
  // A config with a schema error, for the JSON validation check.
  fs.mkdirSync(path.join(ws, 'invalid'));
  fs.writeFileSync(path.join(ws, 'invalid', 'pipeprof.config.json'), '{\n  "model": "transformer",\n  "microbatches": "four"\n}\n');
}

async function startCodeServer(tmp, ws, port) {
  const ud = path.join(tmp, 'ud');
  fs.mkdirSync(path.join(ud, 'User'), { recursive: true });
  fs.writeFileSync(path.join(ud, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2));
  const config = path.join(tmp, 'config.yaml');
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const log = fs.openSync(path.join(tmp, 'code-server.log'), 'a');
  const env = { ...process.env, PATH: `${path.dirname(NODE24)}:${process.env.PATH}`, XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'), XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'), PIPEPROF_E2E: '1' };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT; // set when run from `node --test`; must not leak into the extension host
  // detached: the server leads its own process group (setsid), so one kill(-pid) stops it and its watchers/extension host.
  const cs = spawn(NODE24, [CODE_SERVER, ...CODE_SERVER_FLAGS, '--bind-addr', `127.0.0.1:${port}`, '--user-data-dir', ud,
    '--extensions-dir', path.join(tmp, 'ed'), '--config', config, ws], { cwd: tmp, env, detached: true, stdio: ['ignore', log, log] });
  started.codeServer = cs;
  fs.closeSync(log);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (cs.exitCode !== null) throw new Error(`code-server exited with ${cs.exitCode}; log:\n${tail(path.join(tmp, 'code-server.log'))}`);
    if ((await get(`http://127.0.0.1:${port}/healthz`)) === 200) return;
    await sleep(200);
  }
  throw new Error(`code-server did not answer /healthz in 60 s; log:\n${tail(path.join(tmp, 'code-server.log'))}`);
}

function tail(file, n = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Pids whose command line mentions `needle` (our own temp folders: nothing else can match). */
function pidsMentioning(needle) {
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function cleanup() {
  if (started.context) {
    const ctx = started.context;
    started.context = null;
    await Promise.race([ctx.close().catch(() => {}), sleep(10_000)]);
  }
  if (started.codeServer) {
    const pid = started.codeServer.pid;
    killGroup(pid, 'SIGTERM');
    for (let i = 0; i < 25 && killGroup(pid, 0); i++) await sleep(200);
    killGroup(pid, 'SIGKILL');
    started.codeServer = null;
  }
  // Anything still running from our temp folder (Chromium helpers, a stray extension host): kill it by pid.
  if (started.tmp) {
    for (let round = 0; round < 10; round++) {
      const left = pidsMentioning(started.tmp);
      if (!left.length) break;
      for (const pid of left) {
        try {
          process.kill(pid, round < 5 ? 'SIGTERM' : 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await sleep(300);
    }
    const left = pidsMentioning(started.tmp);
    if (left.length) say(`WARNING: processes left running: ${left.join(' ')}`);
    else say('cleanup: code-server and Chromium stopped, no process left');
    const csLog = path.join(started.tmp, 'code-server.log');
    if (fs.existsSync(csLog) && fs.existsSync(ARTIFACTS)) fs.copyFileSync(csLog, path.join(ARTIFACTS, 'code-server.log'));
    if (!args.has('--keep')) fs.rmSync(started.tmp, { recursive: true, force: true });
    else say(`kept ${started.tmp}`);
    started.tmp = null;
  }
}

/** UI checks the suite asks for (through files in `sync/`), run against the page by playwright. */
function uiChecks(page, watch) {
  const webview = () => page.frameLocator('iframe.webview:visible').frameLocator('iframe#active-frame');
  const shot = async (name) => {
    const file = path.join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: file });
    say(`screenshot ${path.relative(ROOT, file)}`);
  };
  const bodyText = async () => (await webview().locator('body').innerText({ timeout: 20_000 })).replace(/\s+/g, ' ');
  /** XSS shows as text: no element parsed from it, no dialog, no script run. */
  const shownAsText = async () => {
    const text = await bodyText();
    const injected = await webview().locator('img[src="x"], [onerror]').count();
    const problems = [];
    if (!text.includes(XSS)) problems.push(`the text ${XSS} is not shown (text: ${text.slice(0, 300)})`);
    if (injected) problems.push(`${injected} element(s) from the trace's names were parsed as HTML`);
    if (watch.dialogs.length) problems.push(`dialog(s) fired: ${watch.dialogs.join('; ')}`);
    if (watch.scriptHits.length) problems.push(`the page tried to run injected script: ${watch.scriptHits.join('; ')}`);
    if (problems.length) throw new Error(problems.join('; '));
    return 'shown as text; no element, dialog or script';
  };
  /** The compare panel's diff tables, once drawn: stage keys, op kinds, and the step-time row's text. */
  const diffTables = async () => {
    const kindsTable = webview().locator('table.diff-kinds');
    await kindsTable.waitFor({ state: 'visible', timeout: 30_000 });
    const selected = await webview().locator('vscode-tab-header[data-tab="compare"]').getAttribute('aria-selected');
    if (selected !== 'true') throw new Error(`the compare panel did not open on its Compare tab (aria-selected ${selected})`);
    const stages = [...new Set(await webview().locator('table.diff-stages tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key'))))];
    const kinds = await kindsTable.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')));
    const step = (await webview().locator('table.diff-run tbody tr[data-key="step"]').innerText()).replace(/\s+/g, ' ');
    const missing = [...['stage-0', 'stage-1'].filter((k) => !stages.includes(k)), ...['F', 'B', 'OPT'].filter((k) => !kinds.includes(k))];
    if (missing.length) throw new Error(`the diff tables lack ${missing.join(', ')} (stages ${stages.join(', ')}; kinds ${kinds.join(', ')})`);
    if (!/^step time [\d.]+ ms [\d.]+ ms [+−±][\d.]+ ms [+−±][\d.]+%$/.test(step.trim())) throw new Error(`the step-time row of the diff reads ${JSON.stringify(step)}`);
    await sleep(500); // the timelines under the tables finish their first paint before the screenshot
    return { stages, kinds, step: step.trim() };
  };
  return {
    async opened() {
      const canvas = webview().locator('canvas.timeline-canvas').first();
      await canvas.waitFor({ state: 'visible', timeout: 30_000 });
      await sleep(500); // let the timeline finish its first paint before the screenshot
      await shot('1-trace-opened');
      const text = await bodyText();
      const missing = ['bubble', 'step time'].filter((w) => !text.toLowerCase().includes(w));
      if (missing.length) throw new Error(`the webview's summary does not mention ${missing.join(', ')}; its text: ${text.slice(0, 300)}`);
      // Drawn, not just present: the timeline canvas has a size and many distinct colours (op bars, labels, axis).
      const paint = await canvas.evaluate((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const colours = new Set();
        for (let i = 0; i < d.length; i += 4 * 7) if (d[i + 3]) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return { width: c.width, height: c.height, colours: colours.size };
      });
      if (!paint.width || !paint.height || paint.colours < 5) throw new Error(`the timeline canvas looks blank: ${JSON.stringify(paint)}`);
      // The first view: one representative (median) measured step, rows taller than the 38-px minimum.
      const caption = (await webview().locator('#panel-timeline .timeline-caption').first().innerText()).trim();
      if (!/^step \d+: the median of \d+ measured steps?, [\d.]+ ms/.test(caption)) throw new Error(`the timeline does not open on the median step; its caption reads ${JSON.stringify(caption)}`);
      const rowH = Number(await canvas.getAttribute('data-row-h'));
      if (!(rowH > 38)) throw new Error(`the timeline's rows do not use the height: ${rowH} px`);
      return `timeline canvas ${paint.width}×${paint.height} px, ${paint.colours} colours, rows ${rowH} px, ${caption.split(' · ')[0]}; summary: ${text.slice(0, 140)}`;
    },
    async applied() {
      await webview().locator('canvas').first().waitFor({ state: 'visible', timeout: 20_000 });
      // The ranked plans are on their own tab (media/src/main.ts): show it, so the screenshot has the applied plan.
      await webview().locator('vscode-tab-header[data-tab="recommendations"]').click({ timeout: 10_000 });
      const row = webview().locator('tr[data-rank="1"]');
      await row.waitFor({ state: 'visible', timeout: 10_000 });
      let text = '';
      for (let i = 0; i < 40 && !/applied/i.test(text); i++) {
        text = (await row.innerText()).replace(/\s+/g, ' ');
        if (!/applied/i.test(text)) await sleep(250);
      }
      await sleep(300);
      await shot('2-after-apply');
      if (!/applied/i.test(text)) throw new Error(`the row of rank 1 does not say it was applied; row: ${text}`);
      return `the row of rank 1: ${text.trim()}`;
    },
    async xss() {
      await webview().locator('canvas.timeline-canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
      await sleep(500);
      await shot('3-html-in-names');
      return shownAsText();
    },
    /** Compare Two Traces: the Compare tab is open on the diff tables (a row block per stage, a row per op kind). */
    async compare() {
      const { stages, kinds, step } = await diffTables();
      await shot('5-compare');
      return `stages ${stages.join(', ')}; op kinds ${kinds.join(', ')}; ${step}`;
    },
    async compareXss() {
      await diffTables();
      await shot('6-compare-html-in-names');
      return shownAsText();
    },
  };
}

async function main() {
  const missing = prerequisites();
  if (missing.length) {
    console.log(`e2e: missing ${missing.join(', ')}: run scripts/e2e-setup.sh`);
    console.log('0 passed, 1 failed');
    return 2;
  }
  if (!args.has('--no-build')) {
    say('npm run build');
    runOrDie('npm', ['run', 'build', '--silent'], 'npm run build');
  }
  if (!fs.existsSync(SUITE)) throw new Error(`${path.relative(ROOT, SUITE)} is missing after the build (is test/e2e in tsconfig.json?)`);
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeprof-e2e-'));
  started.tmp = tmp;
  const ws = path.join(tmp, 'ws');
  const sync = path.join(tmp, 'sync');
  fs.mkdirSync(sync);
  say(`capturing the workspace trace into ${ws}`);
  makeWorkspace(ws);

  const port = await freePort();
  say(`starting code-server on 127.0.0.1:${port}`);
  await startCodeServer(tmp, ws, port);
  say('code-server is up');

  const { chromium } = require('playwright-core');
  const context = await chromium.launchPersistentContext(path.join(tmp, 'chromium'), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1600, height: 1000 }, timeout: 60_000,
  });
  started.context = context;
  const page = context.pages()[0] ?? (await context.newPage());

  const output = [];
  const workbenchLog = path.join(ARTIFACTS, 'workbench.log');
  let exitCode = null;
  let onExit;
  const exited = new Promise((r) => (onExit = r));
  const watch = { dialogs: [], scriptHits: [], webviewErrors: [] };
  page.on('dialog', (d) => {
    watch.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  // Every console message of the webviews goes to .e2e/artifacts/webview-console.log; their errors are printed at the end.
  const webviewLog = path.join(ARTIFACTS, 'webview-console.log');
  page.on('console', (m) => {
    const text = m.text();
    const url = m.location()?.url ?? '';
    const fromWebview = /^vscode-webview:|\/webview\//.test(url);
    // The workbench echoes the suite's own lines, whose test names quote the XSS text: only a webview's `alert(` counts.
    if (/inline event handler|Ignored call to 'alert/i.test(text) || (fromWebview && /alert\(/.test(text))) watch.scriptHits.push(text.slice(0, 200));
    if (!fromWebview) return;
    fs.appendFileSync(webviewLog, `[${m.type()}] ${text} (${url})\n`);
    if (m.type() === 'error') watch.webviewErrors.push(text.slice(0, 300));
  });
  await page.exposeFunction('codeAutomationLog', (type, logArgs) => {
    const line = (Array.isArray(logArgs) ? logArgs : [logArgs]).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    output.push(line);
    fs.appendFileSync(workbenchLog, `[${type}] ${line}\n`);
    // The suite's own lines go to stdout; the workbench's chatter (gallery look-ups, sockets) only to the log file.
    if (SUITE_LINE.test(line)) console.log(line);
  });
  await page.exposeFunction('codeAutomationExit', (code) => {
    exitCode = Number(code);
    onExit();
  });

  const base = `http://127.0.0.1:${port}`;
  const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${ROOT}`],
    ['extensionTestsPath', `vscode-remote://127.0.0.1:${port}${SUITE}`]]);
  const url = `${base}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(payload)}`;
  say(`opening the workbench in Chromium`);
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });

  // Serve the suite's UI-check requests until it exits.
  const checks = uiChecks(page, watch);
  let serving = true;
  const serve = (async () => {
    while (serving) {
      for (const f of fs.readdirSync(sync).filter((n) => n.endsWith('.request'))) {
        const name = f.replace(/\.request$/, '');
        fs.rmSync(path.join(sync, f));
        let answer;
        try {
          if (!Object.hasOwn(checks, name)) throw new Error(`no UI check named ${name}`);
          answer = { ok: true, detail: await checks[name]() };
        } catch (e) {
          answer = { ok: false, error: String(e?.message ?? e).split('\n')[0] };
          await page.screenshot({ path: path.join(ARTIFACTS, `failed-${name}.png`) }).catch(() => {});
        }
        fs.writeFileSync(path.join(sync, `${name}.json.tmp`), JSON.stringify(answer));
        fs.renameSync(path.join(sync, `${name}.json.tmp`), path.join(sync, `${name}.json`));
      }
      await sleep(200);
    }
  })();

  const remaining = TIMEOUT_MS - (Date.now() - t0);
  const timedOut = await Promise.race([exited.then(() => false), sleep(Math.max(remaining, 1000)).then(() => true)]);
  serving = false;
  await serve;
  if (timedOut) {
    await page.screenshot({ path: path.join(ARTIFACTS, 'timeout.png') }).catch(() => {});
    say(`TIMEOUT: the suite did not finish in ${TIMEOUT_MS / 1000} s (screenshot .e2e/artifacts/timeout.png)`);
  } else {
    await page.screenshot({ path: path.join(ARTIFACTS, '4-end.png') }).catch(() => {});
  }
  if (watch.webviewErrors.length) say(`webview console errors (all messages in .e2e/artifacts/webview-console.log):\n  ${[...new Set(watch.webviewErrors)].join('\n  ')}`);
  if (exitCode !== 0) {
    say(`workbench log (tail; all of it in .e2e/artifacts/workbench.log):\n${output.filter((l) => !/^\s+at |open-vsx/.test(l)).slice(-15).join('\n')}`);
    say(`code-server log (tail):\n${tail(path.join(tmp, 'code-server.log'), 15)}`);
  }

  const passed = output.filter((l) => /^\s*✓ /.test(l)).length;
  let failed = output.filter((l) => /^\s*✗ /.test(l)).length;
  if ((timedOut || exitCode !== 0) && failed === 0) failed = 1; // the suite never reported: count the run itself
  console.log(`${passed} passed, ${failed} failed`);
  say(`suite exit code ${timedOut ? 'none (timeout)' : exitCode}`);
  return !timedOut && exitCode === 0 && failed === 0 ? 0 : 1;
}

let finishing = false;
async function finish(code) {
  if (finishing) return;
  finishing = true;
  await cleanup().catch((e) => say(`cleanup: ${e?.message ?? e}`));
  say(`exit ${code} after ${elapsed()}`);
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void finish(130));
// Last resort if the whole script hangs: the hard timeout plus a minute for cleanup.
setTimeout(() => {
  say('hard timeout: stopping everything');
  void finish(1);
}, TIMEOUT_MS + 60_000).unref();
process.on('exit', () => {
  if (started.codeServer) killGroup(started.codeServer.pid, 'SIGKILL');
});

main().then(finish, (e) => {
  console.error(`e2e: ${e?.stack ?? e}`);
  console.log('0 passed, 1 failed');
  void finish(1);
});
