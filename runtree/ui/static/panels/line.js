// A workspace line panel: one metric, every shown run (or group) a line, on uPlot. Settings: EMA smoothing with
// the raw line faint behind, x axis (_step, the metric's define_metric step metric, wall time, relative time,
// any metric), log x/y, y range, outliers clipped by percentile, max runs, a legend template. The hover card
// lists the runs nearest the cursor, highest value first.

import { alpha } from '../chart.js';
import { fill, h } from '../dom.js';
import { duration, number } from '../format.js';
import { interpolate } from '../series.js';

const uPlot = window.uPlot;
const MAX_X = 1500; // distinct x values a panel keeps; beyond that x is cut into this many columns (about 2 per pixel)
const HOVER_ROWS = 10;

/** The debiased exponential moving average (W&B's and TensorBoard's default), nulls kept as gaps. */
export function ema(values, weight) {
  const out = new Array(values.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) { out[i] = null; continue; }
    last = last * weight + (1 - weight) * v;
    count += 1;
    out[i] = last / (1 - weight ** count);
  }
  return out;
}

/** The step metric of `key` from define_metric (exact name first, then a trailing-* glob), or null. */
export function stepMetricOf(defs, key) {
  if (defs[key]?.step_metric) return defs[key].step_metric;
  for (const [name, d] of Object.entries(defs)) {
    if (name.endsWith('*') && key.startsWith(name.slice(0, -1)) && d?.step_metric) return d.step_metric;
  }
  return null;
}

/** x values of one run's series `s` for the axis `axis` ('_step', 'wall', 'relative', or a metric with its series `ref`). */
export function xsOf(s, axis, ref) {
  if ((axis === 'wall' || axis === 'relative') && !s.time) return s.steps.map(() => null); // timestamps on their way
  if (axis === 'wall') return s.time;
  if (axis === 'relative') {
    const t0 = s.time.find((t) => t !== null);
    return s.time.map((t) => (t === null ? null : t - t0));
  }
  if (axis === '_step' || !axis) return s.steps;
  if (!ref || !ref.steps.length) return s.steps.map(() => null);
  const refYs = ref.values;
  const refSteps = [];
  const refVals = [];
  for (let i = 0; i < ref.steps.length; i++) if (refYs[i] !== null) { refSteps.push(ref.steps[i]); refVals.push(refYs[i]); }
  return s.steps.map((st) => interpolate(refSteps, refVals, st));
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[i];
}

/** Where each point of each line goes on one shared x array: { xs, pos: [index per point, -1 for none] }. */
export function xLayout(xsList) {
  const all = new Set();
  for (const xs of xsList) for (const x of xs) if (x !== null && Number.isFinite(x)) all.add(x);
  let xs = [...all].sort((a, b) => a - b);
  let posOf;
  if (xs.length > MAX_X) {
    const lo = xs[0];
    const w = (xs[xs.length - 1] - lo) / MAX_X || 1;
    const cols = new Map();
    for (const x of xs) { const c = Math.min(MAX_X - 1, Math.floor((x - lo) / w)); if (!cols.has(c)) cols.set(c, x); }
    const keys = [...cols.keys()].sort((a, b) => a - b);
    const index = new Map(keys.map((c, i) => [c, i]));
    const end = xs[xs.length - 1];
    xs = keys.map((c) => cols.get(c));
    xs[xs.length - 1] = end; // the last column sits at the last x, so the lines reach the end of the data
    posOf = (x) => index.get(Math.min(MAX_X - 1, Math.floor((x - lo) / w)));
  } else {
    const index = new Map(xs.map((x, i) => [x, i]));
    posOf = (x) => index.get(x);
  }
  return { xs, pos: xsList.map((l) => l.map((x) => (x === null || !Number.isFinite(x) ? -1 : posOf(x)))) };
}

/** One line's y values spread over the shared x array (null where it has no point). */
function spread(layout, pos, ys) {
  const col = new Array(layout.xs.length).fill(null);
  for (let i = 0; i < pos.length; i++) if (pos[i] >= 0 && ys[i] !== null && ys[i] !== undefined) col[pos[i]] = ys[i];
  return col;
}

