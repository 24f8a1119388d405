// The runs table of a project: search, filter expressions, sort (empty values last), chosen columns that can be
// resized and reordered, group-by rows, a stable colour per run, an eye to hide a run from the panels and a
// selection. Its settings live in `view` (the URL); widths and order are also kept per user (localStorage).

import { fill, h, link, stateBadge } from './dom.js';
import { ago, dateTime, duration, flatten, lastStep, runtime, value } from './format.js';
import { parseFilter, sortRuns } from './filter.js';
import { prefs, runColor } from './view.js';

const PAGE = 100; // rows drawn at first; "show more" adds another page (a 1,000-run table stays quick)
const FIXED = [
  ['state', 'State'], ['id', 'ID'], ['group', 'Group'], ['job_type', 'Job type'], ['parent', 'Parent'], ['fork_step', 'Fork step'],
  ['created_at', 'Created'], ['runtime', 'Runtime'], ['last_step', 'Last step'], ['tags', 'Tags'],
];
const DEFAULT_FIXED = ['state', 'parent', 'fork_step', 'last_step'];

/** How much a key's values vary across runs: the entropy of its value counts (0 when all are the same). */
function spread(values) {
  const counts = new Map();
  for (const v of values) { const k = JSON.stringify(v ?? null); counts.set(k, (counts.get(k) || 0) + 1); }
  if (counts.size < 2) return 0;
  let e = 0;
  for (const c of counts.values()) { const p = c / values.length; e -= p * Math.log(p); }
  return e;
}

/**
 * A runs table. opts: { base (prefs key), view (the URL's settings, changed in place), onChange(what),
 * topMetrics() (the workspace's first panels, for default summary columns), compact }.
 */
