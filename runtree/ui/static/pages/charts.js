// Charts: one line chart per metric against _step (or the metric's step_metric). A fork's inherited history is
// drawn lighter than its own, with a marker at the fork step; toggles overlay the parent and sibling forks,
// and the segments rewinds archived (dashed). The first look at a long run is a quick preview, replaced by
// the exact min/max downsample when it arrives; zooming asks the server for the finer step range.

import * as api from '../api.js';
import { alpha, color, join, lineChart } from '../chart.js';
import { fill, h } from '../dom.js';
import { byX, extend, inheritedUntil, metricKeys, points, section, splitInherited, xFor } from '../series.js';
import { readView, writeView } from '../view.js';

const MAX_SIBLINGS = 8;
const FAMILY_COLORS = ['#868e96', '#e8590c', '#0ca678', '#ae3ec9', '#d6336c', '#1098ad', '#f59f00', '#5c7cfa', '#74b816'];

/** Points per key to ask for: two per pixel column (min and max of its bucket). */
function samplesFor(width) {
  return Math.max(200, Math.min(4000, Math.round(2 * width)));
}

/** Load a history table: a preview first when the server offers one, then `onExact` with the exact table. */
async function loadHistory(uid, params, signal, onExact) {
  const first = await api.history(uid, { ...params, preview: true }, signal);
  if (first.preview && onExact) {
    api.history(uid, params, signal).then(onExact, (e) => { if (e.name !== 'AbortError') console.warn('history:', e); });
  }
  return first;
}

