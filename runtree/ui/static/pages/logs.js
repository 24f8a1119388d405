// Logs: the run's console output (inherited lines included), with a filter. stderr is drawn in the normal colour
// (tqdm and logging write there) unless a line looks like an error; a progress bar redrawn with \r shows its
// current state. Follows a live run every second.

import * as api from '../api.js';
import { fill, h } from '../dom.js';
import { dateTime } from '../format.js';

const SHOW = 5000; // lines drawn at once; the filter searches them all
const LIVE_MS = 1000;
const ERROR = /Traceback \(most recent call last\)|^\s*File ".*", line \d+|\b[A-Z][A-Za-z]*(Error|Exception)\b|^\s*(Error|ERROR|FATAL|CRITICAL)\b|\bError:/;

/** What a line shows now: a progress bar redrawn with \r shows its last state. */
export function current(text) {
  const t = String(text).replace(/\r+\n?$/, '');
  const i = t.lastIndexOf('\r');
  return i >= 0 ? t.slice(i + 1) : t;
}

function kind(stream, text) {
  if (stream !== 'stderr') return 'stdout';
  return ERROR.test(text) ? 'stderr.error' : 'stderr';
}

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
    fill(pre, shown.map(([ts, step, stream, raw]) => {
      const text = current(raw);
      const progress = String(raw).includes('\r');
      return h(`span.line.${kind(stream, text)}${progress ? '.progress' : ''}`,
        { title: `${dateTime(ts)}${step !== null ? ` · _step ${step}` : ''} · ${stream}` },
        text.endsWith('\n') ? text : `${text}\n`);
    }));
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
  filter.addEventListener('input', draw);

  lines = await api.logs(run.uid, ctx.signal);
  draw();
  let sig = JSON.stringify(lines.slice(-3));
  // A live run: every second (a progress bar's line changes in place, so the last lines are compared too).
  if (run.state === 'running') {
    ctx.poll(async () => {
      const next = await api.logs(run.uid, ctx.signal);
      const nextSig = JSON.stringify(next.slice(-3));
      if (next.length !== lines.length || nextSig !== sig) { lines = next; sig = nextSig; draw(); }
      const fresh = await api.run(run.uid, ctx.signal);
      return fresh.state === 'running';
    }, LIVE_MS);
  }
  return {};
}
