// A run: its header (name, state, lineage, the ⋯ menu with "Copy immutable run ID") and its tabs. The run is
// polled while it is running; each tab gets `onRun(run)` calls with the fresh record.

import * as api from '../api.js';
import { copyText, fill, h, link, stateBadge, toast } from '../dom.js';
import { duration, runtime } from '../format.js';
import { archivePage } from './archive.js';
import { chartsTab } from './charts.js';
import { logsTab } from './logs.js';
import { mediaTab } from './media.js';
import { overviewTab } from './overview.js';
import { systemTab } from './system.js';

const TABS = [['overview', 'Overview'], ['charts', 'Charts'], ['media', 'Media'], ['system', 'System'], ['logs', 'Logs']];
const POLL_MS = 2000;

export async function runPage(main, { uid, tab, archive }, ctx) {
  let run;
  try {
    run = await api.run(uid, ctx.signal);
  } catch (e) {
    if (!(e instanceof api.ApiError && e.notFound)) throw e;
    // /r/<short id>: the run's user-facing id (unique per project only) also opens it.
    const found = await api.resolve(uid, ctx.signal).catch(() => []);
    if (found.length === 1) {
      ctx.navigate(location.pathname.replace(`/r/${encodeURIComponent(uid)}`, `/r/${encodeURIComponent(found[0].uid)}`).replace(`/r/${uid}`, `/r/${found[0].uid}`) + location.search, { replace: true });
      return;
    }
    if (found.length > 1) {
      ctx.crumbs(h('span', uid));
      fill(main, h('section.page', h('h1', `Runs with the id ${uid}`), h('p.muted', 'This id names a run in several projects; pick one.'),
        h('ul.choices', found.map((r) => h('li', link(`/r/${encodeURIComponent(r.uid)}`, `${r.entity}/${r.project}/${r.id}`), h('span.muted', ` ${r.name} · ${r.state}`))))));
      return;
    }
    e.title = 'Run not found';
    throw e;
  }
  const base = `/r/${encodeURIComponent(run.uid)}`;
  const projectHref = `/p/${encodeURIComponent(run.entity)}/${encodeURIComponent(run.project)}`;
  ctx.crumbs(h('span.muted', run.entity), link(projectHref, run.project), link(base, run.name));
  document.title = `${run.name} · ${run.project} · runtree`;

  const title = h('h1.run-name');
  const badge = h('span');
  const facts = h('div.facts');
  const head = h('div.run-head',
    h('div.run-title', title, badge, h('div.grow'), actionsMenu(() => run, ctx)),
    facts);
  const tabs = h('nav.tabs.run-tabs', { role: 'tablist' }, TABS.map(([key, label]) => {
    const a = link(key === 'charts' ? base : `${base}/${key}`, label);
    a.setAttribute('role', 'tab');
    if (key === tab) { a.classList.add('active'); a.setAttribute('aria-selected', 'true'); }
    return a;
  }));
  const body = h('div.tab-body');
  fill(main, h('section.page.wide.run-page', { 'data-uid': run.uid }, head, tabs, body));

  const drawHead = () => {
    title.textContent = run.name;
    fill(badge, stateBadge(run.state));
    fill(facts,
      h('span.fact', h('span.muted', 'id '), h('code', run.id)),
      run.parent_uid ? h('span.fact', h('span.muted', 'forked from '), link(`/r/${encodeURIComponent(run.parent_uid)}`, h('span.parent-link', { 'data-parent': run.parent_uid }, '…')), h('span.muted', ` at _step ${run.fork_step}`)) : null,
      run.epoch > 0 ? h('span.fact', h('span.muted', `rewound ${run.epoch}×`)) : null,
      h('span.fact', h('span.muted', 'runtime '), duration(runtime(run))),
      h('span.fact', h('span.muted', 'last step '), String(run.last_step ?? run.fork_step ?? '—')));
    if (run.parent_uid) parentName(run.parent_uid, ctx).then((name) => { const el = facts.querySelector('.parent-link'); if (el) el.textContent = name; });
  };
  drawHead();

  const pages = { overview: overviewTab, charts: chartsTab, media: mediaTab, system: systemTab, logs: logsTab, archive: archivePage };
  const view = await pages[tab](body, run, ctx, { archive, onRename: (name) => { run = { ...run, name }; drawHead(); ctx.crumbs(h('span.muted', run.entity), link(projectHref, run.project), link(base, run.name)); } });

  // Follow a live run: the header and the tab get each new record; polling stops once the run has ended.
  if (run.state === 'running') {
    ctx.poll(async () => {
      const next = await api.run(run.uid, ctx.signal);
      const changed = JSON.stringify(next) !== JSON.stringify(run);
      run = next;
      if (changed) {
        drawHead();
        await view?.onRun?.(run);
      }
      return run.state === 'running';
    }, POLL_MS);
  }
}

const parentNames = new Map();
async function parentName(uid, ctx) {
  if (!parentNames.has(uid)) {
    parentNames.set(uid, api.run(uid, ctx.signal).then((p) => `${p.name} (${p.id})`, () => uid.slice(0, 8)));
  }
  return parentNames.get(uid);
}

/** The ⋯ menu at the top right, as in W&B: copy the immutable run id (the uid) or the run path. */
function actionsMenu(getRun, ctx) {
  const close = () => { menu.open = false; };
  const item = (label, text, done) => h('button.menu-item', { type: 'button', role: 'menuitem', onclick: async () => {
    close();
    try {
      await copyText(text());
      toast(done);
    } catch (e) {
      toast(`Could not copy: ${e.message}`, 'error');
    }
  } }, label);
  const menu = h('details.menu.actions',
    h('summary.btn.icon', { role: 'button', 'aria-haspopup': 'menu', 'aria-label': 'Run actions', title: 'Run actions' }, '⋯'),
    h('div.menu-panel.right', { role: 'menu' },
      item('Copy immutable run ID', () => getRun().uid, 'Copied the immutable run ID'),
      item('Copy run path', () => getRun().path ?? `${getRun().entity}/${getRun().project}/${getRun().id}`, 'Copied the run path')));
  document.addEventListener('click', (e) => { if (!menu.contains(e.target)) close(); }, { signal: ctx.signal });
  return menu;
}
