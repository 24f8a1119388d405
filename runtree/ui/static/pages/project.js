// A project: the workspace (the runs table beside a panel per metric, the default page), the runs table alone,
// and the fork tree. Every view follows the runs live (poll) and keeps its settings in the URL.

import * as api from '../api.js';
import { fill, h, link } from '../dom.js';
import { runsTable } from '../runs.js';
import { forkTree } from '../tree.js';
import { readView, writeView } from '../view.js';
import { topMetricsOf, workspaceView } from './workspace.js';

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
  const hrefs = { workspace: base, table: `${base}/table`, tree: `${base}/tree` };
  const tabs = h('nav.tabs', { role: 'tablist' },
    link(hrefs.workspace, 'Workspace'), link(hrefs.table, 'Runs'), link(hrefs.tree, 'Fork tree'));
  for (const a of tabs.children) a.classList.toggle('active', a.getAttribute('href') === hrefs[view]);
  const body = h('div');
  fill(main, h('section.page.wide', { 'data-view': view }, h('div.page-head', h('h1', project), h('span.muted', entity), count, h('div.grow'), tabs), body));
  // The tabs carry the table's settings (filters, sort, columns) from one view to the other.
  const carry = () => { for (const a of tabs.children) a.setAttribute('href', a.getAttribute('href').split('?')[0] + location.search); };

  const state = { rewinds: new Map(), rewindEpochs: new Map() };
  const render = view === 'tree' ? treeView(body, state, ctx) : runsView(body, view, { entity, project, base }, ctx, carry);
  carry();
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
  const scaleSel = h('select.select', { 'aria-label': 'step axis' },
    h('option', { value: 'shared' }, 'shared step axis'), h('option', { value: 'log' }, 'log step axis'), h('option', { value: 'fit' }, 'fit each subtree'));
  const hideBox = h('input.input', { type: 'search', placeholder: 'Hide runs matching (regex)', 'aria-label': 'hide runs matching' });
  const v = readView();
  scaleSel.value = v.scale || 'shared';
  hideBox.value = v.hideq || '';
  const legend = h('div.legend-row',
    h('span.key-bar'), ' own history ', h('span.key-inherited'), ' inherited from the parent ',
    h('span.key-archived'), ' archived by a rewind (click to open) ', h('span.key-fork'), ' fork at a step');
  fill(body, h('div.toolbar', h('label.inline', h('span.muted', 'scale'), scaleSel), hideBox), h('div.card', { 'data-testid': 'fork-tree' }, legend, box));
  let runs = [];
  let outside = new Map();
  const draw = () => {
    let re = null;
    try { re = hideBox.value ? new RegExp(hideBox.value, 'i') : null; } catch { re = null; }
    fill(box, forkTree(runs, { width: box.clientWidth || 900, collapsed, rewinds: state.rewinds, outside, scale: scaleSel.value, hide: re, onToggle: (uid) => {
      if (collapsed.has(uid)) collapsed.delete(uid); else collapsed.add(uid);
      draw();
    } }));
  };
  const changed = () => { writeView({ ...readView(), scale: scaleSel.value === 'shared' ? '' : scaleSel.value, hideq: hideBox.value }); draw(); };
  scaleSel.addEventListener('change', changed);
  hideBox.addEventListener('input', changed);
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

// -- the workspace and the runs table -----------------------------------------------------------------------------
function runsView(body, which, who, ctx, carry) {
  const view = readView();
  let ws = null;
  let follow = 0;
  const table = runsTable({
    base: who.base,
    view,
    compact: which === 'workspace',
    topMetrics: () => (ws ? ws.topMetrics() : topMetricsOf(table.runs, who.base)),
    // The table answers each keystroke at once; the panels follow when the typing pauses.
    onChange: () => {
      clearTimeout(follow);
      follow = setTimeout(() => { writeView(view); carry(); ws?.shownChanged(); }, 150);
    },
  });
  if (which === 'workspace') ws = workspaceView(body, table, view, who, ctx);
  else fill(body, h('div.runs-page', table.el));
  let first = true;
  return (runs) => {
    table.setRuns(runs);
    ws?.update(runs);
    if (first) { first = false; table.redrawColumns(); }
  };
}
