// The project workspace (the default project page): the runs table beside one panel per metric, grouped in
// sections by key prefix, each panel drawing every shown run of the table. Panels can be searched (regex),
// pinned, hidden, reordered (drag), resized and set up one by one; the workspace-wide line settings and the
// layout live in the URL, are kept per user (localStorage) and can be saved for the team (server side).
// Series come from POST /query/series: many runs and keys per request, fetched as panels come into view.

import * as api from '../api.js';
import { copyText, fill, h, toast } from '../dom.js';
import { ema, legendText, linePanelChart, stepMetricOf, xsOf, align } from '../panels/line.js';
import { sweepSection } from '../panels/sweep.js';
import { prefs, runColor, writeView } from '../view.js';

/**
 * Points per run and metric (min and max per bucket) for a panel of `runs` lines: a few lines get two per pixel
 * column, a hundred get fewer each (a panel shows the crowd, not one line's every wiggle; drawing stays quick).
 */
function samplesFor(runs) {
  if (runs <= 10) return 1000;
  if (runs <= 30) return 600;
  if (runs <= 100) return 300;
  return 200;
}
const BATCH_RUNS = 25; // runs per series request
const PARALLEL = 3; // series requests in flight
const LINE_DEFAULTS = { smooth: '0', x: 'default', logx: '', logy: '', outliers: '', ymin: '', ymax: '', max: '100', legend: '', band: 'minmax' };
const LINE_KEYS = Object.keys(LINE_DEFAULTS);

/** Metrics the runs logged, from their summaries (numbers, or a define_metric summary {min: ...}). */
export function metricsOf(runs) {
  const keys = new Set();
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.summary || {})) {
      if (k.startsWith('_')) continue;
      if (typeof v === 'number' || (v && typeof v === 'object' && !Array.isArray(v) && !v._type && Object.values(v).some((x) => typeof x === 'number'))) keys.add(k);
    }
  }
  return [...keys];
}

export const sectionOf = (key) => { const i = key.lastIndexOf('/'); return i > 0 ? key.slice(0, i) : 'Charts'; };

/**
 * Draw the workspace in `body`. table: the runsTable; view: the URL settings (changed in place);
 * who: { entity, project, base }. Returns { update(runs) } for the project's poll.
 */
