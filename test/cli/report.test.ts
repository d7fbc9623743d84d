// `pipeprof report`: text and JSON from a real trace, gzip or not; bad files exit 2 with one line; the HTML page is offline and escaped.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import * as zlib from 'node:zlib';
import { CommanderError } from 'commander';
import { buildProgram } from '../../cli/main';
import { registerReport } from '../../cli/report';
import { UsageError } from '../../core/config/errors';
import type { CliIO } from '../../cli/io';
import type { TraceFile } from '../../core/trace/schema';
import { cli, tmpdir } from '../helpers';
import { smallRun } from '../runtime/run';

/** The CLI in-process; adds `report` to the program when cli/main.ts does not register it (yet). */
async function report(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const quiet: CliIO = { out: () => undefined, err: () => undefined, errIsTTY: false };
  if (buildProgram(quiet).commands.some((c) => c.name() === 'report')) return cli(['report', ...argv]);
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false };
  const program = buildProgram(io);
  registerReport(program, io);
  program.commands.at(-1)!.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  try {
    await program.parseAsync(['report', ...argv], { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CommanderError) return { code: e.code === 'commander.helpDisplayed' ? 0 : 2, out, err };
    if (e instanceof UsageError) {
      for (const p of e.problems) io.err(`pipeprof: ${p}\n`);
      return { code: 2, out, err };
    }
    io.err(`pipeprof: ${(e as Error).message}\n`);
    return { code: 1, out, err };
  }
}

let dir = '';
let tracePath = '';
let trace: TraceFile;

before(async () => {
  dir = tmpdir();
  trace = (await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { steps: 3, warmup: 1 })).trace;
  tracePath = path.join(dir, 'run.pptrace.json');
  fs.writeFileSync(tracePath, JSON.stringify(trace));
});

test('text report: a summary and one row per stage', async () => {
  const r = await report([tracePath]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^trace {7}.*run\.pptrace\.json {2}\(measured, complete\)$/m);
  assert.match(r.out, /^plan {8}2 stages, balance \[2,2\], 2 micro-batches, 1f1b, recompute never · mlp on wasm$/m);
  assert.match(r.out, /^step time {3}[\d.]+ ms \(median of 3 measured steps\) {3}[\d.]+ samples\/s$/m);
  // Three measured steps: their range, and the slow ones (a real run on a shared machine may have one or none).
  assert.match(r.out, /^spread {6}[\d.]+–[\d.]+ ms \([\d.]+% of the median\); (no step ≥ 10% over the median|steps? \d+(, \d+)* took ≥ 10% over the median \(the machine was busy, or the run still warming up: measure again, or warm up longer: --warmup, --warmup-ms\))$/m);
  assert.match(r.out, /^bubble {6}[\d.]+% of each stage's step on average: idle [\d.]+ ms \+ waiting for a peer [\d.]+ ms; transfer on the wire [\d.]+ ms \(exposed, not bubble\) {3}\(GPipe's \(S−1\)\/\(M\+S−1\): 33\.3%\)$/m);
  assert.match(r.out, /^overlap {5}[\d.]+% of [\d.]+ ms communication/m);
  assert.match(r.out, /^straggler {3}stage [01]: busy/m);
  assert.match(r.out, /^stage +util +bubble +idle ms +wait ms +xfer ms +F ms +B ms +OPT ms +comm ms +overlap +peak memory +GFLOP\/s$/m);
  assert.match(r.out, /^0 +[\d.]+% +[\d.]+% +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+% +[\d.]+ (KiB|MiB) +[\d.]+( \([\d.]+%\))?$/m);
  assert.match(r.out, /\(SEND\/RECV: their transfer only; their waiting is bubble\)$/m);
  assert.match(r.out, /^1 +[\d.]+%/m);
});

