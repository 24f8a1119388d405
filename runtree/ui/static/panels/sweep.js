// Sweep analysis panels of the workspace: parallel coordinates (config keys -> a summary metric; drag on an axis
// to brush, which filters the runs table), a parameter importance table (correlation and random-forest
// importance, computed by the server) and a scatter plot of any two columns. Shown when a config key varies.

import * as api from '../api.js';
import { fill, h, s } from '../dom.js';
import { number, value } from '../format.js';
import { runColor, writeView } from '../view.js';

const W = 720;
const H = 260;
const PAD = { top: 28, bottom: 26, left: 40, right: 40 };

function numericScale(vals, lo, hi) {
  const nums = vals.filter((v) => typeof v === 'number' && Number.isFinite(v));
  let min = Math.min(...nums);
  let max = Math.max(...nums);
  const log = min > 0 && max / min >= 100;
  if (log) { min = Math.log10(min); max = Math.log10(max); }
  if (min === max) { min -= 1; max += 1; }
  const f = (v) => (log ? Math.log10(v) : v);
  return {
    kind: 'number', log,
    pos: (v) => (typeof v === 'number' && Number.isFinite(v) && (!log || v > 0) ? hi - ((f(v) - min) / (max - min)) * (hi - lo) : null),
    inv: (p) => { const t = min + ((hi - p) / (hi - lo)) * (max - min); return log ? 10 ** t : t; },
    ticks: [0, 0.5, 1].map((t) => { const v = min + t * (max - min); return [hi - t * (hi - lo), log ? 10 ** v : v]; }),
  };
}

function categoryScale(vals, lo, hi) {
  const cats = [...new Set(vals.filter((v) => v !== undefined && v !== null).map((v) => value(v)))].sort();
  const step = cats.length > 1 ? (hi - lo) / (cats.length - 1) : 0;
  const at = new Map(cats.map((c, i) => [c, cats.length > 1 ? hi - i * step : (lo + hi) / 2]));
  return { kind: 'category', pos: (v) => (v === undefined || v === null ? null : at.get(value(v)) ?? null), cats, ticks: cats.map((c) => [at.get(c), c]) };
}

const scaleFor = (vals, lo, hi) => (vals.some((v) => v !== undefined && v !== null && typeof v !== 'number') ? categoryScale(vals, lo, hi) : numericScale(vals, lo, hi));

