// A table viewer: one key's table at a chosen step (slider), columns sortable by a click on their header,
// rows filtered by a search over every cell.

import { fill, h } from '../dom.js';
import { customChart } from './custom-chart.js';
import { fileText, fileUrl } from './media-api.js';
import { stepper } from './stepper.js';

const SHOW = 500; // rows drawn at once; sort and filter see them all

export function tablePanel(run, key, values, signal) {
  const filter = h('input.input.search', { type: 'search', placeholder: 'Filter rows', 'aria-label': `filter ${key}` });
  const count = h('span.muted.small.table-count');
  const holder = h('div.table-scroll');
  const plot = h('div.chart-holder');
  let table = { columns: [], data: [] };
  let sort = { col: -1, desc: false };

  const cell = (v) => (v !== null && typeof v === 'object' ? (v.caption ?? v.path ?? JSON.stringify(v)) : String(v ?? ''));
  // An image in a cell (logged as runtree.Image / wandb.Image inside the table) is shown, its file served through the run.
  const shown = (v) => (v && v._type === 'image-file' && v.sha256
    ? h('img.cell-image', { src: fileUrl(run.uid, v.sha256), alt: v.caption || v.path, loading: 'lazy' })
    : cell(v));
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    let rows = q ? table.data.filter((r) => r.some((v) => cell(v).toLowerCase().includes(q))) : table.data.slice();
    if (sort.col >= 0) {
      const c = sort.col;
      rows.sort((a, b) => {
        const x = a[c];
        const y = b[c];
        const r = typeof x === 'number' && typeof y === 'number' ? x - y : cell(x).localeCompare(cell(y), undefined, { numeric: true });
        return sort.desc ? -r : r;
      });
    }
    count.textContent = `${rows.length === table.data.length ? '' : `${rows.length} of `}${table.data.length} rows`;
    rows = rows.slice(0, SHOW);
    fill(holder, h('table.table.media-table',
      h('thead', h('tr', table.columns.map((name, i) => h('th', {
        onclick: () => { sort = { col: i, desc: sort.col === i ? !sort.desc : false }; draw(); },
        'aria-sort': sort.col === i ? (sort.desc ? 'descending' : 'ascending') : 'none',
        title: 'sort',
      }, String(name), sort.col === i ? (sort.desc ? ' ▼' : ' ▲') : '')))),
      h('tbody', rows.map((r) => h('tr', r.map((v) => h('td', shown(v))))))));
  };
  filter.addEventListener('input', draw);
  const load = async (i) => {
    try {
      table = JSON.parse(await fileText(run.uid, values[i].value.sha256, signal));
    } catch (e) {
      if (e.name === 'AbortError') return;
      table = { columns: ['error'], data: [[`could not read the table: ${e.message}`]] };
    }
    const spec = values[i].value.chart;
    fill(plot, spec ? customChart(table, spec) : null);
    draw();
  };
  const { el, show } = stepper(values.map((x) => x.step), run, load);
  const chart = values[values.length - 1].value.chart;
  const panel = h('section.card.media-panel', { 'data-key': key, 'data-kind': 'table' },
    h('h3.panel-title', key, chart ? h('span.muted.small', ` · ${chart.id} (${Object.entries(chart.fields).map(([k, v]) => `${k}=${v}`).join(', ')})`) : null),
    el, plot, h('div.toolbar', filter, h('div.grow'), count), holder);
  show();
  return panel;
}