export function workspaceView(body, table, view, who, ctx) {
  const localKey = `runtree.workspace.${who.base}`;
  let layout = normalize(view.lay ? safeJson(view.lay) : prefs.get(localKey, null));
  let teamLayout = null;
  const cache = new Map(); // uid -> Map(key -> series)
  const inflight = new Set(); // `${uid} ${key}` being fetched
  const wanted = new Set(); // keys of panels in view
  const panels = new Map(); // key -> { card, holder, chart, dirty, visible }
  let runs = [];
  let keys = [];
  let drawQueued = false;

  // -- toolbar -------------------------------------------------------------------------------------------
  const search = h('input.input.panel-search', { type: 'search', placeholder: 'Search panels (regex)', 'aria-label': 'search panels', value: view.ps || '' });
  const smooth = h('input', { type: 'range', min: 0, max: 0.99, step: 0.01, value: view.smooth || '0', 'aria-label': 'smoothing' });
  const smoothOut = h('output.small.mono', smoothLabel(view.smooth));
  const xSel = h('select.select', { 'aria-label': 'x axis' });
  const logx = h('input', { type: 'checkbox', 'aria-label': 'log x', checked: view.logx === '1' });
  const logy = h('input', { type: 'checkbox', 'aria-label': 'log y', checked: view.logy === '1' });
  const outliers = h('select.select', { 'aria-label': 'ignore outliers' },
    h('option', { value: '' }, 'all points'), ['1', '2', '5', '10'].map((p) => h('option', { value: p }, `clip ${p}% outliers`)));
  outliers.value = view.outliers || '';
  const ymin = h('input.input.tiny', { type: 'text', placeholder: 'y min', 'aria-label': 'y min', value: view.ymin || '' });
  const ymax = h('input.input.tiny', { type: 'text', placeholder: 'y max', 'aria-label': 'y max', value: view.ymax || '' });
  const maxRuns = h('input.input.tiny', { type: 'number', min: 1, max: 500, 'aria-label': 'max runs shown', value: view.max || LINE_DEFAULTS.max });
  const legend = h('input.input.legend-tpl', { type: 'text', placeholder: 'legend: ${name} ${config.lr}', 'aria-label': 'legend template', value: view.legend || '' });
  const band = h('select.select', { 'aria-label': 'group band' }, h('option', { value: 'minmax' }, 'min–max band'), h('option', { value: 'std' }, 'std band'));
  band.value = view.band || 'minmax';
  const saveTeam = h('button.btn.small', { type: 'button', title: 'Save this layout and these settings as the project\'s shared workspace', onclick: () => saveForTeam() }, 'Save for team');
  const resetTeam = h('button.btn.small.ghost', { type: 'button', title: 'Load the project\'s shared workspace', onclick: () => loadTeam(true) }, 'Load team layout');
  const status = h('span.muted.small.ws-status', { 'aria-live': 'polite' });
  const toolbar = h('div.toolbar.ws-toolbar',
    search,
    h('label.inline', { title: 'EMA smoothing; the raw line stays faint behind' }, h('span.muted', 'smoothing'), smooth, smoothOut),
    h('label.inline', h('span.muted', 'x'), xSel),
    h('label.check', logx, 'log x'), h('label.check', logy, 'log y'),
    outliers, ymin, ymax,
    h('label.inline', h('span.muted', 'max runs'), maxRuns),
    legend, band,
    h('div.grow'), status, resetTeam, saveTeam);
  const sections = h('div.ws-sections');
  const hiddenBox = h('div.ws-hidden');
  const sweep = sweepSection(table, view, ctx, () => { table.el.dispatchEvent(new Event('brush')); });
  const panelsCol = h('div.ws-panels', sweep.el, sections, hiddenBox);
  fill(body, h('div.workspace', { 'data-testid': 'workspace' }, toolbar, h('div.ws-body', h('aside.ws-table', table.el), panelsCol)));

  const zooms = () => { const z = view.zoom ? safeJson(view.zoom) : null; return z && typeof z === 'object' ? z : {}; };
  const lineSettings = () => Object.fromEntries(LINE_KEYS.map((k) => [k, view[k] ?? LINE_DEFAULTS[k]]));
  const settingsFor = (key) => ({ ...lineSettings(), ...(layout.panel[key] || {}) });
  const save = () => {
    prefs.set(localKey, layout);
    view.lay = isEmpty(layout) ? '' : JSON.stringify(layout);
    writeView(view);
  };
  const onSetting = (name, v) => {
    view[name] = v;
    writeView(view);
    if (name === 'max') fetchShown();
    markAll();
  };
  search.addEventListener('input', () => { view.ps = search.value; writeView(view); layoutPanels(); });
  let settle = 0;
  smooth.addEventListener('input', () => {
    smoothOut.textContent = smoothLabel(smooth.value);
    view.smooth = smooth.value === '0' ? '' : smooth.value;
    writeView(view);
    window.__smoothStart ??= performance.now();
    markAll(); // one redraw per frame however fast the slider moves
    clearTimeout(settle);
    settle = setTimeout(() => fetchSmoothed(), 400);
  });
  xSel.addEventListener('change', () => { onSetting('x', xSel.value === 'default' ? '' : xSel.value); wantAxis(); fetchShown(); });
  logx.addEventListener('change', () => onSetting('logx', logx.checked ? '1' : ''));
  logy.addEventListener('change', () => onSetting('logy', logy.checked ? '1' : ''));
  outliers.addEventListener('change', () => onSetting('outliers', outliers.value));
  band.addEventListener('change', () => onSetting('band', band.value === 'minmax' ? '' : band.value));
  for (const [input, name] of [[ymin, 'ymin'], [ymax, 'ymax'], [maxRuns, 'max'], [legend, 'legend']]) {
    input.addEventListener('change', () => onSetting(name, input.value.trim()));
  }

  // -- panels --------------------------------------------------------------------------------------------------
  // Two watchers: a panel's series are fetched a little before it scrolls into view; it is drawn only in view
  // (a setting changed redraws the panels on screen at once, the others as they come into view).
  const near = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) want(e.target.dataset.key);
  }, { rootMargin: '600px' });
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const p = panels.get(e.target.dataset.key);
      if (!p) continue;
      p.visible = e.isIntersecting;
      if (e.isIntersecting) { want(p.key); if (p.dirty) queueDraw(); }
    }
  });
  ctx.signal.addEventListener('abort', () => { seen.disconnect(); near.disconnect(); });

  function makePanel(key) {
    const holder = h('div.panel-chart');
    const title = h('span.panel-title', key);
    const sub = h('span.muted.small.panel-sub');
    const btn = (label, text, onclick, cls = '') => h(`button.icon-btn${cls}`, { type: 'button', title: text, 'aria-label': `${text} ${key}`, onclick }, label);
    // Dragged by its title bar (a drag across the chart zooms).
    const card = h('section.card.panel', { 'data-key': key },
      h('div.panel-head', { draggable: true, title: 'drag to move the panel' }, title, sub, h('div.grow'),
        btn('★', 'pin', () => toggle('pinned', key), '.pin'),
        btn('⚙', 'panel settings', () => editPanel(key)),
        btn('link', 'copy link to', () => copyLink(key)),
        btn('⤢', 'resize', () => { layout.size[key] = ((layout.size[key] || 1) % 3) + 1; save(); layoutPanels(); p.chart?.resize(); }),
        btn('✕', 'hide', () => toggle('hidden', key))),
      holder);
    card.addEventListener('dragstart', (e) => { e.dataTransfer.setData('text/x-runtree-panel', key); card.classList.add('dragging'); });
    card.addEventListener('dragend', () => card.classList.remove('dragging'));
    card.addEventListener('dragover', (e) => e.preventDefault());
    card.addEventListener('drop', (e) => {
      e.preventDefault();
      const from = e.dataTransfer.getData('text/x-runtree-panel');
      if (!from || from === key) return;
      const order = ordered(keys).filter((k) => k !== from);
      order.splice(order.indexOf(key), 0, from);
      layout.order = order;
      save();
      layoutPanels();
    });
    const p = { key, card, holder, sub, chart: null, dirty: true, visible: false };
    p.chart = linePanelChart(holder, {
      height: 200,
      // A zoom (drag across the panel) is part of the view: in the URL, undone by a double-click.
      onZoom: (min, max) => { view.zoom = JSON.stringify({ ...zooms(), [key]: [min, max] }); writeView(view); card.dataset.zoomed = '1'; },
      onReset: () => { const z = zooms(); delete z[key]; view.zoom = Object.keys(z).length ? JSON.stringify(z) : ''; writeView(view); delete card.dataset.zoomed; p.dirty = true; queueDraw(); },
    });
    panels.set(key, p);
    return p;
  }

  function toggle(list, key) {
    const set = new Set(layout[list]);
    if (set.has(key)) set.delete(key); else set.add(key);
    layout[list] = [...set];
    save();
    layoutPanels();
  }

  function copyLink(key) {
    const url = new URL(location.href);
    url.searchParams.set('panel', key);
    copyText(url.toString()).then(() => toast(`Copied a link to the ${key} panel`), (e) => toast(`Could not copy: ${e.message}`, 'error'));
  }

  function editPanel(key) {
    const p = panels.get(key);
    const own = layout.panel[key] || {};
    const field = (name, input) => h('label.inline', h('span.muted', name), input);
    const smoothIn = h('input.input.tiny', { type: 'number', min: 0, max: 0.99, step: 0.05, value: own.smooth ?? '', placeholder: view.smooth || '0', 'aria-label': 'panel smoothing' });
    const xIn = h('select.select', { 'aria-label': 'panel x axis' }, xOptions(own.x ?? ''));
    xIn.value = own.x ?? '';
    const scale = (label, value) => {
      const el = h('select.select', { 'aria-label': label }, h('option', { value: '' }, 'workspace'), h('option', { value: '1' }, 'log'), h('option', { value: '0' }, 'linear'));
      el.value = value === undefined ? '' : value === '1' ? '1' : '0';
      return el;
    };
    const logIn = scale('panel log y', own.logy);
    const logxIn = scale('panel log x', own.logx);
    const clipIn = h('select.select', { 'aria-label': 'panel outliers' }, h('option', { value: '' }, 'workspace'), h('option', { value: '0' }, 'all points'),
      ['1', '2', '5', '10'].map((v) => h('option', { value: v }, `clip ${v}%`)));
    clipIn.value = own.outliers === undefined ? '' : own.outliers || '0';
    const yminIn = h('input.input.tiny', { type: 'text', value: own.ymin ?? '', placeholder: view.ymin || 'auto', 'aria-label': 'panel y min' });
    const ymaxIn = h('input.input.tiny', { type: 'text', value: own.ymax ?? '', placeholder: view.ymax || 'auto', 'aria-label': 'panel y max' });
    const box = h('div.panel-settings', { role: 'dialog', 'aria-label': `settings of ${key}` },
      field('smoothing', smoothIn), field('x axis', xIn), field('log x', logxIn), field('y scale', logIn), field('outliers', clipIn),
      field('y range', h('span', yminIn, ' – ', ymaxIn)),
      h('button.btn.small', { type: 'button', onclick: () => {
        const next = {};
        if (smoothIn.value !== '') next.smooth = smoothIn.value;
        if (xIn.value) next.x = xIn.value;
        if (logIn.value) next.logy = logIn.value === '1' ? '1' : '';
        if (logxIn.value) next.logx = logxIn.value === '1' ? '1' : '';
        if (clipIn.value) next.outliers = clipIn.value === '0' ? '' : clipIn.value;
        if (yminIn.value.trim()) next.ymin = yminIn.value.trim();
        if (ymaxIn.value.trim()) next.ymax = ymaxIn.value.trim();
        if (Object.keys(next).length) layout.panel[key] = next; else delete layout.panel[key];
        save();
        box.remove();
        if (next.x && !['default', '_step', 'wall', 'relative'].includes(next.x)) want(next.x); else fetchShown();
        p.dirty = true;
        queueDraw();
      } }, 'Apply'),
      h('button.btn.small.ghost', { type: 'button', onclick: () => box.remove() }, 'Close'));
    p.card.querySelector('.panel-settings')?.remove();
    p.card.append(box);
  }

  function xOptions(withDefault) {
    const metrics = keys.filter((k) => !k.includes('/')).sort();
    return [
      withDefault !== undefined ? h('option', { value: '' }, 'workspace setting') : null,
      h('option', { value: 'default', title: '_step, or the step metric define_metric gave the key' }, 'default'), h('option', { value: '_step' }, '_step'),
      h('option', { value: 'wall' }, 'wall time'), h('option', { value: 'relative' }, 'relative time'),
      metrics.map((k) => h('option', { value: k }, k)),
    ];
  }

  const ordered = (list) => orderOf(list, layout);

  function layoutPanels() {
    let re = null;
    try { re = view.ps ? new RegExp(view.ps, 'i') : null; } catch { re = null; }
    search.classList.toggle('invalid', Boolean(view.ps) && !re);
    const hidden = new Set(layout.hidden);
    const pinned = new Set(layout.pinned);
    const list = ordered(keys).filter((k) => !hidden.has(k) && (!re || re.test(k)));
    const groups = new Map();
    if (pinned.size) groups.set('Pinned', []);
    for (const k of list) {
      const name = pinned.has(k) ? 'Pinned' : sectionOf(k);
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(k);
    }
    const names = [...groups.keys()].sort((a, b) => (a === 'Pinned' ? -1 : b === 'Pinned' ? 1 : a === 'Charts' ? -1 : b === 'Charts' ? 1 : a.localeCompare(b)));
    const els = [];
    for (const name of names) {
      const ks = groups.get(name);
      if (!ks.length) continue;
      const open = !layout.closed.includes(name);
      const grid = h('div.panel-grid');
      for (const k of ks) {
        const p = panels.get(k) || makePanel(k);
        p.card.classList.toggle('pinned', pinned.has(k));
        p.card.dataset.size = String(layout.size[k] || 1);
        grid.append(p.card);
        seen.observe(p.card);
        near.observe(p.card);
      }
      els.push(h('section.ws-section', { 'data-section': name },
        h('h2.section-title', h('button.section-toggle', { type: 'button', 'aria-expanded': String(open), onclick: () => toggle('closed', name) }, open ? '▾ ' : '▸ ', name), h('span.muted.small', ` ${ks.length} panel${ks.length === 1 ? '' : 's'}`)),
        open ? grid : null));
    }
    fill(sections, els.length ? els : h('p.empty.card', re ? `No panel matches /${view.ps}/.` : 'These runs logged no metrics yet.'));
    fill(hiddenBox, layout.hidden.length ? [h('span.muted.small', 'Hidden panels: '), layout.hidden.map((k) => h('button.chip', { type: 'button', title: 'show again', onclick: () => toggle('hidden', k) }, k))] : null);
    queueDraw();
    if (view.panel && panels.has(view.panel)) {
      const target = panels.get(view.panel).card;
      target.classList.add('highlight');
      target.scrollIntoView({ block: 'center' });
      view.panel = '';
    }
  }

  // -- data ------------------------------------------------------------------------------------------------------
  const shownRuns = () => table.shown().slice(0, Math.max(1, Number(view.max || LINE_DEFAULTS.max)));
  function axisKeys() {
    const out = new Set();
    const x = view.x;
    if (x && !['default', '_step', 'wall', 'relative'].includes(x)) out.add(x);
    for (const pk of Object.values(layout.panel)) if (pk.x && !['default', '_step', 'wall', 'relative'].includes(pk.x)) out.add(pk.x);
    const defs = defsOf(runs);
    for (const k of wanted) { const s = stepMetricOf(defs, k); if (s) out.add(s); }
    return out;
  }
  const TIME_AXES = new Set(['wall', 'relative']);
  /** Whether some panel's x axis is wall or relative time: then series carry their timestamps. */
  const needTime = () => TIME_AXES.has(view.x) || Object.values(layout.panel).some((p) => TIME_AXES.has(p.x));
  let wantQueued = false;
  function want(key) {
    if (wanted.has(key)) return;
    wanted.add(key);
    // The panels coming into view together are asked for in one request.
    if (!wantQueued) { wantQueued = true; setTimeout(() => { wantQueued = false; fetchShown(); }, 0); }
  }
  function wantAxis() { for (const k of axisKeys()) wanted.add(k); fetchShown(); }

  let fetching = null;
  function fetchShown() {
    if (fetching) { fetching.again = true; return; }
    fetching = { again: false };
    const started = performance.now();
    run().catch((e) => { if (e.name !== 'AbortError') { status.textContent = `Could not load series: ${e.message}`; } })
      .finally(() => {
        const again = fetching.again;
        fetching = null;
        if (again) fetchShown();
        else if (!inflight.size) { status.textContent = ''; window.__wsLoadedMs = performance.now() - started; document.body.dataset.wsLoaded = String(Number(document.body.dataset.wsLoaded || 0) + 1); }
      });
    async function run() {
      for (const k of axisKeys()) wanted.add(k);
      const time = needTime();
      const shown = shownRuns();
      const samples = samplesFor(shown.length);
      const todo = [];
      for (const r of shown) {
        const have = cache.get(r.uid);
        // Missing: never read, read without timestamps when an axis needs them, or read coarser than now wanted.
        const fits = (s) => s && (!time || s.time) && s.samples >= samples;
        const missing = [...wanted].filter((k) => !(have && fits(have.get(k))) && !inflight.has(`${r.uid} ${k}`));
        if (missing.length) todo.push([r.uid, missing]);
      }
      if (!todo.length) return;
      status.textContent = `Loading ${todo.length} run${todo.length === 1 ? '' : 's'}…`;
      // Runs missing the same keys go together, BATCH_RUNS per request, PARALLEL requests at a time.
      const byKeys = new Map();
      for (const [uid, ks] of todo) { const sig = ks.join('\n'); if (!byKeys.has(sig)) byKeys.set(sig, []); byKeys.get(sig).push(uid); }
      const jobs = [];
      for (const [sig, uids] of byKeys) for (let i = 0; i < uids.length; i += BATCH_RUNS) jobs.push([uids.slice(i, i + BATCH_RUNS), sig.split('\n')]);
      let next = 0;
      const worker = async () => {
        while (next < jobs.length && ctx.alive) {
          const [uids, ks] = jobs[next++];
          for (const u of uids) for (const k of ks) inflight.add(`${u} ${k}`);
          try {
            const got = await api.series(uids, ks.slice(0, 32), { samples, time }, ctx.signal);
            for (const [uid, byKey] of Object.entries(got)) {
              if (!cache.has(uid)) cache.set(uid, new Map());
              for (const k of ks) cache.get(uid).set(k, { ...(byKey[k] || empty(time)), samples });
            }
          } finally {
            for (const u of uids) for (const k of ks) inflight.delete(`${u} ${k}`);
          }
          for (const k of ks) { const p = panels.get(k); if (p) p.dirty = true; }
          // Drawn after the first answer (something to look at) and after the last; not at every one between.
          done += 1;
          if (done === jobs.length) { clearTimeout(early); markAll(); } else if (done === 1) early = setTimeout(markAll, 300);
        }
      };
      let done = 0;
      let early = 0; // a first look when the rest takes a while
      await Promise.all(Array.from({ length: PARALLEL }, worker));
    }
  }

  /** Smoothing of runs whose series were downsampled: asked of the server, computed on the full-resolution rows. */
  async function fetchSmoothed() {
    const ws = new Set([Number(view.smooth) || 0, ...Object.values(layout.panel).map((p) => Number(p.smooth) || 0)].filter((w) => w > 0 && w < 1));
    for (const w of ws) {
      // Runs whose series were downsampled, by the resolution they were read at (the smoothed points must match).
      const bySamples = new Map();
      for (const r of shownRuns()) {
        for (const [k, s] of cache.get(r.uid) || []) {
          if (!wanted.has(k) || s.points <= s.values.length || (s.smoothBy && s.smoothBy[w])) continue;
          if (!bySamples.has(s.samples)) bySamples.set(s.samples, { uids: new Set(), keys: new Set() });
          bySamples.get(s.samples).uids.add(r.uid);
          bySamples.get(s.samples).keys.add(k);
        }
      }
      let got = 0;
      for (const [samples, { uids, keys: ks }] of bySamples) {
        const list = [...uids];
        for (let i = 0; i < list.length; i += BATCH_RUNS) {
          const answer = await api.series(list.slice(i, i + BATCH_RUNS), [...ks].slice(0, 32), { samples, smoothing: w }, ctx.signal);
          for (const [uid, byKey] of Object.entries(answer)) {
            for (const [k, s] of Object.entries(byKey)) {
              const mine = cache.get(uid)?.get(k);
              if (mine && s.smooth && s.steps.length === mine.steps.length) { (mine.smoothBy ||= {})[w] = s.smooth; got += 1; }
            }
          }
        }
      }
      if (got) markAll();
    }
  }

  // -- drawing -------------------------------------------------------------------------------------------------
  function markAll(now = false) {
    for (const p of panels.values()) p.dirty = true;
    if (now) drawVisible(); else queueDraw();
  }
  let sliced = false; // draw a few panels per frame (after a table change: typing stays responsive)
  function queueDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => { drawQueued = false; drawVisible(); });
  }
  function drawVisible() {
    const shown = shownRuns();
    const groups = table.groups(shown);
    const defs = defsOf(runs);
    const t0 = performance.now();
    for (const p of panels.values()) {
      if (!p.dirty || !p.visible || !p.card.isConnected) continue;
      if (sliced && performance.now() - t0 > 12) { queueDraw(); return; } // the rest next frame
      p.dirty = false;
      drawPanel(p, shown, groups, defs);
    }
    sliced = false;
    if (window.__smoothStart !== undefined) {
      window.__smoothMs = performance.now() - window.__smoothStart;
      window.__smoothStart = undefined;
    }
  }

  function drawPanel(p, shown, groups, defs) {
    const st = settingsFor(p.key);
    const w = Number(st.smooth) || 0;
    const axis = !st.x || st.x === 'default' ? (stepMetricOf(defs, p.key) || '_step') : st.x;
    const lines = [];
    let loaded = 0;
    for (const r of shown) {
      const s = cache.get(r.uid)?.get(p.key);
      if (!s) continue;
      loaded += 1;
      if (!s.steps.length) continue;
      const ref = ['_step', 'wall', 'relative'].includes(axis) ? null : cache.get(r.uid)?.get(axis);
      const xs = xsOf(s, axis, ref);
      const smooth = w > 0 ? (s.smoothBy?.[w] || ema(s.values, w)) : null;
      lines.push({ uid: r.uid, label: legendText(st.legend, r, table.config(r.uid), table.summary(r.uid)), color: runColor(r.uid), xs, raw: s.values, smooth });
    }
    let groupLines = null;
    let members = [];
    if (groups) {
      const inShown = new Map(lines.map((l) => [l.uid, l]));
      groupLines = groups.map((g) => aggregate(g, g.runs.map((r) => inShown.get(r.uid)).filter(Boolean), st.band)).filter((g) => g.xs.length);
      // A group expanded in the table shows its runs too, faint, behind the mean.
      for (const g of groups) if (table.isOpen(g.label)) members.push(...g.runs.map((r) => inShown.get(r.uid)).filter(Boolean));
    }
    const more = table.shown().length - shown.length; // beyond "max runs": the table's first ones are drawn
    p.sub.textContent = `${groups ? `${groupLines.length} groups · ` : ''}${lines.length} run${lines.length === 1 ? '' : 's'}${more > 0 ? ` (first ${shown.length} of ${shown.length + more})` : ''}${axis !== '_step' ? ` · x: ${axisName(axis)}` : ''}${loaded < shown.length ? ' · loading…' : ''}`;
    p.card.dataset.lines = String(lines.length);
    p.card.dataset.axis = axis;
    if (!lines.length) {
      p.chart.destroy();
      p.holder.querySelector('.uplot')?.remove();
      p.holder.dataset.empty = loaded < shown.length ? 'loading' : 'none';
      return;
    }
    delete p.holder.dataset.empty;
    const zoom = zooms()[p.key] || null;
    p.card.dataset.members = String(members.length);
    if (zoom) p.card.dataset.zoomed = '1'; else delete p.card.dataset.zoomed;
    p.chart.draw({ lines: groups ? members : lines, groups: groupLines, settings: st, xLabel: axisName(axis), xTime: axis === 'wall', xRelative: axis === 'relative', zoom });
  }

  function aggregate(g, members, bandKind) {
    if (!members.length) return { ...g, xs: [] };
    const data = align(members.map((l) => ({ xs: l.xs, ys: [l.smooth || l.raw] })));
    const xs = data[0];
    // Each member's line is read at every shared x inside its own range (linear between its points): runs
    // sampled at different steps still average over all of them, not over whichever has a point there.
    for (let j = 1; j < data.length; j++) fillBetween(xs, data[j]);
    const mean = new Array(xs.length).fill(null);
    const lo = new Array(xs.length).fill(null);
    const hi = new Array(xs.length).fill(null);
    for (let i = 0; i < xs.length; i++) {
      let n = 0; let sum = 0; let sq = 0; let mn = Infinity; let mx = -Infinity;
      for (let j = 1; j < data.length; j++) {
        const v = data[j][i];
        if (v === null) continue;
        n += 1; sum += v; sq += v * v; mn = Math.min(mn, v); mx = Math.max(mx, v);
      }
      if (!n) continue;
      mean[i] = sum / n;
      if (bandKind === 'std') { const sd = Math.sqrt(Math.max(0, sq / n - mean[i] ** 2)); lo[i] = mean[i] - sd; hi[i] = mean[i] + sd; } else { lo[i] = mn; hi[i] = mx; }
    }
    return { label: `${g.label} (${members.length})`, color: g.color, xs, mean, lo, hi };
  }

  // -- team layout -------------------------------------------------------------------------------------------
  async function saveForTeam() {
    const value = { layout, settings: lineSettings() };
    try {
      await api.saveWorkspaceLayout(who.entity, who.project, value);
      teamLayout = value;
      toast('Saved the workspace for everyone on this project');
    } catch (e) { toast(`Could not save: ${e.message}`, 'error'); }
  }
  async function loadTeam(explicit) {
    try {
      teamLayout = await api.workspaceLayout(who.entity, who.project, ctx.signal);
    } catch (e) { if (explicit) toast(`Could not load: ${e.message}`, 'error'); return; }
    if (!teamLayout) { if (explicit) toast('No shared workspace saved for this project yet'); return; }
    layout = normalize(teamLayout.layout);
    for (const k of LINE_KEYS) view[k] = teamLayout.settings?.[k] === LINE_DEFAULTS[k] ? '' : (teamLayout.settings?.[k] ?? '');
    syncInputs();
    save();
    layoutPanels();
    markAll();
    if (explicit) toast('Loaded the shared workspace');
  }
  function syncInputs() {
    smooth.value = view.smooth || '0';
    smoothOut.textContent = smoothLabel(view.smooth);
    xSel.value = view.x || 'default';
    logx.checked = view.logx === '1';
    logy.checked = view.logy === '1';
    outliers.value = view.outliers || '';
    ymin.value = view.ymin || '';
    ymax.value = view.ymax || '';
    maxRuns.value = view.max || LINE_DEFAULTS.max;
    legend.value = view.legend || '';
    band.value = view.band || 'minmax';
  }

  let width = 0;
  const ro = new ResizeObserver(() => {
    if (Math.abs(panelsCol.clientWidth - width) < 8) return;
    width = panelsCol.clientWidth;
    for (const p of panels.values()) p.chart?.resize();
  });
  ro.observe(panelsCol);
  ctx.signal.addEventListener('abort', () => ro.disconnect());

  // A user with no layout of their own (and none in the URL) starts from the team's.
  if (!view.lay && !prefs.get(localKey, null)) loadTeam(false);

  return {
    /** New runs (the project's poll): new metrics become panels; a live run's series are read again. */
    update(next) {
      const before = new Map(runs.map((r) => [r.uid, r.last_step]));
      const sig = (list) => list.map((r) => `${r.uid}:${r.last_step}:${r.state}:${JSON.stringify(r.config)}`).join('\n');
      const same = sig(next) === sig(runs);
      runs = next;
      for (const r of runs) if (before.has(r.uid) && before.get(r.uid) !== r.last_step) cache.delete(r.uid);
      const fresh = metricsOf(runs);
      const changedKeys = fresh.length !== keys.length || fresh.some((k) => !keys.includes(k));
      keys = fresh;
      if (changedKeys) {
        fill(xSel, xOptions());
        xSel.value = view.x || 'default';
        layoutPanels();
      }
      // A poll that only moved heartbeats redraws nothing; new steps of a live run redraw its panels.
      if (same && !changedKeys) return;
      sweep.update(runs, keys);
      fetchShown();
      markAll();
    },
    /** The table's filter, eye, selection or grouping changed. */
    shownChanged() { sliced = true; fetchShown(); markAll(); sweep.redraw(); },
    topMetrics: () => displayOrder(keys, layout).slice(0, 4),
  };
}

