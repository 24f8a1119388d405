// Overview: what the run is (name, notes and tags editable here, nothing else), where it came from (parent
// and fork step, children, rewinds and their archived segments), its config and summary.

import * as api from '../api.js';
import { fill, h, link, stateBadge, toast } from '../dom.js';
import { dateTime, duration, flatten, runtime, value } from '../format.js';

export async function overviewTab(body, run, ctx, { onRename }) {
  const [kids, rewinds, ancestry] = await Promise.all([
    api.children(run.uid, ctx.signal),
    run.epoch > 0 ? api.rewinds(run.uid, ctx.signal) : [],
    ancestors(run, ctx),
  ]);
  const parent = ancestry[0] || null;
  const archivedLast = await Promise.all(rewinds.flatMap((rw) => rw.archived.map((seg) => (
    seg.last_step !== null ? seg.last_step : api.lastRow([seg], ctx.signal).then((l) => (l ? l[0] : null))))));

  const about = h('dl.facts-list');
  const lineage = h('dl.facts-list');
  const config = h('div');
  const summary = h('div');
  fill(body, h('div.overview',
    h('div.col', h('section.card', h('h2', 'About this run'), about), h('section.card', h('h2', 'Lineage'), lineage)),
    h('div.col', h('section.card', h('h2', 'Config'), config), h('section.card', h('h2', 'Summary'), summary))));

  // The facts are laid out once (the editors keep their state while a live run is polled); only the
  // values that change while a run is live are drawn again.
  const meta = run.metadata || {};
  const command = [meta.program, ...(meta.args || [])].filter((x) => x !== null && x !== undefined).join(' ');
  const stateCell = h('span');
  const runtimeCell = h('span');
  fill(about,
    row('Name', nameEditor(run, (name) => { run = { ...run, name }; onRename(name); })),
    row('ID', h('code', run.id)),
    row('Immutable ID', h('code.uid', run.uid)),
    row('Path', h('code', `${run.entity}/${run.project}/${run.id}`)),
    row('State', stateCell),
    row('Created', dateTime(run.created_at)),
    row('Runtime', runtimeCell),
    row('Host', run.host || meta.host || '—'),
    row('Command', command ? h('code.command', command) : '—'),
    meta.python ? row('Python', meta.python) : null,
    meta.git && (meta.git.commit || meta.git.remote) ? row('Git', h('code', [meta.git.remote, meta.git.commit && meta.git.commit.slice(0, 12)].filter(Boolean).join(' @ '))) : null,
    run.group ? row('Group', run.group) : null,
    run.job_type ? row('Job type', run.job_type) : null,
    row('Notes', notesEditor(run)),
    row('Tags', tagsEditor(run)));

  const draw = () => {
    fill(stateCell, stateBadge(run.state), run.exit_code !== null && run.exit_code !== undefined ? h('span.muted', ` exit code ${run.exit_code}`) : null);
    runtimeCell.textContent = duration(runtime(run));
    fill(config, kvTable(flatten(run.config), 'No config.'));
    fill(summary, kvTable(Object.fromEntries(Object.entries(flatten(run.summary)).filter(([k]) => !k.startsWith('_') || k === '_step' || k === '_runtime')), 'Nothing logged yet.'));
  };

  let index = 0;
  fill(lineage,
    row('Parent', parent
      ? h('span', link(`/r/${encodeURIComponent(parent.uid)}`, parent.name), h('span.muted', ` (${parent.entity}/${parent.project}/${parent.id})`), ' forked at ', h('strong.fork-step', `_step ${run.fork_step}`))
      : run.parent_uid ? h('span.muted', `${run.parent_uid} (not readable) at _step ${run.fork_step}`) : h('span.muted', 'none: this run started from scratch')),
    ancestry.length > 1 ? row('Ancestry', h('ol.plain.ancestry', { 'data-testid': 'ancestry' }, [...ancestry].reverse().map((a, i, all) => h('li',
      link(`/r/${encodeURIComponent(a.uid)}`, a.name), h('span.muted', ` ${a.id}`),
      i < all.length - 1 ? h('span.muted', ` → forked at _step ${all[i + 1].fork_step}`) : h('span.muted', ` → this run forked at _step ${run.fork_step}`))))) : null,
    parent ? row('Config vs parent', configDiff(flatten(parent.config), flatten(run.config))) : null,
    row('Children', kids.length
      ? h('ul.plain', kids.map((k) => h('li', link(`/r/${encodeURIComponent(k.uid)}`, k.name), h('span.muted', ` ${k.id}`), ' forked at ', h('strong', `_step ${k.fork_step}`), ' ', stateBadge(k.state))))
      : h('span.muted', 'none')),
    row('Rewinds', rewinds.length
      ? h('ul.plain.rewinds', rewinds.map((rw) => h('li',
        h('span', '↺ rewound to ', h('strong', `_step ${rw.at_step}`), h('span.muted', ` on ${dateTime(rw.created_at)}`)),
        h('ul.plain.archived', rw.archived.map((seg) => {
          const i = index++;
          const last = archivedLast[i];
          const label = last === null ? `archived segment ${i + 1}: no rows` : `archived segment ${i + 1}: steps ${seg.first_step}–${last} (epoch ${seg.epoch})`;
          if (last === null) return h('li', h('span.muted', label));
          const a = link(`/r/${encodeURIComponent(run.uid)}/archive/${i}`, label);
          a.classList.add('archive-link');
          return h('li', a);
        })))))
      : h('span.muted', 'none')));
  draw();
  return { onRun(next) { run = { ...next }; draw(); } };
}

