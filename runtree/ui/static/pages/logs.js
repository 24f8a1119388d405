// Logs: the run's console output (inherited lines included), stderr marked, with a filter. Follows a live run.

import * as api from '../api.js';
import { fill, h } from '../dom.js';
import { dateTime } from '../format.js';

const SHOW = 5000; // lines drawn at once; the filter searches them all

export async function logsTab(body, run, ctx) {
  const filter = h('input.input.search', { type: 'search', placeholder: 'Filter lines', 'aria-label': 'filter log lines' });
  const count = h('span.muted.small');
  const pre = h('pre.console', { 'data-testid': 'console' });
  fill(body, h('div.toolbar', filter, h('div.grow'), count), h('div.card.flush', pre));
  let lines = [];
  let atBottom = true;
  pre.addEventListener('scroll', () => { atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8; });

  const draw = () => {
    if (!lines.length) {
      fill(pre, h('span.muted', run.state === 'running' ? 'No console output yet.' : 'This run has no console output.'));
      count.textContent = '';
      return;
    }
    const q = filter.value.trim().toLowerCase();
    const matching = q ? lines.filter((l) => String(l[3]).toLowerCase().includes(q)) : lines;
    const shown = matching.slice(-SHOW);
    count.textContent = `${matching.length === lines.length ? '' : `${matching.length} of `}${lines.length} lines${shown.length < matching.length ? ` (last ${SHOW} shown)` : ''}`;
    fill(pre, shown.map(([ts, step, stream, text]) => h(`span.line.${stream === 'stderr' ? 'stderr' : 'stdout'}`,
      { title: `${dateTime(ts)}${step !== null ? ` · _step ${step}` : ''} · ${stream}` },
      String(text).endsWith('\n') ? String(text) : `${text}\n`)));
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
  filter.addEventListener('input', draw);

  lines = await api.logs(run.uid, ctx.signal);
  draw();
  return {
    async onRun() {
      const next = await api.logs(run.uid, ctx.signal);
      if (next.length !== lines.length) { lines = next; draw(); }
    },
  };
}
