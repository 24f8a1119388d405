// The fork tree of a project as one SVG: a row per run, a bar from where its own history starts to its last
// step on a shared step axis, each fork an edge from the parent's bar at the fork step (labelled with it),
// rewinds marked on their run with the archived steps dashed beside it. Rows with children collapse.

import { s } from './dom.js';
import { lastStep } from './format.js';

const TOP = 36;
const BAR = 8;

/** Runs by parent: roots are runs whose parent is not in `runs`; children sorted by fork step, then age. */
export function forest(runs) {
  const byUid = new Map(runs.map((r) => [r.uid, r]));
  const kids = new Map();
  const roots = [];
  for (const r of runs) {
    if (r.parent_uid && byUid.has(r.parent_uid)) {
      if (!kids.has(r.parent_uid)) kids.set(r.parent_uid, []);
      kids.get(r.parent_uid).push(r);
    } else {
      roots.push(r);
    }
  }
  const order = (a, b) => (a.fork_step ?? 0) - (b.fork_step ?? 0) || a.created_at - b.created_at;
  for (const list of kids.values()) list.sort(order);
  roots.sort((a, b) => a.created_at - b.created_at);
  return { byUid, kids, roots };
}

function niceTicks(max, count) {
  if (max <= 0) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((m) => m >= raw) || raw;
  const out = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v));
  return out;
}

