// From history tables (api.decode) to the points a chart draws: which keys are metrics, x by _step or by a
// metric's step_metric, and a fork's inherited part apart from its own.

const HIDDEN = new Set(['_step', '_timestamp', '_runtime']);

/** Keys of a table that hold numbers (the metrics to chart), in a stable, readable order: sections first by prefix. */
export function metricKeys(table) {
  const keys = [];
  for (const [key, col] of Object.entries(table.columns)) {
    if (HIDDEN.has(key)) continue;
    const first = col.find((v) => v !== null && v !== undefined);
    if (typeof first === 'number') keys.push(key);
  }
  return keys.sort((a, b) => section(a).localeCompare(section(b)) || a.localeCompare(b));
}

/** 'val/loss' -> 'val'; 'loss' -> '' (the W&B way of grouping panels). */
export function section(key) {
  const i = key.lastIndexOf('/');
  return i > 0 ? key.slice(0, i) : '';
}

/** The points of `key`: { steps, ys } where the key has a number. */
export function points(table, key) {
  const col = table.columns[key];
  const steps = [];
  const ys = [];
  if (!col) return { steps, ys };
  for (let i = 0; i < col.length; i++) {
    const v = col[i];
    if (typeof v === 'number') {
      steps.push(table.steps[i]);
      ys.push(v);
    }
  }
  return { steps, ys };
}

/** Merge `more` (rows after the last step of `table`, from a live poll) into `table`, in place. */
export function extend(table, more) {
  const n = table.steps.length;
  const keys = new Set([...Object.keys(table.columns), ...Object.keys(more.columns)]);
  for (const key of keys) {
    const col = table.columns[key] || (table.columns[key] = new Array(n).fill(null));
    const add = more.columns[key];
    for (let i = 0; i < more.steps.length; i++) col.push(add ? add[i] : null);
  }
  table.steps = table.columns._step;
  table.n = table.steps.length;
  return table;
}

/** x values for `steps`: the steps themselves, or the value of the step metric `by` at each step (interpolated in a sampled table). */
export function xFor(table, steps, by) {
  if (!by || by === '_step') return steps;
  const ref = points(table, by);
  if (!ref.steps.length) return steps.map(() => null);
  return steps.map((s) => interpolate(ref.steps, ref.ys, s));
}

/** y at `x` on the line through (xs, ys), xs ascending: clamped at the ends; null for an empty line. */
export function interpolate(xs, ys, x) {
  if (!xs.length) return null;
  let lo = 0;
  let hi = xs.length - 1;
  if (x <= xs[0]) return ys[0];
  if (x >= xs[hi]) return ys[hi];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid; else hi = mid;
  }
  if (xs[lo] === x) return ys[lo];
  return ys[lo] + ((ys[hi] - ys[lo]) * (x - xs[lo])) / (xs[hi] - xs[lo]);
}

/** Points sorted by x (a step metric may not follow the step order), dropping those without an x. */
export function byX(xs, ys) {
  const idx = xs.map((_, i) => i).filter((i) => xs[i] !== null && xs[i] !== undefined);
  let sorted = true;
  for (let k = 1; k < idx.length; k++) if (xs[idx[k]] < xs[idx[k - 1]]) { sorted = false; break; }
  if (!sorted) idx.sort((a, b) => xs[a] - xs[b]);
  return { xs: idx.map((i) => xs[i]), ys: idx.map((i) => ys[i]) };
}

/**
 * Split one run's points at `inheritedUntil` (the last step read from an ancestor): two y arrays on the same
 * x values, the boundary point in both so the line stays joined. inheritedUntil null: all own.
 */
export function splitInherited(steps, xs, ys, inheritedUntil) {
  const inherited = new Array(xs.length).fill(null);
  const own = new Array(xs.length).fill(null);
  let boundary = -1;
  for (let i = 0; i < xs.length; i++) {
    if (inheritedUntil !== null && steps[i] <= inheritedUntil) {
      inherited[i] = ys[i];
      boundary = i;
    } else {
      own[i] = ys[i];
    }
  }
  if (boundary >= 0 && boundary + 1 < xs.length) own[boundary] = ys[boundary];
  return { inherited, own, hasInherited: boundary >= 0 };
}

/** The last step of the history `segments` borrow from other runs (null when the run borrows none). */
export function inheritedUntil(segments, uid) {
  let last = null;
  for (const seg of segments) if (seg.source_uid !== uid && seg.last_step !== null) last = Math.max(last ?? -1, seg.last_step);
  return last;
}
