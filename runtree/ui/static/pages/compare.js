// Compare runs on one chart: the runs selected in the project table, one metric at a time, each run a line.

import * as api from '../api.js';
import { color, join, lineChart } from '../chart.js';
import { fill, h } from '../dom.js';
import { points } from '../series.js';

const SAMPLES = 1500;

/** The metrics runs have logged, from their summaries (a define_metric summary {min: ...} still names a metric). */
export function summaryMetrics(runs) {
  const keys = new Set();
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.summary || {})) {
      if (k.startsWith('_')) continue;
      if (typeof v === 'number' || (v && typeof v === 'object' && Object.values(v).some((x) => typeof x === 'number'))) keys.add(k);
    }
  }
  return [...keys].sort();
}

/** A compare panel: call update(selectedRuns) when the selection changes. */
export function comparePanel(ctx) {
  const select = h('select.select', { 'aria-label': 'metric to compare' });
  const title = h('h2');
  const chartBox = h('div.chart-box');
  const note = h('p.muted.small');
  const el = h('section.card.compare', { 'data-testid': 'compare' },
    h('div.card-head', title, h('label.inline', h('span.muted', 'metric'), select)), chartBox, note);
  let runs = [];
  let chart = null;
  let seq = 0;

  async function draw() {
    const metric = select.value;
    const mine = ++seq;
    if (!metric || !runs.length) return;
    const tables = await Promise.all(runs.map((r) => api.history(r.uid, { keys: [metric], samples: SAMPLES }, ctx.signal)));
    if (mine !== seq || !ctx.alive) return;
    const parts = tables.map((t) => { const p = points(t, metric); return [p.steps, p.ys]; });
    const series = runs.map((r, i) => ({ label: `${r.name} (${r.id})`, color: color(i), width: 1.8 }));
    chart?.destroy();
    chartBox.replaceChildren();
    const nonEmpty = parts.filter((p) => p[0].length);
    if (!nonEmpty.length) {
      fill(chartBox, h('p.empty', `None of the selected runs logged ${metric}.`));
      chart = null;
      return;
    }
    const holder = h('div');
    chartBox.append(holder);
    chart = lineChart(holder, { xLabel: '_step', series, data: join(parts), sync: 'compare' });
    note.textContent = 'Drag across the chart to zoom, double-click to zoom out. Hover for each run\'s value.';
  }

  select.addEventListener('change', draw);

  return {
    el,
    update(selected) {
      runs = selected;
      el.hidden = !runs.length;
      if (!runs.length) return;
      title.textContent = `Comparing ${runs.length} run${runs.length === 1 ? '' : 's'}`;
      const metrics = summaryMetrics(runs);
      const keep = select.value;
      fill(select, metrics.map((m) => h('option', { value: m }, m)));
      select.value = metrics.includes(keep) ? keep : (metrics.find((m) => m === 'loss') || metrics[0] || '');
      draw().catch((e) => { if (e.name !== 'AbortError') fill(chartBox, h('p.error', e.message)); });
    },
  };
}