/** Keys in the layout's order (moved panels where they were dropped, the others A-Z). */
function orderOf(list, layout) {
  const pos = new Map(layout.order.map((k, i) => [k, i]));
  return [...list].sort((a, b) => (pos.has(a) ? pos.get(a) : 1e9) - (pos.has(b) ? pos.get(b) : 1e9) || a.localeCompare(b));
}

/** The panels as the workspace shows them, top first: pinned, then the Charts section, then sections A-Z. */
export function displayOrder(keys, layout) {
  const hidden = new Set(layout.hidden);
  const pinned = new Set(layout.pinned);
  const rank = (k) => (pinned.has(k) ? 0 : sectionOf(k) === 'Charts' ? 1 : 2);
  return orderOf(keys.filter((k) => !hidden.has(k)), layout)
    .sort((a, b) => rank(a) - rank(b) || (rank(a) === 2 ? sectionOf(a).localeCompare(sectionOf(b)) : 0));
}

/** The top panels' metrics for the runs table's default columns, from this user's layout of the project. */
export function topMetricsOf(runs, base) {
  return displayOrder(metricsOf(runs), normalize(prefs.get(`runtree.workspace.${base}`, null))).slice(0, 4);
}

/** Fill the gaps of `col` (nulls between two values) by linear interpolation over `xs`, in place. */
function fillBetween(xs, col) {
  let prev = -1;
  for (let i = 0; i < col.length; i++) {
    if (col[i] === null) continue;
    if (prev >= 0 && i - prev > 1) {
      const x0 = xs[prev];
      const span = xs[i] - x0 || 1;
      for (let k = prev + 1; k < i; k++) col[k] = col[prev] + ((col[i] - col[prev]) * (xs[k] - x0)) / span;
    }
    prev = i;
  }
}

function empty(time) { return { points: 0, steps: [], values: [], time: time ? [] : undefined }; }
function smoothLabel(v) { return Number(v) > 0 ? Number(v).toFixed(2) : 'off'; }
function axisName(axis) { return axis === 'wall' ? 'wall time' : axis === 'relative' ? 'relative time' : axis; }
function safeJson(text) { try { return JSON.parse(text); } catch { return null; } }
function normalize(l) {
  const o = l && typeof l === 'object' ? l : {};
  const list = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
  return { order: list(o.order), pinned: list(o.pinned), hidden: list(o.hidden), closed: list(o.closed), size: o.size && typeof o.size === 'object' ? o.size : {}, panel: o.panel && typeof o.panel === 'object' ? o.panel : {} };
}
function isEmpty(l) { return !l.order.length && !l.pinned.length && !l.hidden.length && !l.closed.length && !Object.keys(l.size).length && !Object.keys(l.panel).length; }
function defsOf(runs) {
  const defs = {};
  for (const r of runs) for (const [k, d] of Object.entries(r.metric_defs || {})) if (!(k in defs)) defs[k] = d;
  return defs;
}
