// A project: its runs as a table (sort, filter, search, chosen config and summary columns, select to compare)
// and as a fork tree. Both follow the runs live (poll).

import * as api from '../api.js';
import { fill, h, link, stateBadge } from '../dom.js';
import { ago, dateTime, duration, flatten, lastStep, runtime, value } from '../format.js';
import { forkTree } from '../tree.js';
import { comparePanel } from './compare.js';

const STATES = ['running', 'finished', 'failed', 'crashed'];
const POLL_MS = 3000;

export async function projectPage(main, { entity, project, view }, ctx) {
  const base = `/p/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
  document.title = `${project} · runtree`;
  ctx.crumbs(h('span.muted', entity), link(base, project));

  let runs = await api.runs(entity, project, ctx.signal);
  if (!runs.length) {
    const err = new api.ApiError(404, 'NoSuchProject', `There is no project ${entity}/${project} (or no run in it that your key may read).`);
    err.title = 'Project not found';
    throw err;
  }
  const count = h('span.muted');
  const tabs = h('nav.tabs', { role: 'tablist' },
    link(base, 'Runs'), link(`${base}/tree`, 'Fork tree'));
  for (const a of tabs.children) a.classList.toggle('active', a.getAttribute('href') === (view === 'tree' ? `${base}/tree` : base));
  const body = h('div');
  fill(main, h('section.page.wide', h('div.page-head', h('h1', project), h('span.muted', entity), count, h('div.grow'), tabs), body));

  const state = { rewinds: new Map(), rewindEpochs: new Map() };
  const render = view === 'tree' ? treeView(body, state, ctx) : tableView(body, state, ctx, base);
  const setCount = () => { count.textContent = `${runs.length} run${runs.length === 1 ? '' : 's'}`; };
  setCount();
  await loadRewinds(runs, state, ctx);
  render(runs);

  let last = JSON.stringify(runs);
  ctx.poll(async () => {
    const next = await api.runs(entity, project, ctx.signal);
    const sig = JSON.stringify(next);
    if (sig === last) return;
    last = sig;
    runs = next;
    setCount();
    await loadRewinds(runs, state, ctx);
    render(runs);
  }, POLL_MS);
}

/** The rewinds of each rewound run (epoch > 0), with the last stored step of each archived segment. */
async function loadRewinds(runs, state, ctx) {
  const todo = runs.filter((r) => r.epoch > 0 && state.rewindEpochs.get(r.uid) !== r.epoch);
  await Promise.all(todo.map(async (r) => {
    const list = await api.rewinds(r.uid, ctx.signal);
    let index = 0;
    const withLast = await Promise.all(list.map(async (rw) => ({
      at_step: rw.at_step,
      created_at: rw.created_at,
      archived: await Promise.all(rw.archived.map(async (seg) => {
        const i = index++;
        const last = seg.last_step ?? (await api.lastRow([seg], ctx.signal))?.[0] ?? null;
        return { first: seg.first_step, last, index: i, epoch: seg.epoch };
      })),
    })));
    state.rewinds.set(r.uid, withLast);
    state.rewindEpochs.set(r.uid, r.epoch);
  }));
}

// -- the fork tree -------------------------------------------------------------------------------
function treeView(body, state, ctx) {
  const collapsed = new Set();
  const box = h('div.tree-box');
  const legend = h('div.legend-row',
    h('span.key-bar'), ' own history ', h('span.key-inherited'), ' inherited from the parent ',
    h('span.key-archived'), ' archived by a rewind (click to open) ', h('span.key-fork'), ' fork at a step');
  fill(body, h('div.card', { 'data-testid': 'fork-tree' }, legend, box));
  let runs = [];
  let outside = new Map();
  const draw = () => {
    fill(box, forkTree(runs, { width: box.clientWidth || 900, collapsed, rewinds: state.rewinds, outside, onToggle: (uid) => {
      if (collapsed.has(uid)) collapsed.delete(uid); else collapsed.add(uid);
      draw();
    } }));
  };
  let width = 0;
  const ro = new ResizeObserver(() => {
    if (Math.abs(box.clientWidth - width) > 4 && runs.length) { width = box.clientWidth; draw(); }
  });
  ro.observe(box);
  ctx.signal.addEventListener('abort', () => ro.disconnect());
  return (next) => {
    runs = next;
    outside = parentsOutside(runs);
    draw();
  };
}

/** 'other-project/abc123' labels for parents that are not in this project (the uid when it cannot be read). */
function parentsOutside(runs) {
  const uids = new Set(runs.map((r) => r.uid));
  const out = new Map();
  for (const r of runs) if (r.parent_uid && !uids.has(r.parent_uid)) out.set(r.uid, r.parent_uid.slice(0, 8));
  return out;
}

// -- the runs table ---------------------------------------------------------------------------------
function tableView(body, state, ctx, base) {
  const prefsKey = `runtree.columns.${base}`;
  const sel = new Set();
  const sort = { key: 'created_at', dir: -1 };
  let runs = [];
  let chosen = null; // the config/summary columns shown; null until the first runs pick defaults

  const search = h('input.input.search', { type: 'search', placeholder: 'Search name or id', 'aria-label': 'search runs' });
  const stateSel = h('select.select', { 'aria-label': 'filter by state' }, h('option', { value: '' }, 'Any state'), STATES.map((s) => h('option', { value: s }, s)));
  const tagSel = h('select.select', { 'aria-label': 'filter by tag' });
  const cfgKey = h('select.select', { 'aria-label': 'config key to filter on' });
  const cfgVal = h('input.input.narrow', { type: 'text', placeholder: 'value', 'aria-label': 'config value' });
  const columnsMenu = h('details.menu.columns', h('summary.btn', 'Columns'), h('div.menu-panel'));
  const compare = comparePanel(ctx);
  const thead = h('thead');
  const tbody = h('tbody');
  const shown = h('span.muted.small');
  fill(body,
    h('div.toolbar', search, stateSel, tagSel, h('span.filter', cfgKey, h('span.muted', '='), cfgVal), h('div.grow'), shown, columnsMenu),
    compare.el,
    h('div.card.flush.scroll-x', h('table.table.runs', thead, tbody)));
  compare.update([]);
  for (const el of [search, cfgVal]) el.addEventListener('input', () => drawBody());
  for (const el of [stateSel, tagSel, cfgKey]) el.addEventListener('change', () => drawBody());

  const configOf = new Map();
  const summaryOf = new Map();
  const cell = (run, col) => {
    if (col.startsWith('config:')) return configOf.get(run.uid)?.[col.slice(7)];
    if (col.startsWith('summary:')) return summaryOf.get(run.uid)?.[col.slice(8)];
    return undefined;
  };
  const sortValue = (run, key) => {
    switch (key) {
      case 'runtime': return runtime(run);
      case 'last_step': return lastStep(run);
      case 'parent': return run.parent_uid ? nameOf(run.parent_uid) : null;
      default: return key.includes(':') ? cell(run, key) : run[key];
    }
  };
  const byUid = new Map();
  const nameOf = (uid) => byUid.get(uid)?.id ?? uid.slice(0, 8);

  function defaults() {
    try {
      const saved = JSON.parse(localStorage.getItem(prefsKey) || 'null');
      if (Array.isArray(saved)) return saved;
    } catch { /* no saved choice */ }
    const cfgKeys = unionKeys(runs.map((r) => configOf.get(r.uid)));
    const varying = cfgKeys.filter((k) => new Set(runs.map((r) => JSON.stringify(configOf.get(r.uid)?.[k]))).size > 1);
    const sumKeys = unionKeys(runs.map((r) => summaryOf.get(r.uid))).filter((k) => !k.startsWith('_'));
    return [...varying.slice(0, 4).map((k) => `config:${k}`), ...sumKeys.slice(0, 5).map((k) => `summary:${k}`)];
  }

  function drawColumnsMenu() {
    const cfgKeys = unionKeys(runs.map((r) => configOf.get(r.uid)));
    const sumKeys = unionKeys(runs.map((r) => summaryOf.get(r.uid))).filter((k) => !k.startsWith('_'));
    const box = (col, label) => h('label.check', h('input', { type: 'checkbox', checked: chosen.includes(col), onchange: (e) => {
      chosen = e.target.checked ? [...chosen, col] : chosen.filter((c) => c !== col);
      localStorage.setItem(prefsKey, JSON.stringify(chosen));
      drawHead();
      drawBody();
    } }), label);
    fill(columnsMenu.querySelector('.menu-panel'),
      h('div.menu-title', 'Config'), cfgKeys.map((k) => box(`config:${k}`, k)),
      h('div.menu-title', 'Summary'), sumKeys.map((k) => box(`summary:${k}`, k)));
  }

  function drawFilters() {
    const tags = [...new Set(runs.flatMap((r) => r.tags))].sort();
    const keepTag = tagSel.value;
    fill(tagSel, h('option', { value: '' }, 'Any tag'), tags.map((t) => h('option', { value: t }, t)));
    tagSel.value = tags.includes(keepTag) ? keepTag : '';
    tagSel.hidden = !tags.length;
    const keys = unionKeys(runs.map((r) => configOf.get(r.uid)));
    const keepKey = cfgKey.value;
    fill(cfgKey, h('option', { value: '' }, 'Config…'), keys.map((k) => h('option', { value: k }, k)));
    cfgKey.value = keys.includes(keepKey) ? keepKey : '';
  }

  const FIXED = [
    ['name', 'Name'], ['id', 'ID'], ['state', 'State'], ['parent', 'Parent'], ['fork_step', 'Fork step'],
    ['created_at', 'Created'], ['runtime', 'Runtime'], ['last_step', 'Last step'], ['tags', 'Tags'],
  ];

  function drawHead() {
    const th = (key, label, cls = '') => {
      const active = sort.key === key;
      return h(`th.sortable${cls}`, { 'aria-sort': active ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none', onclick: () => {
        if (sort.key === key) sort.dir = -sort.dir; else { sort.key = key; sort.dir = 1; }
        drawHead();
        drawBody();
      } }, label, h('span.arrow', active ? (sort.dir > 0 ? ' ▲' : ' ▼') : ''));
    };
    const all = h('input', { type: 'checkbox', 'aria-label': 'select all shown runs', onchange: (e) => {
      for (const r of visible()) if (e.target.checked) sel.add(r.uid); else sel.delete(r.uid);
      drawBody();
      compare.update(runs.filter((r) => sel.has(r.uid)));
    } });
    fill(thead, h('tr', h('th.pick', all),
      FIXED.map(([k, label]) => (k === 'tags' ? h('th', label) : th(k, label, ['fork_step', 'last_step', 'runtime'].includes(k) ? '.num' : ''))),
      chosen.map((c) => th(c, h('span', h('span.col-kind', c.startsWith('config:') ? 'config ' : 'summary '), c.split(':').slice(1).join(':')), '.num'))));
  }

  function visible() {
    const q = search.value.trim().toLowerCase();
    const st = stateSel.value;
    const tag = tagSel.value;
    const ck = cfgKey.value;
    const cv = cfgVal.value.trim();
    const out = runs.filter((r) => (!q || r.name.toLowerCase().includes(q) || r.id.toLowerCase().includes(q) || r.uid.toLowerCase().startsWith(q))
      && (!st || r.state === st)
      && (!tag || r.tags.includes(tag))
      && (!ck || !cv || matches(configOf.get(r.uid)?.[ck], cv)));
    const dir = sort.dir;
    return out.sort((a, b) => compareValues(sortValue(a, sort.key), sortValue(b, sort.key)) * dir);
  }

  function drawBody() {
    const rows = visible();
    shown.textContent = rows.length === runs.length ? '' : `${rows.length} of ${runs.length} shown`;
    if (!rows.length) {
      fill(tbody, h('tr', h('td.empty', { colSpan: FIXED.length + 1 + chosen.length }, 'No run matches these filters.')));
      return;
    }
    fill(tbody, rows.map((r) => {
      const href = `/r/${encodeURIComponent(r.uid)}`;
      const parent = r.parent_uid ? (byUid.has(r.parent_uid) ? link(`/r/${encodeURIComponent(r.parent_uid)}`, nameOf(r.parent_uid)) : link(`/r/${encodeURIComponent(r.parent_uid)}`, h('span.muted', 'other project'))) : h('span.muted', '—');
      return h('tr', { 'data-uid': r.uid, class: sel.has(r.uid) ? 'selected' : '' },
        h('td.pick', h('input', { type: 'checkbox', checked: sel.has(r.uid), 'aria-label': `select ${r.name}`, onchange: (e) => {
          if (e.target.checked) sel.add(r.uid); else sel.delete(r.uid);
          e.target.closest('tr').classList.toggle('selected', e.target.checked);
          compare.update(runs.filter((x) => sel.has(x.uid)));
        } })),
        h('td.name', link(href, r.name), r.epoch > 0 ? h('span.badge.rewound', { title: `rewound ${r.epoch}×` }, '↺') : null),
        h('td.mono', r.id),
        h('td', stateBadge(r.state)),
        h('td', parent),
        h('td.num', r.fork_step ?? '—'),
        h('td', { title: dateTime(r.created_at) }, ago(r.created_at)),
        h('td.num', duration(runtime(r))),
        h('td.num', lastStep(r) ?? '—'),
        h('td', r.tags.map((t) => h('span.tag', t))),
        chosen.map((c) => h('td.num', value(cell(r, c)))));
    }));
  }

  return (next) => {
    runs = next;
    byUid.clear();
    for (const r of runs) {
      byUid.set(r.uid, r);
      configOf.set(r.uid, flatten(r.config));
      summaryOf.set(r.uid, flatten(r.summary));
    }
    for (const uid of [...sel]) if (!byUid.has(uid)) sel.delete(uid);
    if (chosen === null) chosen = defaults();
    drawFilters();
    drawColumnsMenu();
    drawHead();
    drawBody();
  };
}

function unionKeys(objs) {
  const keys = new Set();
  for (const o of objs) for (const k of Object.keys(o || {})) keys.add(k);
  return [...keys].sort();
}

function matches(v, text) {
  if (v === undefined) return false;
  if (typeof v === 'number') return Number(text) === v;
  return String(typeof v === 'string' ? v : JSON.stringify(v)) === text;
}

function compareValues(a, b) {
  const na = a === null || a === undefined;
  const nb = b === null || b === undefined;
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}
