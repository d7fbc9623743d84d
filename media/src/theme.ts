// The VS Code theme as the canvases need it: colours and font read from computed CSS variables, and a hook for theme changes.
import type { Palette } from './charts';
import { DEFAULT_PALETTE } from './charts';
import { CHANGE_COLORS, KIND_COLORS } from './palette';

/** Opacity of the idle colour (timeline bands, bubble bars, legend swatch in webview.css). */
export const IDLE_ALPHA = 0.35;

export interface Theme {
  palette: Palette;
  background: string;
  foreground: string;
  muted: string;
  grid: string;
  focus: string;
  /** A change for the worse, the straggler's mark (palette.ts CHANGE_COLORS). */
  worse: string;
  font: string;
  fontSize: number;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v || fallback;
}

/** A colour in any CSS syntax at `alpha` opacity, as rgba() (the browser parses it: a probe element's computed colour). */
export function withAlpha(color: string, alpha: number): string {
  const probe = document.createElement('span');
  probe.style.color = color;
  document.body.appendChild(probe);
  const rgb = getComputedStyle(probe).color;
  probe.remove();
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+%?))?/.exec(rgb);
  if (!m) return color;
  const a0 = m[4] === undefined ? 1 : m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
  return `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${+(a0 * alpha).toFixed(3)})`;
}

/** Reads the --pp-* variables webview.css derives from the --vscode-* theme variables (light, dark and high contrast). */
export function readTheme(root: HTMLElement = document.documentElement): Theme {
  const style = getComputedStyle(root);
  // Op kinds keep the one palette (the HTML report's too); idle, text and grid follow the theme.
  const palette: Palette = { ...DEFAULT_PALETTE };
  for (const k of ['idle', 'foreground', 'grid'] as const) palette[k] = cssVar(style, `--pp-${k}`, DEFAULT_PALETTE[k]);
  // Idle is the theme's muted grey, see-through, so it reads as background next to the grey of OPT.
  palette.idle = withAlpha(palette.idle, IDLE_ALPHA);
  const body = getComputedStyle(document.body);
  const fontSize = parseFloat(body.fontSize) || 13;
  return {
    palette,
    background: cssVar(style, '--pp-background', '#1e1e1e'),
    foreground: palette.foreground,
    muted: cssVar(style, '--pp-muted', '#9d9d9d'),
    grid: palette.grid,
    focus: cssVar(style, '--pp-focus', '#007fd4'),
    worse: CHANGE_COLORS.worse,
    font: body.fontFamily || 'sans-serif',
    fontSize,
  };
}

/** Sets --pp-<kind>, --pp-better and --pp-worse on `root` from the one palette (webview.css colours swatches and diff cells with them). */
export function applyKindColors(root: HTMLElement = document.documentElement): void {
  for (const [k, c] of Object.entries({ ...KIND_COLORS, ...CHANGE_COLORS })) root.style.setProperty(`--pp-${k}`, c);
}

/** Calls fn when VS Code switches theme (it changes the body class and the variables on <html>). Returns a stop function. */
export function onThemeChange(fn: () => void): () => void {
  const obs = new MutationObserver(() => fn());
  obs.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind'] });
  obs.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  return () => obs.disconnect();
}
