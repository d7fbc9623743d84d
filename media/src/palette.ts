// The one palette of op kinds, for the webview and the HTML report alike (Tableau 10: readable on light and dark backgrounds).
import type { KINDS } from './protocol';

/**
 * Colour of each op kind. B (orange) and W (green) differ in hue and lightness, so they stay apart on a light
 * background as on a dark one; OPT is a neutral grey, idle time is drawn apart (hatched), not as a kind.
 */
export const KIND_COLORS: Record<(typeof KINDS)[number], string> = {
  F: '#4e79a7',
  B: '#f28e2b',
  W: '#59a14f',
  R: '#edc948',
  SEND: '#b07aa1',
  RECV: '#bab0ac',
  ALLREDUCE: '#e15759',
  OPT: '#79706e',
  KERNEL: '#9c755f',
  COMM: '#ff9da7',
  MEMCPY: '#86bcb6',
  MEMSET: '#d4a6c8',
  SYNC: '#8c8c8c',
  COMPRESS: '#76b7b2',
  DECOMPRESS: '#a0cbe8',
};

/** Idle time (the bubble) on a light page, where it is drawn as a flat colour (the HTML report's bars). */
export const IDLE_COLOR = '#d0d0d0';

/** Colours of a better and a worse change (diff tables, deltas): blue and orange, which colour-blind readers tell apart. */
export const CHANGE_COLORS = { better: '#2f7ed8', worse: '#e8590c' } as const;