test('--json prints the report object with the documented names', async () => {
  const r = await report([tracePath, '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  for (const k of ['stepTimeMs', 'bubbleFraction', 'analyticBubbleFraction', 'overlapFraction', 'straggler', 'stages']) assert.ok(k in j, k);
  assert.equal(j.stages.length, 2);
  for (const s of j.stages) {
    for (const k of ['stage', 'utilization', 'bubbleFraction', 'busyMs', 'peakMemoryBytes']) assert.ok(k in s, `stages[].${k}`);
    assert.deepEqual(Object.keys(s.busyMs), ['F', 'B', 'W', 'R', 'OPT', 'COMPRESS', 'DECOMPRESS']);
  }
  assert.equal(j.analyticBubbleFraction, 1 / 3);
  // A RECV's wait is bubble, not communication: each stage's communication is its transfer (and all-reduce), and the
  // step splits into compute, bubble (idle + waiting) and exposed transfer.
  for (const s of j.stages) {
    assert.ok(Math.abs(s.bubbleMs - s.idleMs - s.waitingMs) < 1e-9);
    assert.ok(s.commMs <= s.sendMs + s.recvMs + s.allreduceMs + 1e-9 && s.recvMs < s.waitingMs + s.recvMs);
    assert.ok(s.waitingMs > s.transferMs, `stage ${s.stage}: a local run waits longer than it transfers (${s.waitingMs} vs ${s.transferMs})`);
  }
  assert.equal(typeof j.straggler.stage, 'number');
  assert.ok(j.samplesPerSec > 0);
});

test('a gzipped trace reads the same, whatever its name', async () => {
  const gz = path.join(dir, 'run.pptrace.json.gz');
  fs.writeFileSync(gz, zlib.gzipSync(JSON.stringify(trace)));
  const noExt = path.join(dir, 'zipped-without-extension.json');
  fs.copyFileSync(gz, noExt);
  const plain = JSON.parse((await report([tracePath, '--json'])).out);
  for (const f of [gz, noExt]) {
    const r = await report([f, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), plain);
  }
});

test('bad files: exit 2, one line naming the file and the fix, never a stack trace', async () => {
  const text = JSON.stringify(trace);
  const write = (name: string, data: string | Buffer) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, data);
    return f;
  };
  const { steps: _steps, ...noSteps } = trace.pipeprof;
  const gz = zlib.gzipSync(text);
  const cases: [string, RegExp][] = [
    [path.join(dir, 'missing.pptrace.json'), /: trace file not found; check the path/],
    [write('empty.pptrace.json', ''), /: file is empty; the run stopped before writing its trace\? capture it again$/],
    [write('notes.txt', 'hello, this is not a trace'), /: not JSON \(it starts with "hello, this is not a tra"\); pass a trace file written by pipeprof capture or simulate$/],
    [write('other.json', '{"name": "my-package", "version": "1.0.0"}'), /: not a trace: expected a JSON object with "traceEvents" \(a Chrome trace\); pass a file written by pipeprof capture or simulate$/],
    [write('cut.pptrace.json', text.slice(0, Math.floor(text.length / 2))), new RegExp(`: truncated or invalid JSON at byte ${Buffer.byteLength(text.slice(0, Math.floor(text.length / 2)))}; the file was cut off while writing\\? capture it again$`)],
    [write('cut.pptrace.json.gz', gz.subarray(0, Math.floor(gz.length / 2))), /: gzip data is corrupt \(unexpected end of file\); the file was cut off or damaged; capture it again$/],
    [write('flipped.pptrace.json.gz', Buffer.concat([gz.subarray(0, 10), Buffer.alloc(64, 0xff), gz.subarray(74)])), /: gzip data is corrupt \(.+\); the file was cut off or damaged; capture it again$/],
    [write('nosteps.pptrace.json', JSON.stringify({ ...trace, pipeprof: noSteps })), /: pipeprof\.steps is missing, and every analysis needs the step times; the file is damaged; capture it again$/],
    [write('zerosteps.pptrace.json', JSON.stringify({ ...trace, pipeprof: { ...trace.pipeprof, status: 'failed', steps: [] } })), /: no completed step to analyse: steps is empty/],
  ];
  for (const [file, re] of cases) {
    const r = await report([file]);
    assert.equal(r.code, 2, `${file}: ${r.err}`);
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, r.err);
    assert.ok(lines[0].startsWith(`pipeprof: ${file}: `), lines[0]);
    assert.match(lines[0], re);
    assert.doesNotMatch(r.err, /\n\s+at /);
    assert.equal(r.out, '');
  }
});