export function runsTable(opts) {
  const { view } = opts;
  const local = `runtree.table.${opts.base}`;
  const saved = prefs.get(local, {});
  const widths = saved.widths || {};
  let runs = [];
  const byUid = new Map();
  const configOf = new Map();
  const summaryOf = new Map();
  const sel = new Set((view.sel || '').split(',').filter(Boolean));
  const hidden = new Set((view.hide || '').split(',').filter(Boolean));
  const openGroups = new Set();
  const brushes = []; // predicates from the sweep panels: { label, test(run) }
  let limit = PAGE;
  let filter = { test: () => true, error: null };
  let order = null; // the visible runs, filtered and sorted

  const search = h('input.input.search', { type: 'search', placeholder: 'Search name or id (regex)', 'aria-label': 'search runs', value: view.q || '' });
  const filterBox = h('input.input.filter-expr', { type: 'text', placeholder: 'Filter: lr > 1e-3 and optimizer in (adam, lion)', 'aria-label': 'filter runs', value: view.f || '' });
  const filterErr = h('span.error.small.filter-error');
  const groupSel = h('select.select', { 'aria-label': 'group runs by' });
  const groupChips = h('span.group-chips'); // a second key refines the groups: optimizer, then batch size
  const onlySel = h('label.check', h('input', { type: 'checkbox', 'aria-label': 'show only selected', checked: view.only === '1', onchange: (e) => { view.only = e.target.checked ? '1' : ''; changed('shown'); } }), 'Only selected');
  const columnsMenu = h('details.menu.columns', h('summary.btn', 'Columns'), h('div.menu-panel'));
  const brushBox = h('span.brushes');
  const count = h('span.muted.small.shown-count');
  const thead = h('thead');
  const tbody = h('tbody');
  const more = h('div.more');
  const el = h('div.runs-table',
    h('div.toolbar', search, filterBox, h('label.inline', h('span.muted', 'group'), groupSel), groupChips, onlySel, h('div.grow'), count, columnsMenu),
    h('div.filter-line', filterErr, brushBox),
    h('div.card.flush.table-scroll', h('table.table.runs', thead, tbody)), more);

  const lookup = (run, kind, key) => (kind === 'summary' ? summaryOf : configOf).get(run.uid)?.[key];
  const where = (key) => (runs.some((r) => configOf.get(r.uid)?.[key] !== undefined) ? 'config' : 'summary');
  const setFilter = () => {
    filter = parseFilter(filterBox.value, where);
    filterErr.textContent = filter.error || '';
    filterErr.parentElement.hidden = !brushes.length && !filter.error;
    filterBox.classList.toggle('invalid', Boolean(filter.error));
  };
  let timer = 0;
  search.addEventListener('input', () => { view.q = search.value; changed('filter'); });
  filterBox.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { view.f = filterBox.value; setFilter(); changed('filter'); }, 120);
  });
  groupSel.addEventListener('change', () => {
    const v = groupSel.value;
    const keys = groupKeys().filter((k) => k !== 'settings');
    // 'none' clears; 'setting' stands alone; any other key is added to those already chosen.
    view.rgroup = !v ? '' : v === 'settings' ? 'settings' : [...keys.filter((k) => k !== v), v].join(',');
    drawGroupChips();
    changed('group');
  });
  function drawGroupChips() {
    const keys = groupKeys();
    fill(groupChips, keys.length > 1 ? keys.map((k) => h('span.chip', k.replace(/^config:/, ''), h('button.chip-x', { type: 'button', 'aria-label': `stop grouping by ${k.replace(/^config:/, '')}`, onclick: () => {
      view.rgroup = groupKeys().filter((x) => x !== k).join(',');
      groupSel.value = groupKeys().at(-1) || '';
      drawGroupChips();
      changed('group');
    } }, '×'))) : null);
  }

  function changed(what) {
    order = null;
    limit = PAGE;
    view.sel = [...sel].join(',');
    view.hide = [...hidden].join(',');
    if (what === 'filter' || what === 'shown') drawBody(); else draw(); // a keystroke redraws the rows only
    opts.onChange?.(what);
  }

  // The URL's columns, else the ones this user last arranged for the project, else the defaults.
  let defaultCols = null; // worked out once per set of runs (it weighs every config key's spread)
  const columns = () => (view.cols ? view.cols.split(',').filter(Boolean) : Array.isArray(saved.cols) && saved.cols.length ? saved.cols : (defaultCols ??= defaults()));
  function defaults() {
    const cfgKeys = unionKeys(runs.map((r) => configOf.get(r.uid)));
    const ranked = cfgKeys.map((k) => [k, spread(runs.map((r) => configOf.get(r.uid)?.[k]))]).filter(([, s]) => s > 0)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k);
    const metrics = (opts.topMetrics?.() || []).filter((k) => runs.some((r) => summaryOf.get(r.uid)?.[k] !== undefined));
    return [...(opts.compact ? ['state'] : DEFAULT_FIXED), ...ranked.slice(0, 5).map((k) => `config:${k}`), ...metrics.slice(0, 4).map((k) => `summary:${k}`)];
  }
  const setColumns = (cols) => {
    view.cols = cols.join(',');
    saved.cols = view.cols ? cols : null;
    prefs.set(local, { ...prefs.get(local, {}), cols: saved.cols });
    drawHead(); drawBody(); drawColumnsMenu(); opts.onChange?.('columns');
  };

  const cell = (run, col) => {
    if (col.startsWith('config:')) return configOf.get(run.uid)?.[col.slice(7)];
    if (col.startsWith('summary:')) return summaryOf.get(run.uid)?.[col.slice(8)];
    switch (col) {
      case 'runtime': return runtime(run);
      case 'last_step': return lastStep(run);
      case 'parent': return run.parent_uid ? (byUid.get(run.parent_uid)?.name ?? run.parent_uid.slice(0, 8)) : null;
      case 'tags': return run.tags.length ? run.tags.join(', ') : null;
      default: return run[col];
    }
  };
  const groupKeys = () => (view.rgroup ? view.rgroup.split(',').filter(Boolean) : []);
  /** The value a run is grouped by (tags: its first tag). */
  const groupValue = (run, key) => {
    if (key === 'tags') return run.tags[0] ?? null;
    if (key.startsWith('config:')) return configOf.get(run.uid)?.[key.slice(7)];
    return run[key];
  };

  function visible() {
    if (order) return order;
    let re = null;
    const q = (view.q || '').trim();
    if (q) { try { re = new RegExp(q, 'i'); } catch { re = null; } }
    const ql = q.toLowerCase();
    const out = runs.filter((r) => (!q || (re ? re.test(r.name) || re.test(r.id) : r.name.toLowerCase().includes(ql) || r.id.includes(ql)) || r.uid.startsWith(ql))
      && filter.test(r, lookup) && brushes.every((b) => b.test(r)));
    const [key, dir] = sortOf();
    order = sortRuns(out, (r) => cell(r, key), dir);
    return order;
  }
  function sortOf() {
    const s = view.sort || 'created_at:-1';
    const i = s.lastIndexOf(':');
    return [s.slice(0, i), Number(s.slice(i + 1)) || 1];
  }

  function drawColumnsMenu() {
    const chosen = columns();
    const cfgKeys = unionKeys(runs.map((r) => configOf.get(r.uid)));
    const sumKeys = unionKeys(runs.map((r) => summaryOf.get(r.uid))).filter((k) => !k.startsWith('_'));
    const box = (col, label) => h('label.check', h('input', { type: 'checkbox', checked: chosen.includes(col), onchange: (e) => {
      const now = columns();
      setColumns(e.target.checked ? [...now, col] : now.filter((c) => c !== col));
    } }), label);
    fill(columnsMenu.querySelector('.menu-panel'),
      h('div.menu-title', 'Run'), FIXED.map(([k, label]) => box(k, label)),
      h('div.menu-title', 'Config'), cfgKeys.map((k) => box(`config:${k}`, k)),
      h('div.menu-title', 'Summary'), sumKeys.map((k) => box(`summary:${k}`, k)),
      h('button.btn.small', { type: 'button', onclick: () => { setColumns([]); view.cols = ''; defaultCols = null; drawHead(); drawBody(); drawColumnsMenu(); } }, 'Reset to defaults'));
    const keep = groupKeys().at(-1) || '';
    fill(groupSel, h('option', { value: '' }, 'none'), h('option', { value: 'settings', title: 'every config key that varies, except seeds: the seeds of one setting become one group' }, 'setting (all but seed)'),
      h('option', { value: 'group' }, 'group'), h('option', { value: 'job_type' }, 'job_type'),
      h('option', { value: 'tags' }, 'tag'), cfgKeys.map((k) => h('option', { value: `config:${k}` }, k)));
    groupSel.value = keep;
    drawGroupChips();
  }

  const label = (col) => {
    const fixed = FIXED.find(([k]) => k === col);
    if (fixed) return fixed[1];
    const [kind, ...rest] = col.split(':');
    return h('span', h('span.col-kind', kind === 'config' ? 'c ' : 's '), rest.join(':'));
  };

  function drawHead() {
    const [sortKey, dir] = sortOf();
    const th = (col, text, cls) => {
      const active = sortKey === col;
      const handle = h('span.col-resize', { title: 'drag to resize', onmousedown: (e) => resizeStart(e, col), onclick: (e) => e.stopPropagation() });
      const cellEl = h(`th.sortable${cls}`, {
        'data-col': col, draggable: col !== 'name', style: widths[col] ? { width: `${widths[col]}px`, minWidth: `${widths[col]}px`, maxWidth: `${widths[col]}px` } : undefined,
        'aria-sort': active ? (dir > 0 ? 'ascending' : 'descending') : 'none',
        onclick: () => { view.sort = `${col}:${active ? -dir : (col === 'name' ? 1 : -1)}`; changed('sort'); drawHead(); },
        ondragstart: (e) => { e.dataTransfer.setData('text/x-runtree-col', col); },
        ondragover: (e) => { if (col !== 'name') e.preventDefault(); },
        ondrop: (e) => {
          e.preventDefault();
          const from = e.dataTransfer.getData('text/x-runtree-col');
          if (!from || from === col) return;
          const cols = columns().filter((c) => c !== from);
          cols.splice(cols.indexOf(col), 0, from);
          setColumns(cols);
        },
      }, h('span.th-text', text), h('span.arrow', active ? (dir > 0 ? ' ▲' : ' ▼') : ''), col !== 'name' ? handle : null);
      return cellEl;
    };
    const all = h('input', { type: 'checkbox', 'aria-label': 'select all shown runs', onchange: (e) => {
      for (const r of visible()) if (e.target.checked) sel.add(r.uid); else sel.delete(r.uid);
      changed('selection');
    } });
    fill(thead, h('tr', th('name', h('span', all, ' Name'), '.name.sticky'),
      columns().map((c) => th(c, label(c), ['fork_step', 'last_step', 'runtime'].includes(c) || c.includes(':') ? '.num' : ''))));
  }

  function resizeStart(e, col) {
    e.preventDefault();
    const th = e.target.closest('th');
    const x0 = e.clientX;
    const w0 = th.getBoundingClientRect().width;
    const move = (ev) => {
      const w = Math.max(48, Math.round(w0 + ev.clientX - x0));
      widths[col] = w;
      Object.assign(th.style, { width: `${w}px`, minWidth: `${w}px`, maxWidth: `${w}px` });
    };
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
      prefs.set(local, { ...prefs.get(local, {}), widths });
      drawBody();
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }

  function runRow(r, indent = false) {
    const href = `/r/${encodeURIComponent(r.uid)}`;
    const shown = !hidden.has(r.uid);
    const eye = h('button.eye', { type: 'button', 'aria-pressed': String(shown), 'aria-label': `${shown ? 'hide' : 'show'} ${r.name} in the panels`, title: shown ? 'Shown in the panels: click to hide' : 'Hidden from the panels: click to show', onclick: () => {
      if (hidden.has(r.uid)) hidden.delete(r.uid); else hidden.add(r.uid);
      changed('shown');
    } }, shown ? '◉' : '○');
    const cells = columns().map((c) => {
      const v = cell(r, c);
      const style = widths[c] ? { maxWidth: `${widths[c]}px` } : undefined;
      const at = { 'data-col': c, style };
      switch (c) {
        case 'state': return h('td', at, stateBadge(r.state));
        case 'id': return h('td.mono', at, r.id);
        case 'parent': return h('td', at, r.parent_uid ? link(`/r/${encodeURIComponent(r.parent_uid)}`, v) : h('span.muted', '—'));
        case 'created_at': return h('td', { ...at, title: dateTime(r.created_at) }, ago(r.created_at));
        case 'runtime': return h('td.num', at, duration(v));
        case 'tags': return h('td', at, r.tags.map((t) => h('span.tag', t)));
        default: return h(`td${typeof v === 'number' ? '.num' : ''}`, { ...at, title: typeof v === 'string' ? v : undefined }, value(v));
      }
    });
    return h('tr', { 'data-uid': r.uid, class: [sel.has(r.uid) ? 'selected' : '', shown ? '' : 'hidden-run'].join(' ') },
      h('td.name.sticky', { style: widths.name ? { maxWidth: `${widths.name}px` } : undefined },
        h('input', { type: 'checkbox', checked: sel.has(r.uid), 'aria-label': `select ${r.name}`, onchange: (e) => {
          if (e.target.checked) sel.add(r.uid); else sel.delete(r.uid);
          changed('selection');
        } }),
        eye,
        h('span.swatch', { style: { background: runColor(r.uid) } }),
        indent ? h('span.indent') : null,
        h('a', { href, 'data-link': true, title: `${r.name} (${r.id})` }, r.name),
        r.epoch > 0 ? h('span.badge.rewound', { title: `rewound ${r.epoch}×` }, '↺') : null),
      cells);
  }

  function drawBody() {
    const rows = visible();
    count.textContent = rows.length === runs.length ? `${runs.length} runs` : `${rows.length} of ${runs.length} runs`;
    brushBox.parentElement.hidden = !brushes.length && !filter.error;
    fill(brushBox, brushes.map((b) => h('span.chip', b.label, h('button.chip-x', { type: 'button', 'aria-label': `remove ${b.label}`, onclick: () => { b.remove(); } }, '×'))));
    const ncol = columns().length + 1;
    if (!rows.length) {
      fill(tbody, h('tr', h('td.empty', { colSpan: ncol }, 'No run matches these filters.')));
      fill(more);
      return;
    }
    const keys = groupKeys();
    if (keys.length) {
      const groups = groupsOf(rows);
      const out = [];
      for (const g of groups) {
        const open = openGroups.has(g.label);
        out.push(h('tr.group-row', { 'data-group': g.label },
          h('td.name.sticky', { colSpan: 1 }, h('button.group-toggle', { type: 'button', 'aria-expanded': String(open), 'aria-label': `${open ? 'collapse' : 'expand'} group ${g.label}`, onclick: () => {
            if (openGroups.has(g.label)) openGroups.delete(g.label); else openGroups.add(g.label);
            drawBody();
            opts.onChange?.('group-open');
          } }, open ? '▾' : '▸'), h('span.swatch', { style: { background: g.color } }), h('strong', g.label), h('span.muted', ` ${g.runs.length} run${g.runs.length === 1 ? '' : 's'}`)),
          columns().map((c) => {
            const nums = g.runs.map((r) => cell(r, c)).filter((v) => typeof v === 'number');
            if (c.startsWith('summary:') && nums.length) return h('td.num', { title: 'mean of the group' }, value(nums.reduce((a, b) => a + b, 0) / nums.length));
            const vals = new Set(g.runs.map((r) => JSON.stringify(cell(r, c) ?? null)));
            return h('td.muted', vals.size === 1 ? value(cell(g.runs[0], c)) : `${vals.size} values`);
          })));
        if (open) out.push(...g.runs.map((r) => runRow(r, true)));
      }
      fill(tbody, out);
      fill(more);
      return;
    }
    fill(tbody, rows.slice(0, limit).map((r) => runRow(r)));
    fill(more, rows.length > limit ? h('button.btn.small', { type: 'button', onclick: () => { limit += PAGE; drawBody(); } }, `Show ${Math.min(PAGE, rows.length - limit)} more (${rows.length - limit} not drawn)`) : null);
  }

  /** Visible runs by the group-by key: [{ label, runs, color }], in the table's order of first appearance. */
  function groupsOf(rows = visible()) {
    let keys = groupKeys();
    if (keys[0] === 'settings') {
      const cfgKeys = unionKeys(runs.map((r) => configOf.get(r.uid)));
      keys = cfgKeys.filter((k) => !/(^|[._])seed$/i.test(k) && spread(runs.map((r) => configOf.get(r.uid)?.[k])) > 0).map((k) => `config:${k}`);
    }
    const map = new Map();
    for (const r of rows) {
      const label = keys.map((k) => `${k.replace(/^config:/, '')}=${value(groupValue(r, k))}`).join(' ');
      if (!map.has(label)) map.set(label, { label, runs: [], color: runColor(label) });
      map.get(label).runs.push(r);
    }
    return [...map.values()];
  }

  function draw() {
    drawHead();
    drawBody();
  }

  setFilter();
  const self = {
    el,
    setRuns(next) {
      runs = next;
      byUid.clear();
      for (const r of runs) {
        byUid.set(r.uid, r);
        configOf.set(r.uid, flatten(r.config));
        summaryOf.set(r.uid, flatten(r.summary));
      }
      for (const uid of [...sel]) if (!byUid.has(uid)) sel.delete(uid);
      defaultCols = null;
      setFilter();
      order = null;
      drawColumnsMenu();
      draw();
    },
    redrawColumns() { if (!view.cols) { defaultCols = null; drawHead(); drawBody(); } },
    /** Runs the table shows (filtered, sorted). */
    visible,
    /** Runs the panels draw: visible, not hidden by the eye, and only the selected ones when asked. */
    shown() { return visible().filter((r) => !hidden.has(r.uid) && (view.only !== '1' || sel.has(r.uid))); },
    groups: (rows) => (groupKeys().length ? groupsOf(rows) : null),
    /** Whether a group's rows are expanded in the table (the panels then draw its runs too). */
    isOpen: (label) => openGroups.has(label),
    selected: () => runs.filter((r) => sel.has(r.uid)),
    config: (uid) => configOf.get(uid) || {},
    summary: (uid) => summaryOf.get(uid) || {},
    get runs() { return runs; },
    /** A predicate from a sweep panel (a brushed axis); `remove` is called when its chip is closed. */
    setBrush(id, label, test) {
      const i = brushes.findIndex((b) => b.id === id);
      if (i >= 0) brushes.splice(i, 1);
      if (test) brushes.push({ id, label, test, remove: () => { self.setBrush(id); self.onBrushRemoved?.(id); } });
      changed('filter');
    },
    /** Called with a brush's id when the user closes its chip (the sweep panel forgets it). */
    onBrushRemoved: null,
  };
  return self;
}

function unionKeys(objs) {
  const keys = new Set();
  for (const o of objs) for (const k of Object.keys(o || {})) keys.add(k);
  return [...keys].sort();
}