/**
 * Align lines with different x values onto one x array (uPlot's data layout). lines: [{ xs, ys: [arrays...] }].
 * Returns [xs, ...ys arrays]; more than MAX_X distinct x values are cut into MAX_X columns. `cache` (an object
 * kept by the caller) reuses the layout while the lines' x arrays are the same ones (a smoothing change).
 */
export function align(lines, cache = null) {
  let layout;
  const refs = lines.map((l) => l.xs);
  if (cache && cache.refs && cache.refs.length === refs.length && cache.refs.every((r, i) => r === refs[i])) {
    layout = cache.layout;
  } else {
    layout = xLayout(refs);
    if (cache) { cache.refs = refs; cache.layout = layout; }
  }
  const out = [layout.xs];
  lines.forEach((l, i) => { for (const ys of l.ys) out.push(spread(layout, layout.pos[i], ys)); });
  return out;
}

/**
 * The y range drawn: [lo, hi] padded a little, never empty or inverted, positive on a log axis (an empty or
 * non-positive range there sends uPlot's tick maker into an endless loop).
 */
function yRange(lo, hi, log) {
  if (log) {
    if (!(lo > 0) || !Number.isFinite(lo)) lo = hi > 0 && Number.isFinite(hi) ? hi / 10 : 1;
    if (!(hi > lo) || !Number.isFinite(hi)) hi = lo * 10;
    return [lo, hi];
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi <= lo) { const d = Math.abs(lo) * 0.1 || 1; return [lo - d, hi + d]; }
  return [lo, hi];
}

/** Ticks of a log axis: 1, 2, 5 per decade when few decades, else one per decade (uPlot's own can loop forever on a 0 bound). */
function logSplits(u, axis, min, max) {
  if (!(min > 0) || !(max > min) || !Number.isFinite(max)) return [min > 0 ? min : 1];
  let a = Math.floor(Math.log10(min));
  const b = Math.ceil(Math.log10(max));
  if (b - a > 40) a = b - 40;
  const out = [];
  for (let k = a; k <= b; k++) {
    for (const m of b - a <= 2 ? [1, 2, 5] : [1]) {
      const v = Number((m * 10 ** k).toPrecision(12));
      if (v >= min && v <= max) out.push(v);
    }
  }
  return out.length ? out : [min, max];
}

/** Room for the y tick labels, from the widest value the axis may show (labels are never clipped). */
function ySize(lo, hi, data) {
  let min = lo;
  let max = hi;
  if (min === null || max === null) {
    let a = Infinity;
    let b = -Infinity;
    for (let i = 1; i < data.length; i++) {
      const col = data[i];
      for (let j = 0; j < col.length; j++) { const v = col[j]; if (v !== null && v < a) a = v; if (v !== null && v > b) b = v; }
    }
    if (min === null) min = a;
    if (max === null) max = b;
  }
  if (!Number.isFinite(min) || !Number.isFinite(max)) return 44;
  const span = Math.abs(max - min) || Math.abs(max) || 1;
  const step = 10 ** Math.floor(Math.log10(span / 4));
  // Tick values are multiples of about span/4: their text is as long as the bounds rounded to that step, plus a digit.
  const texts = [min, max, min + step * 1.5, max - step * 1.5].map((v) => number(Number((Math.round(v / step) * step).toPrecision(6))));
  const chars = Math.max(...texts.map((t) => t.length)) + 1;
  return Math.max(40, Math.ceil(14 + 6.4 * chars));
}

/** Fill a legend template: ${name} ${id} ${group} ${job_type} ${config.lr} ${summary.loss} ${run:...}. */
export function legendText(template, run, cfg, sum) {
  if (!template) return run.name;
  return template.replace(/\$\{([^}]+)\}/g, (_, key) => {
    if (key.startsWith('config.')) return String(cfg[key.slice(7)] ?? '');
    if (key.startsWith('summary.')) { const v = sum[key.slice(8)]; return typeof v === 'number' ? number(v) : String(v ?? ''); }
    return String(run[key] ?? '');
  });
}

/**
 * A panel's chart. draw({ lines, groups, settings, xLabel }) builds or updates it. lines: [{ uid, label, color,
 * xs, raw, smooth }] (raw: y values; smooth: the smoothed ones or null); groups: [{ label, color, xs, mean,
 * lo, hi }] or null.
 */
