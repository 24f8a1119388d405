// Histograms over steps: one row per step, its bins shaded by count (darker = more), on a shared value axis;
// a fork's inherited steps sit above a line at its fork step. Hovering names the step, the bin and its count.

import { h } from '../dom.js';

const ROW = 20; // pixels per step row, at most
const HEIGHT = 260;

export function histogramPanel(run, key, values) {
  const hists = values.filter((v) => Array.isArray(v.value.values) && Array.isArray(v.value.bins));
  let lo = Infinity;
  let hi = -Infinity;
  let top = 0;
  for (const { value } of hists) {
    lo = Math.min(lo, value.bins[0]);
    hi = Math.max(hi, value.bins[value.bins.length - 1]);
    for (const c of value.values) top = Math.max(top, c);
  }
  if (!(hi > lo)) { hi = lo + 1; }
  const width = 640;
  const rowH = Math.max(1, Math.min(ROW, Math.floor(HEIGHT / Math.max(1, hists.length))));
  const canvas = h('canvas.histograms', {
    width, height: rowH * hists.length || 1,
    'data-steps': hists.map((x) => x.step).join(','),
    'aria-label': `${key}: histograms of ${hists.length} steps`,
  });
  const tip = h('div.muted.small.hist-tip', ' ');
  const g = canvas.getContext('2d');
  const x = (v) => ((v - lo) / (hi - lo)) * width;
  const forked = run.parent_uid && run.fork_step !== null && run.fork_step !== undefined;
  hists.forEach(({ step, value }, row) => {
    for (let b = 0; b < value.values.length; b += 1) {
      const c = value.values[b];
      if (!c) continue;
      g.fillStyle = `rgba(37, 99, 235, ${0.15 + 0.85 * (c / top)})`;
      const x0 = x(value.bins[b]);
      g.fillRect(x0, row * rowH, Math.max(1, x(value.bins[b + 1]) - x0), rowH);
    }
    if (forked && step <= run.fork_step && (row + 1 === hists.length || hists[row + 1].step > run.fork_step)) {
      g.fillStyle = '#f59e0b';
      g.fillRect(0, (row + 1) * rowH - 1, width, 2);
    }
  });
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const row = Math.floor(((e.clientY - r.top) / r.height) * hists.length);
    const v = lo + ((e.clientX - r.left) / r.width) * (hi - lo);
    const item = hists[row];
    if (!item) return;
    const bins = item.value.bins;
    const b = bins.findIndex((edge, i) => i + 1 < bins.length && v >= edge && v <= bins[i + 1]);
    const inherited = forked && item.step <= run.fork_step ? ' (inherited)' : '';
    tip.textContent = b < 0 ? `_step ${item.step}${inherited}` : `_step ${item.step}${inherited} · [${bins[b].toPrecision(3)}, ${bins[b + 1].toPrecision(3)}): ${item.value.values[b]}`;
  });
  return h('section.card.media-panel', { 'data-key': key, 'data-kind': 'histogram' },
    h('h3.panel-title', key),
    h('div.hist-axis.muted.small', h('span', lo.toPrecision(3)), h('span', `${hists.length} steps, _step ${hists[0]?.step ?? '—'} → ${hists[hists.length - 1]?.step ?? '—'}`), h('span', hi.toPrecision(3))),
    canvas, tip);
}
