// A wandb.plot chart preset drawn from its table: line (split by `stroke`), scatter, line_series. Bars and
// histograms stay tables (the table viewer below shows their rows).

import { color, join, lineChart } from '../chart.js';
import { h } from '../dom.js';

const num = (v) => typeof v === 'number' && Number.isFinite(v);

function xy(rows, xi, yi) {
  const pts = rows.filter((r) => num(r[xi]) && num(r[yi])).sort((a, b) => a[xi] - b[xi]);
  return [pts.map((r) => r[xi]), pts.map((r) => r[yi])];
}

function groups(rows, gi) {
  const out = new Map();
  for (const r of rows) {
    const g = String(r[gi]);
    if (!out.has(g)) out.set(g, []);
    out.get(g).push(r);
  }
  return out;
}

/** The chart of `table` ({columns, data}) for `chart` ({id, fields, string_fields}); null for a preset not drawn. */
export function customChart(table, chart) {
  const col = (field) => table.columns.indexOf(chart.fields?.[field]);
  let tables;
  let labels;
  let scatter = false;
  if (chart.id === 'wandb/line/v0' || chart.id === 'wandb/scatter/v0') {
    const [xi, yi, si] = [col('x'), col('y'), col('stroke')];
    if (xi < 0 || yi < 0) return null;
    scatter = chart.id === 'wandb/scatter/v0';
    const parts = si >= 0 ? groups(table.data, si) : new Map([[chart.fields.y, table.data]]);
    tables = [...parts.values()].map((rows) => xy(rows, xi, yi));
    labels = [...parts.keys()];
  } else if (chart.id === 'wandb/lineseries/v0') {
    const [xi, ki, vi] = [col('step'), col('lineKey'), col('lineVal')];
    if (xi < 0 || ki < 0 || vi < 0) return null;
    const parts = groups(table.data, ki);
    tables = [...parts.values()].map((rows) => xy(rows, xi, vi));
    labels = [...parts.keys()];
  } else {
    return null;
  }
  const el = h('div.media-chart', { 'data-chart': chart.id, 'data-series': labels.length });
  const title = chart.string_fields?.title;
  const xLabel = chart.string_fields?.xname || chart.fields?.x || chart.fields?.step || 'x';
  const series = labels.map((label, i) => ({ label, color: color(i), width: scatter ? 0 : 1.6, points: scatter ? true : undefined }));
  // Drawn once the panel is in the page (uPlot sizes itself from its element).
  requestAnimationFrame(() => lineChart(el, { xLabel, series, data: join(tables), height: 200 }));
  return title ? h('div', h('div.muted.small', title), el) : el;
}