export async function chartsTab(body, run, ctx, opts = {}) {
  const defs = run.metric_defs || {};
  const stepOf = (key) => defs[key]?.step_metric || null;
  const toolbar = h('div.toolbar.chart-toolbar');
  const grid = h('div.sections');
  const status = h('span.muted.small.status', { 'aria-live': 'polite' });
  fill(body, toolbar, grid);

  const chartWidth = () => {
    const w = grid.clientWidth || body.clientWidth || 1000;
    return w > 980 ? (w - 20) / 2 : w;
  };
  const samples = samplesFor(chartWidth());

  // The exact table may arrive before the charts exist: it waits in `pendingExact` until they do.
  let onExact = null;
  let pendingExact = null;
  const [segs, rewinds, firstTable] = await Promise.all([
    api.segments(run.uid, ctx.signal),
    run.epoch > 0 ? api.rewinds(run.uid, ctx.signal) : [],
    loadHistory(run.uid, { samples }, ctx.signal, (exact) => { if (onExact) onExact(exact); else pendingExact = exact; }),
  ]);
  let table = firstTable;
  let exactLoaded = !firstTable.preview;
  let known = lastOf(table); // the last step the table holds: a live run's new rows come after it
  if (firstTable.preview) status.textContent = 'Showing a quick preview of this long history; the exact lines are on their way…';
  const until = inheritedUntil(segs, run.uid);
  const overlays = { family: [], archived: [] };
  const cards = new Map(); // key -> { card, holder, chart, zoom: {min, max, table} | null }
  let parentName = 'parent';

  // -- the toolbar ---------------------------------------------------------------------------------------------
  // Overlays and zooms are part of the view: in the URL (?family=1&archived=1&zoom={...}).
  const view = readView();
  const zooms = () => { try { const z = JSON.parse(view.zoom || '{}'); return z && typeof z === 'object' ? z : {}; } catch { return {}; } };
  const setZoom = (key, range) => {
    const z = zooms();
    if (range) z[key] = range; else delete z[key];
    view.zoom = Object.keys(z).length ? JSON.stringify(z) : '';
    writeView(view);
  };
  const toggles = [];
  if (run.parent_uid) {
    const box = h('input', { type: 'checkbox', 'data-testid': 'overlay-family', checked: view.family === '1' });
    box.addEventListener('change', async () => {
      view.family = box.checked ? '1' : '';
      writeView(view);
      overlays.family = box.checked ? await familyOverlays(run, samples, ctx) : [];
      redrawAll(true);
    });
    toggles.push(h('label.check.toggle', box, 'Parent & sibling forks'));
  }
  const archivedSegs = rewinds.flatMap((rw) => rw.archived.map((seg) => ({ seg, at: rw.at_step })));
  if (archivedSegs.length) {
    const box = h('input', { type: 'checkbox', 'data-testid': 'overlay-archived', checked: view.archived === '1' });
    box.addEventListener('change', async () => {
      view.archived = box.checked ? '1' : '';
      writeView(view);
      overlays.archived = box.checked ? await archivedOverlays(archivedSegs, samples, ctx) : [];
      redrawAll(true);
    });
    toggles.push(h('label.check.toggle', box, 'Archived (rewound) segments'));
  }
  fill(toolbar, toggles, h('div.grow'), status,
    h('span.muted.small.hint', 'Drag to zoom · double-click to zoom out · hover for values'));
  if ((opts.overlayArchived || view.archived === '1') && archivedSegs.length) {
    toolbar.querySelector('[data-testid=overlay-archived]').checked = true;
    overlays.archived = await archivedOverlays(archivedSegs, samples, ctx);
  }
  if (view.family === '1' && run.parent_uid) overlays.family = await familyOverlays(run, samples, ctx);
  if (run.parent_uid) {
    api.run(run.parent_uid, ctx.signal).then((p) => { parentName = p.name; }, () => {});
  }

  // -- one chart per metric -----------------------------------------------------------------------------------
  function mainPoints(t, key) {
    const by = stepOf(key);
    const p = points(t, key);
    const xs = xFor(t, p.steps, by);
    if (!by) return { xs, steps: p.steps, ys: p.ys };
    const sorted = byX(xs, p.steps.map((s, i) => i));
    return { xs: sorted.xs, steps: sorted.ys.map((i) => p.steps[i]), ys: sorted.ys.map((i) => p.ys[i]) };
  }

  function chartFor(key, t) {
    const by = stepOf(key);
    const c = color(0);
    const main = mainPoints(t, key);
    const split = splitInherited(main.steps, main.xs, main.ys, until);
    const tables = [];
    const series = [];
    if (split.hasInherited) {
      tables.push([main.xs, split.inherited, split.own]);
      series.push({ label: `${key} · inherited`, color: alpha(c, 0.45), width: 1.5, className: 'inherited' });
    } else {
      tables.push([main.xs, split.own]);
    }
    series.push({ label: key, color: c, width: 2 });
    for (const o of [...overlays.family, ...overlays.archived]) {
      let p = points(o.table, key);
      if (o.after !== undefined && o.after !== null) {
        // A sibling's history up to its fork step is the parent's: only what it logged itself is drawn.
        const keep = p.steps.map((st) => st > o.after);
        p = { steps: p.steps.filter((_, i) => keep[i]), ys: p.ys.filter((_, i) => keep[i]) };
      }
      const xs = xFor(o.table, p.steps, by);
      const sorted = byX(xs, p.ys);
      tables.push([sorted.xs, sorted.ys]);
      series.push({ label: o.label, color: o.color, width: o.width ?? 1.3, dash: o.dash });
    }
    const markers = [];
    if (run.parent_uid !== null && run.fork_step !== null) {
      markers.push({ x: by ? xFor(t, [run.fork_step], by)[0] : run.fork_step, label: `fork @ ${run.fork_step}`, kind: 'fork', title: `forked from ${parentName} at _step ${run.fork_step}` });
    }
    for (const rw of rewinds) markers.push({ x: by ? xFor(t, [rw.at_step], by)[0] : rw.at_step, label: `↺ ${rw.at_step}`, kind: 'rewind', title: `rewound at _step ${rw.at_step}` });
    return { data: join(tables), series, markers, by };
  }

  function makeCard(key) {
    const holder = h('div.chart-holder');
    const card = h('section.card.chart-card', { 'data-key': key }, h('div.chart-title', h('span', key), stepOf(key) ? h('span.muted.small', ` vs ${stepOf(key)}`) : null), holder);
    const entry = { card, holder, chart: null, zoom: null };
    cards.set(key, entry);
    return entry;
  }

  function draw(key, entry, rebuild = false) {
    const t = entry.zoom?.table || table;
    const { data, series, markers, by } = chartFor(key, t);
    if (entry.chart && !rebuild) {
      entry.chart.setData(data, true);
      entry.chart.setMarkers(markers);
      return;
    }
    entry.chart?.destroy();
    entry.holder.replaceChildren();
    entry.chart = lineChart(entry.holder, {
      xLabel: by || '_step', series, data, markers, sync: `run-${run.uid}`,
      onZoom: (min, max) => { setZoom(key, [min, max]); zoomTo(key, entry, min, max); },
      onReset: () => { setZoom(key, null); entry.zoom = null; delete entry.card.dataset.zoomed; draw(key, entry); },
    });
    const z = zooms()[key];
    if (!entry.restored && Array.isArray(z) && z.length === 2 && Number.isFinite(z[0]) && Number.isFinite(z[1]) && z[1] > z[0]) {
      entry.restored = true; // a link with a zoom in it: the same range, read at its finer resolution
      entry.chart.zoomTo(z[0], z[1]);
      zoomTo(key, entry, z[0], z[1]);
    }
  }

  async function zoomTo(key, entry, min, max) {
    const by = stepOf(key);
    let minStep = Math.floor(min);
    let maxStep = Math.ceil(max);
    if (by) {
      // The step range holding the x values zoomed to.
      const main = mainPoints(table, key);
      const inside = main.steps.filter((s, i) => main.xs[i] >= min && main.xs[i] <= max);
      if (!inside.length) return;
      minStep = Math.min(...inside);
      maxStep = Math.max(...inside);
    }
    const params = { keys: by ? [key, by] : [key], samples, minStep: Math.max(0, minStep), maxStep };
    const apply = (t) => {
      if (!ctx.alive || !entry.chart?.zoomed) return;
      entry.zoom = { min, max, table: t };
      draw(key, entry);
      entry.card.dataset.zoomed = `${params.minStep}-${params.maxStep}`;
    };
    apply(await loadHistory(run.uid, params, ctx.signal, apply));
  }

  // Charts are made when their card scrolls into view: a run with hundreds of metrics stays quick.
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      seen.unobserve(e.target);
      const key = e.target.dataset.key;
      draw(key, cards.get(key));
    }
  }, { rootMargin: '300px' });
  ctx.signal.addEventListener('abort', () => seen.disconnect());

  function layout() {
    const keys = metricKeys(table);
    if (!keys.length) {
      if (!cards.size) fill(grid, h('p.empty.card', run.state === 'running' ? 'No metrics logged yet; charts appear as the run logs them.' : 'This run logged no metrics.'));
      return;
    }
    const fresh = keys.filter((k) => !cards.has(k));
    if (!fresh.length) return;
    if (!cards.size) grid.replaceChildren();
    for (const key of fresh) {
      const name = section(key) || 'Charts';
      let sec = [...grid.children].find((el) => el.dataset.section === name);
      if (!sec) {
        sec = h('section.chart-section', { 'data-section': name }, h('h2.section-title', name), h('div.chart-grid'));
        grid.append(sec);
      }
      const entry = makeCard(key);
      sec.querySelector('.chart-grid').append(entry.card);
      seen.observe(entry.card);
    }
  }

  function redrawAll(rebuild = false) {
    layout();
    for (const [key, entry] of cards) {
      if (!entry.chart) continue;
      if (entry.zoom && !rebuild) continue;
      draw(key, entry, rebuild);
    }
  }

  layout();
  onExact = (exact) => {
    if (!ctx.alive) return;
    table = exact;
    known = lastOf(table);
    exactLoaded = true;
    status.textContent = '';
    redrawAll();
  };
  if (pendingExact) onExact(pendingExact);

  // A live run: new rows are appended to the table and every chart grows (a zoomed chart keeps its range).
  return {
    async onRun(next) {
      run = next;
      if (next.last_step === null || (known !== null && next.last_step <= known)) return;
      const more = await api.history(run.uid, { minStep: known === null ? 0 : known + 1, limit: 20000 }, ctx.signal);
      if (!ctx.alive || !more.n) return;
      if (table.n + more.n > 3 * samples && exactLoaded) {
        table = await api.history(run.uid, { samples }, ctx.signal); // grown long: downsample again
      } else {
        extend(table, more);
      }
      known = lastOf(table);
      redrawAll();
    },
  };
}