function truncate(text, chars) {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/**
 * The tree as an <svg>. opts: { width, collapsed: Set of uids, onToggle(uid), rewinds: Map uid -> [{ at_step,
 * archived: [{ first, last, index }] }], outside: Map uid -> label for a parent outside the project }.
 */
export function forkTree(allRuns, opts) {
  // Runs hidden by the filter leave the tree; their forks then start a tree of their own.
  const runs = opts.hide ? allRuns.filter((r) => !opts.hide.test(r.name) && !opts.hide.test(r.id)) : allRuns;
  const { kids, roots, byUid } = forest(runs);
  const ROW = runs.length > 60 ? 30 : 44;
  const rows = [];
  const rootOf = new Map();
  const walk = (run, depth, root) => {
    const children = kids.get(run.uid) || [];
    rows.push({ run, depth, children });
    rootOf.set(run.uid, root);
    if (!opts.collapsed.has(run.uid)) for (const c of children) walk(c, depth + 1, root);
  };
  roots.forEach((r) => walk(r, 0, r.uid));

  const lastOf = (r) => {
    let m = lastStep(r) ?? 0;
    for (const rw of opts.rewinds.get(r.uid) || []) for (const a of rw.archived) m = Math.max(m, a.last ?? 0);
    return m;
  };
  let maxStep = 1;
  for (const r of runs) maxStep = Math.max(maxStep, lastOf(r));
  // "fit each subtree": every tree gets the whole width for its own longest run.
  const treeMax = new Map();
  for (const r of runs) { const root = rootOf.get(r.uid) ?? r.uid; treeMax.set(root, Math.max(treeMax.get(root) || 1, lastOf(r))); }
  const scale = opts.scale || 'shared';

  const width = Math.max(640, opts.width);
  const left = Math.min(360, Math.round(width * 0.36));
  const x0 = left + 24;
  const x1 = width - 56;
  const logMax = Math.log10(1 + maxStep);
  let x = (step) => x0 + ((x1 - x0) * Math.max(0, step)) / maxStep;
  if (scale === 'log') x = (step) => x0 + ((x1 - x0) * Math.log10(1 + Math.max(0, step))) / logMax;
  const height = TOP + rows.length * ROW + 8;
  const yOf = new Map(rows.map((row, i) => [row.run.uid, TOP + i * ROW + ROW / 2]));

  const xFit = (root) => { const m = treeMax.get(root) || 1; return (step) => x0 + ((x1 - x0) * Math.max(0, step)) / m; };
  const xOf = (run) => (scale === 'fit' ? xFit(rootOf.get(run.uid) ?? run.uid) : x);
  const svg = s('svg', { class: 'forktree', width, height, viewBox: `0 0 ${width} ${height}`, role: 'tree', 'aria-label': 'fork tree', 'data-scale': scale });

  // The step axis (with "fit each subtree" each tree has its own: its longest run spans the width).
  const axis = s('g', { class: 'axis' });
  if (scale === 'log') {
    for (let t = 0; t <= Math.ceil(logMax); t++) {
      const v = t === 0 ? 0 : 10 ** t;
      if (v > maxStep * 1.0001 && t > 0) break;
      axis.append(s('line', { x1: x(v), x2: x(v), y1: TOP - 8, y2: height - 4, class: 'grid' }), s('text', { x: x(v), y: TOP - 14, 'text-anchor': 'middle' }, v >= 1e3 ? `1e${t}` : String(v)));
    }
  } else if (scale === 'shared') {
    for (const t of niceTicks(maxStep, Math.max(2, Math.floor((x1 - x0) / 90)))) {
      axis.append(s('line', { x1: x(t), x2: x(t), y1: TOP - 8, y2: height - 4, class: 'grid' }), s('text', { x: x(t), y: TOP - 14, 'text-anchor': 'middle' }, String(t)));
    }
  } else {
    axis.append(s('text', { x: x0, y: TOP - 14, class: 'axis-note' }, 'each tree fitted to the width: its longest run ends at the right'));
  }
  axis.append(s('text', { x: x0 - 12, y: TOP - 14, 'text-anchor': 'end', class: 'axis-title' }, scale === 'log' ? '_step (log)' : '_step'));
  svg.append(axis);
  // Labels placed so far on each row ([from, to] in px): a new one moves right until it overlaps none.
  const taken = new Map();
  const place = (y, want, w) => {
    const row = taken.get(y) || [];
    let at = Math.min(want, width - w - 2);
    for (let moved = true; moved;) {
      moved = false;
      for (const [a, b] of row) if (at < b + 4 && at + w > a - 4) { at = b + 6; moved = true; }
    }
    row.push([at, at + w]);
    taken.set(y, row);
    return at;
  };

  // Row backgrounds (hover), then edges under the bars.
  const edges = s('g', { class: 'edges' });
  const labels = s('g', { class: 'edge-labels' });
  const bars = s('g', { class: 'bars' });
  for (const row of rows) {
    const { run, depth, children } = row;
    const y = yOf.get(run.uid);
    const x = xOf(run);
    const href = `/r/${encodeURIComponent(run.uid)}`;
    const g = s('g', { class: `node state-${run.state}`, 'data-uid': run.uid, 'data-id': run.id, role: 'treeitem', 'aria-level': depth + 1 });
    g.append(s('rect', { class: 'row-bg', x: 0, y: y - ROW / 2, width, height: ROW }));

    // Left: the collapse toggle, the state dot, name and id.
    const indent = 12 + depth * 18;
    if (children.length) {
      const closed = opts.collapsed.has(run.uid);
      const toggle = s('g', { class: 'toggle', role: 'button', tabindex: 0, 'aria-label': `${closed ? 'expand' : 'collapse'} ${run.name}`, 'aria-expanded': String(!closed), onclick: () => opts.onToggle(run.uid), onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); opts.onToggle(run.uid); } } },
        s('rect', { x: indent - 7, y: y - 9, width: 18, height: 18, rx: 4, class: 'toggle-bg' }),
        s('path', { d: closed ? `M ${indent - 1} ${y - 5} l 7 5 l -7 5 z` : `M ${indent - 3} ${y - 3} l 10 0 l -5 7 z`, class: 'toggle-arrow' }));
      g.append(toggle);
      if (closed) g.append(s('text', { x: indent + 16, y: y + 18, class: 'collapsed-count' }, `+${countBelow(kids, run.uid)} hidden`));
    }
    const tx = indent + 18;
    g.append(s('circle', { cx: tx, cy: y, r: 4.5, class: 'dot' }, s('title', {}, run.state)));
    const outside = opts.outside.get(run.uid);
    const name = truncate(run.name, Math.max(8, Math.floor((left - tx - 80) / 7.2)));
    g.append(s('a', { href, 'data-link': '', class: 'run-link' },
      s('text', { x: tx + 12, y: y + 1, class: 'name' }, name, s('tspan', { class: 'id', dx: 6 }, run.id)),
      s('title', {}, `${run.name} (${run.id}) · ${run.state}`)));
    if (outside) g.append(s('text', { x: tx + 12, y: y + 15, class: 'outside' }, truncate(`forked from ${outside} @ ${run.fork_step}`, 44)));

    // Right: inherited history (faint), the run's own bar, its last step.
    const last = lastStep(run) ?? 0;
    const own0 = run.fork_step ?? 0;
    if (run.parent_uid !== null && run.fork_step !== null) {
      g.append(s('line', { x1: x(0), x2: x(run.fork_step), y1: y, y2: y, class: 'inherited' }));
    }
    g.append(s('a', { href, 'data-link': '' },
      s('rect', { x: x(own0), y: y - BAR / 2, width: Math.max(3, x(last) - x(own0)), height: BAR, rx: BAR / 2, class: 'bar' }),
      s('title', {}, `${run.name}: steps ${run.fork_step !== null ? run.fork_step + 1 : 0}–${last} (${run.state})`)));
    g.append(s('text', { x: x(last) + 8, y: y + 4, class: 'last-step' }, String(last)));

    // Rewinds on the run: ↺ at the rewind step, the archived steps dashed under the bar, each a link.
    (opts.rewinds.get(run.uid) || []).forEach((rw) => {
      for (const a of rw.archived) {
        if (a.last === null || a.last === undefined) continue;
        g.append(s('a', { href: `${href}/archive/${a.index}`, 'data-link': '', class: 'archived-link' },
          s('line', { x1: x(a.first), x2: x(a.last), y1: y + 10, y2: y + 10, class: 'archived' }),
          s('rect', { x: x(a.first), y: y + 5, width: Math.max(4, x(a.last) - x(a.first)), height: 10, class: 'hit' }),
          s('title', {}, `archived by the rewind at step ${rw.at_step}: steps ${a.first}–${a.last} (click to open)`)));
      }
      const text = `rewound @ ${rw.at_step}`;
      const lx = place(y - 10, x(rw.at_step) - text.length * 3.2, text.length * 6.4);
      g.append(s('g', { class: 'rewind', 'data-step': rw.at_step },
        s('circle', { cx: x(rw.at_step), cy: y, r: 7, class: 'rewind-dot' }),
        s('text', { x: x(rw.at_step), y: y + 3.5, 'text-anchor': 'middle', class: 'rewind-glyph' }, '↺'),
        s('text', { x: lx, y: y - 10, class: 'rewind-label' }, text),
        s('title', {}, `rewound at step ${rw.at_step}`)));
    });
    bars.append(g);

    // The edge from the parent's bar at the fork step, labelled with that step.
    if (run.parent_uid && byUid.has(run.parent_uid) && yOf.has(run.parent_uid)) {
      const py = yOf.get(run.parent_uid);
      const fx = x(run.fork_step ?? 0);
      // The line under every label (drawn first), the label above every line: no line crosses out a label.
      edges.append(s('g', { class: 'edge-path', 'data-child': run.uid },
        s('path', { d: `M ${fx} ${py} L ${fx} ${y - 6} Q ${fx} ${y} ${fx + 6} ${y}`, class: 'edge-line' }),
        s('circle', { cx: fx, cy: py, r: 3.5, class: 'fork-dot' })));
      const edge = s('g', { class: 'edge', 'data-child': run.uid, 'data-fork-step': run.fork_step });
      const label = `fork @ ${run.fork_step}`;
      const w = label.length * 6.4 + 8;
      const lx = place(y - 10, fx + 5, w);
      edge.append(s('rect', { x: lx, y: y - 20, width: w, height: 14, rx: 3, class: 'edge-label-bg' }));
      edge.append(s('text', { x: lx + 4, y: y - 9.5, class: 'edge-label' }, label));
      labels.append(edge);
    }
  }
  svg.append(bars, edges, labels);
  return svg;
}

function countBelow(kids, uid) {
  let n = 0;
  for (const c of kids.get(uid) || []) n += 1 + countBelow(kids, c.uid);
  return n;
}