export function linePanelChart(el, { height = 220, onZoom, onReset } = {}) {
  let plot = null;
  let shape = '';
  const hover = h('div.hover-card');
  el.classList.add('line-panel-chart');
  el.append(hover);
  const alignCache = {};

  /** The y bounds asked for: typed ones, else (outliers clipped) the percentiles of a sample of the values. */
  function scalesFor(st, data, logY) {
    let lo = st.ymin !== '' && st.ymin !== undefined && st.ymin !== null ? Number(st.ymin) : null;
    let hi = st.ymax !== '' && st.ymax !== undefined && st.ymax !== null ? Number(st.ymax) : null;
    if (Number.isNaN(lo)) lo = null;
    if (Number.isNaN(hi)) hi = null;
    if (st.outliers && (lo === null || hi === null)) {
      let total = 0;
      for (let i = 1; i < data.length; i++) total += data[i].length;
      const stride = Math.max(1, Math.floor(total / 20000)); // percentiles of at most ~20,000 values
      const ys = [];
      let k = 0;
      for (let i = 1; i < data.length; i++) {
        const col = data[i];
        for (let j = 0; j < col.length; j++) {
          const v = col[j];
          if (v !== null && Number.isFinite(v) && (k++ % stride === 0)) ys.push(v);
        }
      }
      ys.sort((a, b) => a - b);
      if (ys.length > 10) {
        const p = Number(st.outliers) || 5;
        const a = percentile(ys, p);
        const b = percentile(ys, 100 - p);
        const pad = (b - a) * 0.1 || Math.abs(a) * 0.1 || 1;
        if (lo === null) lo = logY ? a / 1.25 : a - pad;
        if (hi === null) hi = logY ? b * 1.25 : b + pad;
      }
    }
    if (logY) {
      // A log axis needs positive bounds: a bound at or below zero is left to uPlot.
      if (lo !== null && !(lo > 0)) lo = null;
      if (hi !== null && !(hi > 0)) hi = null;
      if (lo !== null && hi !== null && hi <= lo) hi = null;
    }
    return { lo, hi };
  }

  function draw({ lines, groups, settings: st, xLabel, xTime, xRelative, zoom }) {
    const series = [];
    const parts = [];
    const smoothing = Number(st.smooth) > 0;
    if (groups) {
      for (const g of groups) {
        parts.push({ xs: g.xs, ys: [g.hi, g.lo, g.mean] });
        series.push({ label: `${g.label} max`, stroke: alpha(g.color, 0.2), width: 0.5, main: false });
        series.push({ label: `${g.label} min`, stroke: alpha(g.color, 0.2), width: 0.5, main: false });
        series.push({ label: g.label, stroke: g.color, width: 2, main: true });
      }
      for (const l of lines) {
        parts.push({ xs: l.xs, ys: [l.smooth || l.raw] });
        series.push({ label: l.label, stroke: alpha(l.color, 0.35), width: 1, main: false });
      }
    } else {
      for (const l of lines) {
        if (smoothing && l.smooth) {
          parts.push({ xs: l.xs, ys: [l.raw, l.smooth] });
          series.push({ label: `${l.label} (raw)`, stroke: alpha(l.color, 0.18), width: 1, main: false });
          series.push({ label: l.label, stroke: l.color, width: 1.6, main: true });
        } else {
          parts.push({ xs: l.xs, ys: [l.raw] });
          series.push({ label: l.label, stroke: l.color, width: 1.5, main: true });
        }
      }
    }
    let data = align(parts, alignCache);
    const logX = st.logx === '1';
    const logY = st.logy === '1';
    if (logY) for (let i = 1; i < data.length; i++) data[i] = data[i].map((v) => (v !== null && v > 0 ? v : null));
    if (logX) {
      const keep = data[0].map((x) => x > 0);
      data = data.map((col) => col.filter((_, i) => keep[i]));
    }
    const { lo, hi } = scalesFor(st, data, logY);
    const bands = groups ? groups.map((_, i) => ({ series: [1 + i * 3, 2 + i * 3], fill: alpha(groups[i].color, 0.15) })) : [];
    const key = JSON.stringify([series.map((s) => s.label + s.stroke), logX, logY, xTime, lo, hi, bands.length]);
    const applyZoom = () => { if (zoom && Number.isFinite(zoom[0]) && Number.isFinite(zoom[1]) && zoom[1] > zoom[0]) plot.setScale('x', { min: zoom[0], max: zoom[1] }); };
    if (plot && key === shape) {
      plot.setData(data, !zoom);
      applyZoom();
      return;
    }
    shape = key;
    plot?.destroy();
    const width = Math.max(220, el.clientWidth);
    const fmtX = xRelative ? (v) => duration(v) : (v) => number(v);
    plot = new uPlot({
      width,
      height,
      pxAlign: 0,
      legend: { show: false },
      cursor: {
        drag: { x: true, y: false, setScale: true }, focus: { prox: 24 }, points: { size: 5 },
        bind: { dblclick: (u, targ, handler) => (e) => { onReset?.(); return handler(e); } },
      },
      focus: { alpha: 0.3 },
      bands,
      scales: {
        x: { time: Boolean(xTime), distr: logX ? 3 : 1 },
        // Linear with no bounds asked for: uPlot's own rounded range. Otherwise the bounds, made safe.
        y: !logY && lo === null && hi === null ? { distr: 1 } : { distr: logY ? 3 : 1, range: (u, min, max) => yRange(lo ?? min, hi ?? max, logY) },
      },
      axes: [
        { stroke: '#495057', grid: { stroke: '#eef0f2' }, ticks: { stroke: '#dee2e6' }, font: '11px system-ui, sans-serif', label: xLabel, labelSize: 16, labelFont: '11px system-ui, sans-serif', values: xTime ? undefined : (u, vals) => vals.map(fmtX), splits: logX && !xTime ? logSplits : undefined },
        // Wide enough for "-0.000123" and 1.2e+06: y labels are never clipped.
        { stroke: '#495057', grid: { stroke: '#eef0f2' }, ticks: { stroke: '#dee2e6' }, font: '11px system-ui, sans-serif', size: ySize(lo, hi, data), values: (u, vals) => vals.map((v) => number(v)), splits: logY ? logSplits : undefined },
      ],
      series: [{ label: xLabel }, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: s.width, spanGaps: true, points: { show: false } }))],
      hooks: {
        setCursor: [(u) => showHover(u, series, fmtX, xTime)],
        setSelect: [(u) => {
          if (u.select.width < 2) return;
          onZoom?.(u.posToVal(u.select.left, 'x'), u.posToVal(u.select.left + u.select.width, 'x'));
        }],
        draw: [(u) => {
          el.dataset.draws = String(Number(el.dataset.draws || 0) + 1);
          el.dataset.lastX = String(u.data[0].length ? u.data[0][u.data[0].length - 1] : '');
        }],
      },
    }, data, el);
    applyZoom();
    el.dataset.series = String(series.filter((s) => s.main).length);
  }

  function showHover(u, series, fmtX, xTime) {
    const idx = u.cursor.idx;
    if (idx === null || idx === undefined || u.cursor.left < 0) { hover.style.display = 'none'; return; }
    const rows = [];
    for (let i = 0; i < series.length; i++) {
      if (!series[i].main) continue;
      const v = u.data[i + 1][idx];
      if (v === null || v === undefined) continue;
      rows.push([v, series[i]]);
    }
    if (!rows.length) { hover.style.display = 'none'; return; }
    rows.sort((a, b) => b[0] - a[0]);
    const x = u.data[0][idx];
    fill(hover, h('div.hover-x', xTime ? new Date(x * 1000).toLocaleString() : fmtX(x)),
      rows.slice(0, HOVER_ROWS).map(([v, s]) => h('div.hover-row', h('span.swatch', { style: { background: s.stroke } }), h('span.hover-name', s.label), h('span.hover-val', number(v)))),
      rows.length > HOVER_ROWS ? h('div.muted.small', `+${rows.length - HOVER_ROWS} more`) : null);
    hover.style.display = 'block';
    const left = u.cursor.left + u.bbox.left / devicePixelRatio;
    hover.style.left = `${left > el.clientWidth / 2 ? left - hover.offsetWidth - 12 : left + 12}px`;
    hover.style.top = '8px';
  }

  return {
    draw,
    resize() { if (plot) plot.setSize({ width: Math.max(220, el.clientWidth), height }); },
    get plot() { return plot; },
    destroy() { plot?.destroy(); plot = null; },
  };
}
