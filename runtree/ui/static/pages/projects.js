// Projects: each with its number of runs and last activity, newest activity first.

import * as api from '../api.js';
import { fill, h, link } from '../dom.js';
import { ago, dateTime } from '../format.js';

export async function projectsPage(main, ctx) {
  document.title = 'Projects · runtree';
  const body = h('tbody');
  const table = h('table.table.projects', h('thead', h('tr', h('th', 'Project'), h('th', 'Entity'), h('th.num', 'Runs'), h('th', 'Last activity'))), body);
  const count = h('span.muted');
  fill(main, h('section.page', h('div.page-head', h('h1', 'Projects'), count), h('div.card.flush', table)));

  const draw = (projects) => {
    count.textContent = projects.length === 1 ? '1 project' : `${projects.length} projects`;
    if (!projects.length) {
      fill(body, h('tr', h('td.empty', { colSpan: 4 }, 'No projects yet. Log a run with runtree.init(project=...) and it shows up here.')));
      return;
    }
    fill(body, projects.map((p) => {
      const href = `/p/${encodeURIComponent(p.entity)}/${encodeURIComponent(p.project)}`;
      return h('tr', h('td', link(href, h('strong', p.project))), h('td.muted', p.entity), h('td.num', String(p.runs)),
        h('td', { title: dateTime(p.last_activity) }, ago(p.last_activity)));
    }));
  };
  let last = '';
  const load = async () => {
    const projects = await api.projects(ctx.signal);
    const sig = JSON.stringify(projects);
    if (sig !== last) draw(projects);
    last = sig;
  };
  await load();
  ctx.poll(load, 5000);
}
