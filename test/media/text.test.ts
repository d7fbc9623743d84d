// Text helpers: label() for every string from a trace (control and bidi characters out, length capped), escapeHtml, number formats.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { LABEL_MAX, escapeHtml, fmtBytes, fmtMs, fmtNum, fmtPct, fmtSigned, label } from '../../media/src/text';

const XSS = ['<img src=x onerror=alert(1)>', '<script>alert(1)</script>', '"><svg onload=alert(1)>', "'; alert(1); '", '`${alert(1)}`'];

test('label keeps markup as literal text (it goes to textContent, never parsed)', () => {
  for (const s of XSS) assert.equal(label(s), s);
});

test('label replaces control and bidi-override characters, collapses whitespace and caps the length', () => {
  assert.equal(label('stage\u0000 0\u001b[31m'), 'stage\ufffd 0\ufffd[31m');
  assert.equal(label('abc\u202edcba'), 'abc\ufffddcba');
  assert.equal(label('a\u2066b\u2069c'), 'a\ufffdb\ufffdc');
  assert.equal(label('  two\n\tlines  '), 'two lines');
  const long = label('x'.repeat(LABEL_MAX * 2));
  assert.equal(long.length, LABEL_MAX);
  assert.ok(long.endsWith('…'));
  assert.equal(label('abcdef', 4), 'abc…');
});

test('label turns any value into text', () => {
  assert.equal(label(undefined), '');
  assert.equal(label(null), '');
  assert.equal(label(3.5), '3.5');
  assert.equal(label(false), 'false');
  assert.equal(label({ a: '<b>' }), '{"a":"<b>"}');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(label(cyclic), '[object Object]');
});

test('escapeHtml leaves no markup character and decodes back to the input', () => {
  for (const s of [...XSS, 'a & b', 'plain']) {
    const e = escapeHtml(s);
    assert.doesNotMatch(e, /[<>"'`]/);
    assert.equal(e.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))), s);
  }
  assert.equal(escapeHtml('<a href="x">'), '&#60;a href=&#34;x&#34;&#62;');
});

test('number formats', () => {
  assert.equal(fmtMs(450), '450.0 ms');
  assert.equal(fmtMs(8.349), '8.35 ms');
  assert.equal(fmtMs(0.0123), '0.012 ms');
  assert.equal(fmtMs(12345), '12.3 s');
  assert.equal(fmtMs(0), '0 ms');
  assert.equal(fmtMs(NaN), '–');
  assert.equal(fmtMs('5'), '–');
  assert.equal(fmtPct(0.2381), '23.8%');
  assert.equal(fmtPct(null), '–');
  assert.equal(fmtSigned(22.5, ' ms'), '+22.5 ms');
  assert.equal(fmtSigned(-6.54, '%'), '−6.5%');
  assert.equal(fmtSigned(0, ' pp'), '±0.0 pp');
  assert.equal(fmtBytes(512), '512 B');
  assert.equal(fmtBytes(1536), '1.5 KiB');
  assert.equal(fmtBytes(104 * 2 ** 20), '104 MiB');
  assert.equal(fmtBytes(-1), '–');
  assert.equal(fmtNum(16.84), '16.8');
});