test('help shows every option with its default', async () => {
  const r = await report(['--help']);
  assert.equal(r.code, 0);
  r.out = r.out.replace(/\n\s{10,}/g, ' '); // join wrapped descriptions
  assert.match(r.out, /--json[^\n]*\(default: off\)/);
  assert.match(r.out, /--html <file>[^\n]*\(default: off\)/);
});

/** Runs the page's own script (the last <script>) against a stub DOM and a stub Chart; returns the chart configs. */
function runPage(html: string): { charts: { type: string; data?: { datasets?: { label: string; data: { x: number; y: number }[] }[] } }[]; drawn: number } {
  const data = /<script type="application\/json" id="pipeprof-data">([^<]*)<\/script>/.exec(html)![1];
  const scripts = [...html.matchAll(/<script nonce="[^"]+">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  let drawn = 0;
  const ctx = new Proxy({}, { get: (_t, k) => (k === 'measureText' ? () => ({ width: 10 }) : k === 'fillRect' ? () => void drawn++ : () => undefined), set: () => true });
  const el = (id: string) => ({
    id, textContent: id === 'pipeprof-data' ? data : '', style: {}, parentElement: { clientWidth: 800 },
    getContext: () => ctx, addEventListener: () => undefined, appendChild: () => undefined, getBoundingClientRect: () => ({ left: 0, top: 0 }),
  });
  const charts: { type: string; data?: { datasets?: { label: string; data: { x: number; y: number }[] }[] } }[] = [];
  const Chart = Object.assign(function (this: unknown, _el: unknown, cfg: { type: string }) { charts.push(cfg); }, { defaults: {} });
  const sandbox = { document: { getElementById: el, createElement: () => ({ style: {} }), createTextNode: () => ({}) }, window: { devicePixelRatio: 1 }, Chart, JSON };
  vm.runInNewContext(scripts.at(-1)!, sandbox);
  return { charts, drawn };
}

test('--html: one self-contained page, chart.js inlined, no network, the page script runs', async () => {
  const html = path.join(dir, 'report.html');
  const r = await report([tracePath, '--html', html]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^html {8}.*report\.html$/m);
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.match(page, /Chart\.js v4/);
  assert.doesNotMatch(page, /<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=/i);
  assert.doesNotMatch(page, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(page, /@import|url\(\s*["']?https?:/i);
  assert.match(page, /Content-Security-Policy" content="default-src 'none'; script-src 'nonce-[^']+';/);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'written atomically, no temporary file left');
  const { charts, drawn } = runPage(page);
  assert.deepEqual(charts.map((c) => c.type), ['bar', 'scatter', 'scatter']);
  assert.ok(drawn > 10, `timeline drew ${drawn} boxes`);
});

test('--html --with: the other runs\' loss curves beside this one, by step and by wall-clock', async () => {
  const other = path.join(dir, 'other.pptrace.json');
  const t = structuredClone(trace);
  t.pipeprof.steps = t.pipeprof.steps.map((s) => ({ ...s, loss: s.loss * 2, startUs: s.startUs * 2, endUs: s.endUs * 2 }));
  fs.writeFileSync(other, JSON.stringify(t));
  const html = path.join(dir, 'with.html');
  const r = await report([tracePath, '--html', html, '--with', other]);
  assert.equal(r.code, 0, r.err);
  const { charts } = runPage(fs.readFileSync(html, 'utf8'));
  const [byStep, byTime] = charts.slice(1);
  assert.deepEqual(byStep.data!.datasets!.map((d) => d.label), [path.basename(tracePath), 'other.pptrace.json']);
  const [a, b] = byStep.data!.datasets!;
  assert.equal(b.data[1].y, 2 * a.data[1].y);
  assert.ok(byTime.data!.datasets![1].data[1].x > byTime.data!.datasets![0].data[1].x, 'the slower run ends its steps later');
  const bad = await report([tracePath, '--with', other]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--with draws other runs' loss curves in the HTML page; add --html report\.html/);
});

test('--html escapes every string from the trace', async () => {
  const evil = '<script>alert(1)</script>';
  const t = structuredClone(trace);
  t.pipeprof.model.name = evil;
  t.pipeprof.layers[0].name = `${evil}&"'`;
  const f = path.join(dir, 'evil.pptrace.json');
  fs.writeFileSync(f, JSON.stringify(t));
  const html = path.join(dir, 'evil.html');
  const r = await report([f, '--html', html]);
  assert.equal(r.code, 0, r.err);
  const page = fs.readFileSync(html, 'utf8');
  assert.ok(!page.includes(evil), 'the raw <script> never appears');
  assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'escaped in the page text');
  assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;'), 'layer name escaped');
  assert.equal([...page.matchAll(/<script\b/g)].length, 3, 'only the data block, chart.js and the page script');
  runPage(page);
});

test('--html into a folder that does not exist: exit 2, nothing written', async () => {
  const r = await report([tracePath, '--html', path.join(dir, 'no', 'such', 'r.html')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /^pipeprof: --html .*r\.html: folder .* does not exist; create it or choose another output path\n$/);
});

test('an imported single-rank trace that is no pipeline: the page and the text show only what the data holds (issue 17, item 7)', async () => {
  const fixtureDir = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'kineto');
  const out = path.join(dir, 'k.pptrace.json');
  const imp = await cli(['import', path.join(fixtureDir, 'nccl-2rank-rank0.json.gz'), '--out', out]);
  assert.equal(imp.code, 0, imp.err);
  assert.match(imp.err, /world_size is 2 but only rank 0 was given/);
  assert.match(imp.err, /no pipeline: one rank, and it ran no point-to-point \(Send\/Recv\) NCCL kernel; showing one row per rank/);
  // The progress bar ends once (a line per file at most), not once per chunk.
  assert.ok((imp.err.match(/MiB of [\d.]+ MiB/g) ?? []).length <= 1, imp.err);
  const html = path.join(dir, 'k.html');
  const r = await cli(['report', out, '--html', html]);
  assert.equal(r.code, 0, r.err);
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /<h1>pipeprof report · k\.pptrace\.json<\/h1>/, 'titled by the file, not "unknown"');
  const visible = page.slice(0, page.indexOf('<script type="application/json"'));
  assert.doesNotMatch(visible, /Loss by step|Layers \(per micro-batch\)|bubble|<th>F ms<\/th>|straggler/i);
  const cp = /<dt>critical path<\/dt><dd>([^<]*)<\/dd>/.exec(page)![1];
  assert.match(cp, /^step 4: \d+ ops: KERNEL·s0 ×\d+ [\d.]+ ms$/, 'a count and the top contributors');
  assert.ok(cp.length < 80);
  assert.doesNotMatch(r.out, /bubble|straggler|F ms/);
  assert.match(r.out, /^critical {4}step 4: \d+ kernels cover [\d.]+ of [\d.]+ ms/m);
});

test('the progress bar on a terminal ends once for a file read in many chunks', async () => {
  const fixtureDir = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'kineto');
  let err = '';
  const { run } = await import('../../cli/main');
  const code = await run(['report', path.join(fixtureDir, 'nccl-2rank-rank0.json.gz'), '--json'], { out: () => undefined, err: (t) => void (err += t), errIsTTY: true });
  assert.equal(code, 0, err);
  assert.equal((err.match(/1000\/1000/g) ?? []).length, 1, JSON.stringify(err.slice(-400)));
});
