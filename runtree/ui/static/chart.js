// Line charts on uPlot (vendor/uPlot.iife.min.js, a global): sizing, palette, markers (fork, rewind) drawn
// over the plot, drag to zoom with a callback to fetch the finer range, double-click to zoom back out.

import { h } from './dom.js';
import { duration, number } from './format.js';

const uPlot = window.uPlot;

export const PALETTE = ['#2563eb', '#e8590c', '#0ca678', '#ae3ec9', '#d6336c', '#1098ad', '#f59f00', '#5c7cfa', '#74b816', '#868e96'];
export const INK = '#495057';

export function color(i) { return PALETTE[i % PALETTE.length]; }

/** '#2563eb' with alpha `a`, as rgba(). */
export function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

const HEIGHT = 230;
const resize = new ResizeObserver((entries) => {
  for (const e of entries) e.target.__chart?.fit();
});

/**
 * A line chart in `el`.
 * opts: { xLabel, time (x is seconds since the epoch), series: [{ label, color, width, dash, fill }],
 *         data: [xs, ys...], markers: [{ x, label, kind }], onZoom(min, max), onReset(), sync }
 * Returns { setData(data, keepZoom), setMarkers(markers), setSeries(series, data), destroy(), plot }.
 */
export function lineChart(el, opts) {
  el.classList.add('chart');
  const markerLayer = h('div.markers');
  let markers = opts.markers || [];
  let zoomed = false;

  const config = (series) => ({
    width: Math.max(200, el.clientWidth),
    height: opts.height || HEIGHT,
    pxAlign: 0,
    cursor: {
      sync: opts.sync ? { key: opts.sync, setSeries: false } : undefined,
      drag: { x: true, y: false, setScale: true },
      focus: { prox: 16 },
      bind: {
        // Zooming out asks for the whole range again (the zoomed data holds only the zoomed steps).
        dblclick: (u, targ, handler) => (e) => {
          if (opts.onReset && zoomed) {
            zoomed = false;
            opts.onReset();
            return null;
          }
          return handler(e);
        },
      },
    },
    focus: { alpha: 0.35 },
    legend: { live: true, markers: { width: 2 } },
    scales: { x: { time: Boolean(opts.time) } },
    axes: [
      { stroke: INK, grid: { stroke: '#eef0f2', width: 1 }, ticks: { stroke: '#dee2e6', width: 1 }, font: '11px system-ui, sans-serif', label: opts.xLabel, labelSize: opts.xLabel ? 18 : 0, labelFont: '11px system-ui, sans-serif', values: opts.duration ? (u, vals) => vals.map((v) => duration(v)) : undefined },
      // Sized from the tick labels themselves (uPlot measures again until they fit), so none is clipped.
      { stroke: INK, grid: { stroke: '#eef0f2', width: 1 }, ticks: { stroke: '#dee2e6', width: 1 }, font: '11px system-ui, sans-serif', size: (u, values) => Math.max(44, 16 + 6.6 * Math.max(0, ...(values || []).map((v) => String(v).length))), values: (u, vals) => vals.map((v) => `${number(v)}${opts.unit && opts.unit !== '%' ? '' : opts.unit || ''}`), label: opts.unit && opts.unit !== '%' ? opts.unit : undefined, labelSize: opts.unit && opts.unit !== '%' ? 16 : 0, labelFont: '11px system-ui, sans-serif' },
    ],
    series: [
      { label: opts.xLabel || 'x', value: opts.time ? undefined : (u, v) => (v === null || v === undefined ? '—' : opts.duration ? duration(v) : number(v)) },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: s.width ?? 1.6,
        dash: s.dash,
        fill: s.fill,
        spanGaps: s.spanGaps ?? true,
        points: { show: s.points ?? undefined, size: 4 },
        value: (u, v) => (v === null || v === undefined ? '—' : number(v)),
        show: s.show ?? true,
        class: s.className,
      })),
    ],
    hooks: {
      draw: [(u) => {
        if (window.__firstChartMs === undefined) window.__firstChartMs = performance.now();
        placeMarkers(u);
        const xs = u.data[0];
        el.dataset.points = String(xs.length);
        el.dataset.lastX = xs.length ? String(xs[xs.length - 1]) : '';
        el.dataset.draws = String(Number(el.dataset.draws || 0) + 1);
        // Where each line starts (its first x with a value): an overlay's start is its fork step, not 0.
        el.dataset.starts = u.data.slice(1).map((col) => { const i = col.findIndex((v) => v !== null && v !== undefined); return i < 0 ? '' : xs[i]; }).join(',');
      }],
      setSelect: [(u) => {
        if (u.select.width < 2) return;
        const min = u.posToVal(u.select.left, 'x');
        const max = u.posToVal(u.select.left + u.select.width, 'x');
        zoomed = true;
        opts.onZoom?.(min, max);
      }],
    },
  });

  function placeMarkers(u) {
    markerLayer.replaceChildren();
    const [lo, hi] = [u.scales.x.min, u.scales.x.max];
    for (const m of markers) {
      if (m.x === null || m.x === undefined || m.x < lo || m.x > hi) continue;
      const left = u.valToPos(m.x, 'x');
      markerLayer.append(h(`div.chart-marker.marker-${m.kind || 'fork'}`, { style: { left: `${left}px` }, title: m.title || m.label },
        h('span.marker-label', m.label)));
    }
  }

  let series = opts.series;
  let plot = new uPlot(config(series), opts.data, el);
  plot.over.append(markerLayer);
  el.__chart = { fit: () => plot.setSize({ width: Math.max(200, el.clientWidth), height: opts.height || HEIGHT }) };
  resize.observe(el);

  return {
    get plot() { return plot; },
    get zoomed() { return zoomed; },
    /** New data; `keepZoom` keeps the x range the user zoomed to (live updates while zoomed). */
    setData(data, keepZoom = false) {
      if (keepZoom && zoomed) {
        const { min, max } = plot.scales.x;
        plot.setData(data, false);
        plot.setScale('x', { min, max });
      } else {
        plot.setData(data, true);
      }
    },
    /** Other series (an overlay switched on or off): the chart is built again with them. */
    setSeries(next, data) {
      series = next;
      const keep = zoomed ? { min: plot.scales.x.min, max: plot.scales.x.max } : null;
      plot.destroy();
      plot = new uPlot(config(series), data, el);
      plot.over.append(markerLayer);
      if (keep) plot.setScale('x', keep);
    },
    setMarkers(next) {
      markers = next;
      placeMarkers(plot);
    },
    resetZoom() { zoomed = false; },
    /** Show only x in [min, max], as a drag across the chart does (a link restoring a zoom). */
    zoomTo(min, max) { zoomed = true; plot.setScale('x', { min, max }); },
    destroy() {
      resize.unobserve(el);
      plot.destroy();
    },
  };
}

/**
 * Data for uPlot from tables with different x values ([xs, ys...] each): one sorted x array, and each y array
 * spread over it with gaps where a table has no point.
 */
export function join(tables) {
  const usable = tables.filter((t) => t[0].length);
  if (usable.length === 1 && usable.length === tables.length) return tables[0];
  if (!usable.length) return [[], ...tables.flatMap((t) => t.slice(1).map(() => []))];
  const joined = uPlot.join(usable);
  // Tables without points still get their (empty) series, so the series list and the data agree.
  const out = [joined[0]];
  let k = 1;
  for (const t of tables) {
    for (let j = 1; j < t.length; j++) out.push(t[0].length ? joined[k++] : new Array(joined[0].length).fill(null));
  }
  return out;
}
