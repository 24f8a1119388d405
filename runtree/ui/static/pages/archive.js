// An archived segment: the rows a rewind cut off from the run, still stored. Drawn dashed, one chart per
// metric, with the run's visible history beside it for comparison.

import * as api from '../api.js';
import { alpha, color, join, lineChart } from '../chart.js';
import { fill, h, link } from '../dom.js';
import { dateTime } from '../format.js';
import { metricKeys, points } from '../series.js';

const SAMPLES = 2000;

export async function archivePage(body, run, ctx, { archive }) {
  const rewinds = await api.rewinds(run.uid, ctx.signal);
  const all = rewinds.flatMap((rw) => rw.archived.map((seg) => ({ seg, rw })));
  const found = all[archive];
  if (!found) {
    const err = new api.ApiError(404, 'NoSuchSegment', `Run ${run.name} (${run.id}) has ${all.length} archived segment${all.length === 1 ? '' : 's'}; there is no segment ${archive + 1}.`);
    err.title = 'Archived segment not found';
    throw err;
  }
  const { seg, rw } = found;
  const [archived, visible] = await Promise.all([
    api.segmentHistory([seg], { samples: SAMPLES }, ctx.signal),
    api.history(run.uid, { samples: SAMPLES }, ctx.signal),
  ]);
  const last = archived.steps.length ? archived.steps[archived.steps.length - 1] : null;
  const base = `/r/${encodeURIComponent(run.uid)}`;
  const grid = h('div.chart-grid');
  fill(body,
    h('section.card.archive-head', { 'data-testid': 'archived-segment' },
      h('h2', `Archived segment ${archive + 1} of ${all.length}`),
      h('p', 'Steps ', h('strong', `${seg.first_step}–${last ?? '…'}`), ` of epoch ${seg.epoch}, cut off when the run was rewound to `,
        h('strong', `_step ${rw.at_step}`), ` on ${dateTime(rw.created_at)}. These rows are still stored; the run's visible history went on from step ${rw.at_step + 1} in epoch ${rw.to_epoch}.`),
      h('p.small', link(`${base}/overview`, '← Back to the run'), all.length > 1 ? all.map((_, i) => (i === archive ? null : [' · ', link(`${base}/archive/${i}`, `segment ${i + 1}`)])) : null)),
    grid);

  const keys = metricKeys(archived);
  if (!keys.length) {
    grid.append(h('p.empty.card', 'This segment holds no metric rows.'));
    return null;
  }
  for (const key of keys) {
    const a = points(archived, key);
    const v = points(visible, key);
    const holder = h('div.chart-holder');
    grid.append(h('section.card.chart-card', { 'data-key': key }, h('div.chart-title', h('span', key)), holder));
    lineChart(holder, {
      xLabel: '_step',
      data: join([[a.steps, a.ys], [v.steps, v.ys]]),
      series: [
        { label: `${key} · archived (epoch ${seg.epoch})`, color: color(1), width: 1.8, dash: [6, 4] },
        { label: `${key} · visible history`, color: alpha(color(0), 0.75), width: 1.4 },
      ],
      markers: [{ x: rw.at_step, label: `↺ ${rw.at_step}`, kind: 'rewind', title: `rewound at _step ${rw.at_step}` }],
      sync: `archive-${run.uid}`,
    });
  }
  return null;
}
