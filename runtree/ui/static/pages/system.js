// System: the system metrics a run sampled (CPU, memory, disk, network, GPUs) against time. Per-core and
// per-GPU keys (system.cpu.3.cpu_percent, system.gpu.0.temp) share one chart, a line per core or GPU.

import * as api from '../api.js';
import { color, lineChart } from '../chart.js';
import { fill, h } from '../dom.js';

const INDEXED = /^(.*?)\.(\d+)\.(.+)$/;

/** 'system.cpu.3.cpu_percent' -> ['system.cpu.*.cpu_percent', '3']; other keys are their own group. */
function groupOf(key) {
  const m = INDEXED.exec(key);
  return m ? [`${m[1]}.*.${m[3]}`, m[2]] : [key, null];
}

/** The unit a system key is measured in, from its name (W&B's and runtree's key names carry it). */
export function unitOf(key) {
  const k = key.toLowerCase().replace(/^system\./, '');
  if (/percent|_pct|util(ization)?$|\.gpu$|^cpu$/.test(k)) return '%';
  if (/gb$/.test(k)) return 'GB';
  if (/mb$/.test(k)) return 'MB';
  if (/temp/.test(k)) return '°C';
  if (/watts?$|power/.test(k)) return 'W';
  if (/network\.(sent|recv)|bytes/.test(k)) return 'bytes';
  if (/clock|mhz/.test(k)) return 'MHz';
  return '';
}

/** 'system.cpu.*.cpu_percent' -> 'CPU percent per cpu (%)'; 'system.disk./.usageGB' -> 'disk / usage (GB)'. */
export function title(group) {
  const bare = group.replace(/^system\./, '');
  const unit = unitOf(bare);
  const m = /^(.*?)\.\*\.(.+)$/.exec(bare);
  const words = (text) => text.replace(/(GB|MB|Watts|Percent)$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[._]+/g, ' ').replace(/\s+/g, ' ').trim();
  const name = m ? `${words(m[2])} per ${words(m[1])}` : words(bare);
  return unit ? `${name} (${unit})` : name;
}

export function groups(samples) {
  const out = new Map();
  for (const [, values] of samples) {
    for (const key of Object.keys(values)) {
      const [g, index] = groupOf(key);
      if (!out.has(g)) out.set(g, new Map());
      out.get(g).set(key, index);
    }
  }
  return [...out.entries()].sort(([a], [b]) => a.localeCompare(b));
}

export async function systemTab(body, run, ctx) {
  const grid = h('div.chart-grid');
  const axisSel = h('select.select', { 'aria-label': 'time axis' }, h('option', { value: 'relative' }, 'relative time'), h('option', { value: 'wall' }, 'wall time'));
  fill(body, h('div.toolbar', h('label.inline', h('span.muted', 'x'), axisSel)), grid);
  const charts = new Map();
  let last = [];
  axisSel.addEventListener('change', () => {
    for (const c of charts.values()) c.chart.destroy();
    charts.clear();
    grid.replaceChildren();
    draw(last);
  });

  const draw = (samples) => {
    last = samples;
    if (!samples.length) {
      fill(grid, h('p.empty.card', run.state === 'running' ? 'No system metrics yet; they appear as the run samples them.' : 'This run has no system metrics.'));
      return;
    }
    if (!charts.size) grid.replaceChildren();
    const relative = axisSel.value === 'relative';
    const t0 = samples[0][0];
    const xs = samples.map((s) => (relative ? s[0] - t0 : s[0]));
    for (const [group, keys] of groups(samples)) {
      const ordered = [...keys.entries()].sort((a, b) => Number(a[1]) - Number(b[1]) || a[0].localeCompare(b[0]));
      const data = [xs, ...ordered.map(([key]) => samples.map(([, v]) => (typeof v[key] === 'number' ? v[key] : null)))];
      const existing = charts.get(group);
      if (existing && existing.count === ordered.length) {
        existing.chart.setData(data, true);
        continue;
      }
      existing?.chart.destroy();
      const holder = h('div.chart-holder');
      const card = existing?.card || h('section.card.chart-card', { 'data-key': group }, h('div.chart-title', title(group)), holder);
      if (existing) card.querySelector('.chart-holder').replaceWith(holder); else grid.append(card);
      const series = ordered.map(([key, index], i) => ({ label: index === null ? key.replace(/^system\./, '') : `#${index}`, color: color(i), width: 1.4 }));
      const unit = unitOf(group);
      charts.set(group, { card, count: ordered.length, chart: lineChart(holder, { time: !relative, duration: relative, xLabel: relative ? 'time since start' : 'time', unit, series, data, sync: `sys-${run.uid}` }) });
    }
  };

  draw(await api.system(run.uid, ctx.signal));
  return { async onRun() { draw(await api.system(run.uid, ctx.signal)); } };
}
