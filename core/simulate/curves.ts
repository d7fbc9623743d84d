// Per-layer cost curves from the probe: layers of one shape share a curve, outlying points are dropped, and each curve never falls with size.
import type { Timeline } from '../trace/timeline';
import type { CostModel } from './cost-model';
import { median } from '../analysis/utilization';
import { curveOutliers, isotonic, quadraticResiduals, robustSd } from './robust';

type Points = CostModel['layers'][number]['points'];
const FIELDS = ['forwardMs', 'backwardMs', 'inputGradMs', 'weightGradMs'] as const;

/** Layers that share one cost curve: same kind, weights, FLOPs and output. The model's first layer stays alone (it never computes an input gradient). */
export function shapeGroups(layers: Timeline['layers']): number[][] {
  const groups = new Map<string, number[]>();
  layers.forEach((l, i) => {
    const k = i === 0 ? 'first' : `${l.kind}/${l.params}/${l.flops}/${l.activationBytes}`;
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  return [...groups.values()];
}

/**
 * One group's curve: at each probed size the median over the group's layers (which cancels one noisy layer), then, per
 * field, the points off the curve's power law dropped (curveOutliers) and the rest made non-decreasing (isotonic). A
 * size whose forward or backward is dropped is left out, so every point holds only kept values.
 */
export function groupCurve(own: Points[]): Points {
  const sizes = [...new Set(own.flatMap((p) => p.map((q) => q.size)))].sort((a, b) => a - b);
  const at = sizes.map((size) => own.map((p) => p.find((q) => q.size === size)).filter((q) => q !== undefined));
  const pooled = FIELDS.map((f) => at.map((qs) => {
    const v = qs.map((q) => q[f]).filter((x): x is number => x !== undefined && Number.isFinite(x));
    return v.length === qs.length && v.length ? median(v) : undefined;
  }));
  const keep = sizes.map(() => true);
  for (const [k, vals] of pooled.entries()) {
    if (vals.some((v) => v === undefined)) continue;
    const drop = curveOutliers(sizes, vals as number[]);
    // The split backward's halves only refine B: their outliers do not drop a size's forward and backward.
    if (k < 2) drop.forEach((d, j) => d && (keep[j] = false));
  }
  const idx = sizes.map((_, j) => j).filter((j) => keep[j]);
  const mono = pooled.map((vals) => (vals.every((v) => v !== undefined) ? isotonic(idx.map((j) => vals[j]!)) : null));
  return idx.map((j, n) => ({
    size: sizes[j],
    forwardMs: mono[0]![n],
    backwardMs: mono[1]![n],
    ...(mono[2] ? { inputGradMs: mono[2][n] } : {}),
    ...(mono[3] ? { weightGradMs: mono[3][n] } : {}),
  }));
}

/**
 * Every layer's fitted curve (layers of a group share it), from the trace's probe; and the probe's own noise: the
 * robust spread (log) of the groups' probed times around a smooth curve in size (a quadratic in log–log), 0 when no
 * curve has four sizes.
 */
export function probeCurves(t: Timeline): { curves: Points[]; noise: number } {
  const own = t.layers.map((l) => t.layerCosts.find((c) => c.layer === l.name)!.points);
  const curves: Points[] = new Array(t.layers.length);
  const resid: number[] = [];
  for (const g of shapeGroups(t.layers)) {
    const curve = groupCurve(g.map((i) => own[i]));
    for (const i of g) curves[i] = curve.map((p) => ({ ...p }));
    const pts = own[g[0]].filter((p) => p.size > 0 && p.forwardMs > 0 && p.backwardMs > 0);
    for (const f of ['forwardMs', 'backwardMs'] as const) {
      const lx = pts.map((p) => Math.log(p.size));
      const ly = pts.map((p) => Math.log(median(g.map((i) => own[i].find((q) => q.size === p.size)?.[f] ?? p[f]))));
      resid.push(...quadraticResiduals(lx, ly));
    }
  }
  return { curves, noise: resid.length ? robustSd(resid) : 0 };
}