function lastOf(t) {
  return t.steps.length ? t.steps[t.steps.length - 1] : null;
}

/** The parent's history and that of the parent's other forks, each a line on every chart. */
async function familyOverlays(run, samples, ctx) {
  const [parent, siblings] = await Promise.all([
    api.run(run.parent_uid, ctx.signal),
    api.children(run.parent_uid, ctx.signal),
  ]);
  const others = siblings.filter((s) => s.uid !== run.uid).slice(0, MAX_SIBLINGS);
  const tables = await Promise.all([parent, ...others].map((r) => api.history(r.uid, { samples }, ctx.signal)));
  return [parent, ...others].map((r, i) => ({
    label: i === 0 ? `parent: ${r.name}` : `sibling: ${r.name} (fork @ ${r.fork_step})`,
    color: i === 0 ? FAMILY_COLORS[0] : alpha(FAMILY_COLORS[i % FAMILY_COLORS.length], 0.8),
    width: i === 0 ? 1.4 : 1.2,
    dash: i === 0 ? [4, 3] : undefined,
    after: i === 0 ? null : r.fork_step,
    table: tables[i],
  }));
}

/** The rows each rewind cut off, dashed. */
async function archivedOverlays(archived, samples, ctx) {
  const tables = await Promise.all(archived.map(({ seg }) => api.segmentHistory([seg], { samples }, ctx.signal)));
  return archived.map(({ seg, at }, i) => {
    const t = tables[i];
    const last = t.steps.length ? t.steps[t.steps.length - 1] : seg.first_step;
    return { label: `archived: steps ${seg.first_step}–${last} (rewound @ ${at})`, color: alpha(color(i + 1), 0.9), width: 1.4, dash: [6, 4], table: t };
  });
}