/** The sweep section: { el, update(runs, metricKeys), redraw() }. */
export function sweepSection(table, view, ctx, onBrush) {
  const pcBox = h('div.sweep-pc');
  const impBox = h('div.sweep-importance');
  const scBox = h('div.sweep-scatter');
  const metricSel = h('select.select', { 'aria-label': 'sweep metric' });
  const xSel = h('select.select', { 'aria-label': 'scatter x' });
  const ySel = h('select.select', { 'aria-label': 'scatter y' });
  const open = view.sweep !== '0';
  const toggle = h('button.section-toggle', { type: 'button', 'aria-expanded': String(open) }, open ? '▾ Sweep' : '▸ Sweep');
  const body = h('div.sweep-grid',
    h('section.card.panel.wide', { 'data-testid': 'parallel-coordinates' }, h('div.panel-head', h('span.panel-title', 'Parallel coordinates'), h('span.muted.small', ' drag on an axis to filter the runs'), h('div.grow'), h('label.inline', h('span.muted', 'metric'), metricSel)), pcBox),
    h('section.card.panel', { 'data-testid': 'importance' }, h('div.panel-head', h('span.panel-title', 'Parameter importance'), h('span.muted.small.imp-metric')), impBox),
    h('section.card.panel', { 'data-testid': 'scatter' }, h('div.panel-head', h('span.panel-title', 'Scatter'), h('div.grow'), h('label.inline', h('span.muted', 'x'), xSel), h('label.inline', h('span.muted', 'y'), ySel)), scBox));
  body.hidden = !open;
  const el = h('section.ws-section.sweep', { 'data-section': 'Sweep' }, h('h2.section-title', toggle), body);
  el.hidden = true;
  toggle.addEventListener('click', () => {
    body.hidden = !body.hidden;
    toggle.textContent = body.hidden ? '▸ Sweep' : '▾ Sweep';
    toggle.setAttribute('aria-expanded', String(!body.hidden));
    view.sweep = body.hidden ? '0' : '';
    writeView(view);
    if (!body.hidden) { redraw(); loadImportance(); }
  });
  let runs = [];
  let params = [];
  let metrics = [];
  const brushes = JSON.parse(view.brush || '{}');

  table.onBrushRemoved = (id) => {
    if (!id.startsWith('pc:')) return;
    delete brushes[id.slice(3)];
    view.brush = Object.keys(brushes).length ? JSON.stringify(brushes) : '';
    writeView(view);
    redraw();
  };
  const get = (r, col) => (col.startsWith('config:') ? table.config(r.uid)[col.slice(7)] : table.summary(r.uid)[col.slice(8)]);
  const short = (col) => col.replace(/^(config|summary):/, '');

  metricSel.addEventListener('change', () => { view.pm = metricSel.value; writeView(view); redraw(); loadImportance(); });
  for (const sel of [xSel, ySel]) sel.addEventListener('change', () => { view.sx = xSel.value; view.sy = ySel.value; writeView(view); drawScatter(); });

  function applyBrushes() {
    for (const [col, b] of Object.entries(brushes)) {
      const label = b.in ? `${short(col)} in (${b.in.join(', ')})` : `${number(b.min)} ≤ ${short(col)} ≤ ${number(b.max)}`;
      const test = b.in ? (r) => b.in.includes(value(get(r, col))) : (r) => { const v = get(r, col); return typeof v === 'number' && v >= b.min && v <= b.max; };
      table.setBrush(`pc:${col}`, label, test);
    }
  }
  function setBrush(col, b) {
    if (b) brushes[col] = b; else delete brushes[col];
    view.brush = Object.keys(brushes).length ? JSON.stringify(brushes) : '';
    writeView(view);
    if (b) applyBrushes(); else table.setBrush(`pc:${col}`);
    onBrush();
  }

  function drawParallel() {
    const metric = metricSel.value ? `summary:${metricSel.value}` : null;
    const cols = [...params.slice(0, 6).map((k) => `config:${k}`), ...(metric ? [metric] : [])];
    if (cols.length < 2) { fill(pcBox, h('p.empty', 'Parallel coordinates need a config key that varies and a metric.')); return; }
    const shown = new Set(table.visible().map((r) => r.uid));
    const xs = cols.map((_, i) => PAD.left + (i * (W - PAD.left - PAD.right)) / (cols.length - 1));
    const scales = cols.map((c) => scaleFor(runs.map((r) => get(r, c)), PAD.top, H - PAD.bottom));
    const svg = s('svg', { class: 'parallel', viewBox: `0 0 ${W} ${H}`, width: '100%', height: H });
    const lines = s('g', { class: 'pc-lines' });
    const ordered = [...runs].sort((a, b) => Number(shown.has(a.uid)) - Number(shown.has(b.uid)));
    for (const r of ordered) {
      const pts = cols.map((c, i) => [xs[i], scales[i].pos(get(r, c))]);
      if (pts.some(([, y]) => y === null)) continue;
      lines.append(s('path', { d: `M ${pts.map((p) => p.join(' ')).join(' L ')}`, class: shown.has(r.uid) ? 'pc-line' : 'pc-line out', stroke: shown.has(r.uid) ? runColor(r.uid) : '#ced4da', 'data-uid': r.uid }, s('title', {}, r.name)));
    }
    svg.append(lines);
    cols.forEach((c, i) => {
      const sc = scales[i];
      const g = s('g', { class: 'pc-axis', 'data-col': c });
      g.append(s('line', { x1: xs[i], x2: xs[i], y1: PAD.top, y2: H - PAD.bottom, class: 'pc-axis-line' }));
      g.append(s('text', { x: xs[i], y: PAD.top - 12, 'text-anchor': 'middle', class: 'pc-title' }, short(c)));
      for (const [y, v] of sc.ticks) g.append(s('text', { x: xs[i] + 5, y: y + 3, class: 'pc-tick' }, typeof v === 'number' ? number(Number(v.toPrecision(3))) : v));
      const b = brushes[c];
      if (b) {
        const ys = b.in ? b.in.map((v) => sc.pos(v)).filter((y) => y !== null) : [sc.pos(b.max), sc.pos(b.min)];
        if (ys.length) g.append(s('rect', { x: xs[i] - 7, y: Math.min(...ys) - 4, width: 14, height: Math.abs(Math.max(...ys) - Math.min(...ys)) + 8, class: 'pc-brush' }));
      }
      // The hit area: drag to brush; a click without a drag clears this axis' brush.
      const hit = s('rect', { x: xs[i] - 12, y: PAD.top - 4, width: 24, height: H - PAD.top - PAD.bottom + 8, class: 'pc-hit', 'aria-label': `brush ${short(c)}` });
      hit.addEventListener('mousedown', (e) => {
        e.preventDefault();
        const box = svg.getBoundingClientRect();
        const toY = (ev) => ((ev.clientY - box.top) / box.height) * H;
        const y0 = toY(e);
        const sel = s('rect', { x: xs[i] - 7, y: y0, width: 14, height: 0, class: 'pc-brush' });
        g.append(sel);
        let y1 = y0;
        const move = (ev) => { y1 = toY(ev); sel.setAttribute('y', Math.min(y0, y1)); sel.setAttribute('height', Math.abs(y1 - y0)); };
        const up = () => {
          window.removeEventListener('mousemove', move);
          window.removeEventListener('mouseup', up);
          const [a, z] = [Math.min(y0, y1), Math.max(y0, y1)];
          if (z - a < 3) { setBrush(c, null); return; }
          if (sc.kind === 'category') setBrush(c, { in: sc.cats.filter((cat) => { const y = sc.pos(cat); return y >= a && y <= z; }) });
          else setBrush(c, { min: sc.inv(z), max: sc.inv(a) });
        };
        window.addEventListener('mousemove', move);
        window.addEventListener('mouseup', up);
      });
      g.append(hit);
      svg.append(g);
    });
    fill(pcBox, svg);
  }

  function drawScatter() {
    const xc = xSel.value;
    const yc = ySel.value;
    if (!xc || !yc) { fill(scBox, h('p.empty', 'Pick two columns.')); return; }
    const pts = table.visible().map((r) => [r, get(r, xc), get(r, yc)]).filter(([, x, y]) => typeof x === 'number' && typeof y === 'number');
    if (!pts.length) { fill(scBox, h('p.empty', 'No shown run has numbers in both columns.')); return; }
    const w = 360;
    const ht = 240;
    const sx = numericScale(pts.map((p) => p[1]), 40, w - 12);
    const sy = numericScale(pts.map((p) => p[2]), 12, ht - 30);
    const X = (v) => 40 + (w - 12) - sx.pos(v); // numericScale maps high values to `lo`; flip for x
    const svg = s('svg', { class: 'scatter', viewBox: `0 0 ${w} ${ht}`, width: '100%', height: ht });
    svg.append(s('line', { x1: 40, x2: w - 12, y1: ht - 30, y2: ht - 30, class: 'sc-axis' }), s('line', { x1: 40, x2: 40, y1: 12, y2: ht - 30, class: 'sc-axis' }));
    for (const [y, v] of sy.ticks) svg.append(s('text', { x: 36, y: y + 3, 'text-anchor': 'end', class: 'pc-tick' }, number(Number(v.toPrecision(3)))));
    for (const [p, v] of sx.ticks) svg.append(s('text', { x: 40 + (w - 12) - p, y: ht - 16, 'text-anchor': 'middle', class: 'pc-tick' }, number(Number(v.toPrecision(3)))));
    svg.append(s('text', { x: w / 2, y: ht - 2, 'text-anchor': 'middle', class: 'pc-title' }, `${short(xc)}${sx.log ? ' (log)' : ''}`));
    for (const [r, x, y] of pts) {
      svg.append(s('circle', { cx: X(x), cy: sy.pos(y), r: 4, fill: runColor(r.uid), class: 'sc-point', 'data-uid': r.uid }, s('title', {}, `${r.name}: ${short(xc)} ${number(x)}, ${short(yc)} ${number(y)}`)));
    }
    fill(scBox, svg, h('div.muted.small', `${short(yc)} against ${short(xc)} · ${pts.length} runs`));
  }

  let impSeq = 0;
  async function loadImportance() {
    const metric = metricSel.value;
    const uids = table.visible().map((r) => r.uid).slice(0, 500);
    el.querySelector('.imp-metric').textContent = metric ? ` for ${metric}` : '';
    if (!metric || uids.length < 2 || !params.length) { fill(impBox, h('p.empty', 'Needs a metric and at least two runs.')); return; }
    const mine = ++impSeq;
    // The last answer stays until the new one comes (no flicker while the filter changes).
    if (!impBox.querySelector('table')) fill(impBox, h('p.muted.small', 'Computing…'));
    let got;
    try {
      got = await api.importance(uids, metric, params.slice(0, 64), ctx.signal);
    } catch (e) {
      if (e.name !== 'AbortError') fill(impBox, h('p.error', e.message));
      return;
    }
    if (mine !== impSeq) return;
    const bar = (v, cls) => (v === null ? h('span.muted', '—') : h('span.bar-cell', h('span', { class: `bar ${cls}${v < 0 ? ' neg' : ''}`, style: { width: `${Math.round(Math.min(1, Math.abs(v)) * 100)}%` } }), h('span.bar-val', number(Number(v.toFixed(3))))));
    fill(impBox,
      h('table.table.importance', h('thead', h('tr', h('th', 'Config'), h('th', 'Importance'), h('th', 'Correlation'))),
        h('tbody', got.params.map((p) => h('tr', { 'data-key': p.key }, h('td', p.key), h('td', bar(p.importance, 'imp')), h('td', bar(p.correlation, 'corr')))))),
      h('p.muted.small', `${got.runs} runs${got.skipped ? ` (${got.skipped} without ${metric} left out)` : ''}${got.method ? ` · ${got.method}` : ''}${got.note ? ` · ${got.note}` : ''}`));
  }

  function redraw() {
    if (el.hidden || body.hidden) return;
    drawParallel();
    drawScatter();
  }

  let impTimer = 0;
  return {
    el,
    update(next, metricKeys) {
      runs = next;
      metrics = metricKeys.filter((k) => runs.some((r) => typeof table.summary(r.uid)[k] === 'number')).sort();
      const cfg = new Map();
      for (const r of runs) for (const [k, v] of Object.entries(table.config(r.uid))) { if (!cfg.has(k)) cfg.set(k, new Set()); cfg.get(k).add(JSON.stringify(v)); }
      params = [...cfg].filter(([, vals]) => vals.size > 1).sort((a, b) => b[1].size - a[1].size || a[0].localeCompare(b[0])).map(([k]) => k);
      el.hidden = params.length === 0;
      const keep = view.pm || metricSel.value || metrics.find((m) => /val.*(acc|loss)/.test(m)) || metrics[0] || '';
      fill(metricSel, metrics.map((m) => h('option', { value: m }, m)));
      metricSel.value = metrics.includes(keep) ? keep : (metrics[0] || '');
      const cols = [...params.map((k) => `config:${k}`), ...metrics.map((k) => `summary:${k}`)];
      for (const sel of [xSel, ySel]) fill(sel, cols.map((c) => h('option', { value: c }, short(c))));
      xSel.value = cols.includes(view.sx) ? view.sx : (cols.find((c) => c === 'config:lr') || cols[0] || '');
      ySel.value = cols.includes(view.sy) ? view.sy : (metricSel.value ? `summary:${metricSel.value}` : cols[1] || '');
      if (Object.keys(brushes).length) applyBrushes();
      redraw();
      clearTimeout(impTimer);
      impTimer = setTimeout(() => { if (!el.hidden && !body.hidden) loadImportance(); }, 50);
    },
    redraw() {
      redraw();
      clearTimeout(impTimer);
      impTimer = setTimeout(() => { if (!el.hidden && !body.hidden) loadImportance(); }, 300);
    },
  };
}