const row = (label, ...content) => [h('dt', label), h('dd', ...content)];

function kvTable(obj, empty) {
  const keys = Object.keys(obj).sort();
  if (!keys.length) return h('p.muted', empty);
  return h('table.kv', h('tbody', keys.map((k) => h('tr', h('th', k), h('td', value(obj[k]))))));
}

async function save(run, fields, what) {
  try {
    await api.updateRun(run.uid, fields);
    toast(`Saved ${what}`);
    return true;
  } catch (e) {
    toast(`Could not save ${what}: ${e.message}`, 'error');
    return false;
  }
}

/** The name, edited in place: click (or the pencil) to edit, Enter or leaving the field saves, Escape cancels. */
function nameEditor(run, saved) {
  const box = h('span.editable');
  let name = run.name;
  const show = () => fill(box,
    h('span.name-text', { title: 'Click to rename', onclick: edit }, name),
    h('button.btn.icon.small.ghost', { type: 'button', 'aria-label': 'Rename run', title: 'Rename', onclick: edit }, '✎'));
  function edit() {
    const input = h('input.input.inline-edit', { value: name, 'aria-label': 'run name', maxLength: 256 });
    let done = false;
    const commit = async () => {
      if (done) return;
      done = true;
      const next = input.value.trim();
      if (next && next !== name && (await save(run, { name: next }, 'the name'))) {
        name = next;
        saved(next);
      }
      show();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); commit(); }
      if (e.key === 'Escape') { done = true; show(); }
    });
    input.addEventListener('blur', commit);
    fill(box, input);
    input.focus();
    input.select();
  }
  show();
  return box;
}

function notesEditor(run) {
  const box = h('div.editable.notes');
  let notes = run.notes || '';
  const show = () => fill(box,
    notes ? h('p.notes-text', notes) : h('span.muted', 'No notes.'),
    h('button.btn.small.ghost', { type: 'button', onclick: edit }, notes ? 'Edit notes' : 'Add notes'));
  function edit() {
    const area = h('textarea.input', { rows: 4, 'aria-label': 'notes' }, notes);
    area.value = notes;
    fill(box, area, h('div.row',
      h('button.btn.small.primary', { type: 'button', onclick: async () => {
        const next = area.value;
        if (await save(run, { notes: next || null }, 'the notes')) notes = next;
        show();
      } }, 'Save'),
      h('button.btn.small.ghost', { type: 'button', onclick: show }, 'Cancel')));
    area.focus();
  }
  show();
  return box;
}

function tagsEditor(run) {
  const box = h('div.editable.tags');
  let tags = [...(run.tags || [])];
  const put = async (next) => {
    if (await save(run, { tags: next }, 'the tags')) tags = next;
    show();
  };
  const show = () => {
    const input = h('input.input.tag-input', { placeholder: '+ tag', 'aria-label': 'add a tag', size: 8 });
    input.addEventListener('keydown', (e) => {
      const t = input.value.trim();
      if (e.key === 'Enter' && t) {
        e.preventDefault();
        if (!tags.includes(t)) put([...tags, t]);
      }
    });
    fill(box, tags.map((t) => h('span.tag', t, h('button.tag-x', { type: 'button', 'aria-label': `remove tag ${t}`, onclick: () => put(tags.filter((x) => x !== t)) }, '×'))), input);
  };
  show();
  return box;
}

/** The run's parent, grandparent, ... (nearest first), as far as they can be read (at most 50). */
async function ancestors(run, ctx) {
  const out = [];
  let uid = run.parent_uid;
  const seen = new Set([run.uid]);
  while (uid && !seen.has(uid) && out.length < 50) {
    seen.add(uid);
    const p = await api.run(uid, ctx.signal).catch(() => null);
    if (!p) break;
    out.push(p);
    uid = p.parent_uid;
  }
  return out;
}

/** Config keys the fork changed, added or dropped against its parent. */
function configDiff(before, after) {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const rows = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).map((k) => h('tr', { 'data-key': k },
    h('td.mono', k),
    h('td.mono.old', k in before ? value(before[k]) : h('span.muted', '—')),
    h('td.mono.new', k in after ? value(after[k]) : h('span.muted', 'removed'))));
  if (!rows.length) return h('span.muted', 'same config as the parent');
  return h('table.table.config-diff', { 'data-testid': 'config-diff' }, h('thead', h('tr', h('th', 'key'), h('th', 'parent'), h('th', 'this run'))), h('tbody', rows));
}
