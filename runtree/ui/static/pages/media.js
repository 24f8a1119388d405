// The Media tab of a run: a panel per media key (images with a step slider, tables with sort and filter,
// histograms over steps, audio/video players, HTML pages), a fork's inherited steps included; then the run's
// media files with their sizes.

import { fill, h } from '../dom.js';
import { histogramPanel } from '../panels/histogram.js';
import { imagePanel } from '../panels/image.js';
import { bytes, mediaFiles, mediaKeys, valuesOf } from '../panels/media-api.js';
import { playerPanel } from '../panels/player.js';
import { tablePanel } from '../panels/table.js';

const ORDER = ['image-file', 'images/separated', 'histogram', 'table-file'];
const rank = (type) => (ORDER.includes(type) ? ORDER.indexOf(type) : ORDER.length); // images first, then histograms, tables, players

const SHOW_FILES = 500; // rows of the file list drawn; the count and total size cover them all

function panelFor(run, key, type, values, signal) {
  if (type === 'image-file' || type === 'images/separated') return imagePanel(run, key, values);
  if (type === 'table-file') return tablePanel(run, key, values, signal);
  if (type === 'histogram') return histogramPanel(run, key, values);
  return playerPanel(run, key, values, signal);
}

function styles() {
  if (document.getElementById('media-css')) return;
  document.head.append(h('link', { id: 'media-css', rel: 'stylesheet', href: '/static/panels/media.css' }));
}

export async function mediaTab(body, run, ctx) {
  styles();
  const panels = h('div.media-panels');
  const files = h('div.card.media-files');
  fill(body, panels, h('h2.section-title', 'Media files'), files);

  const draw = async (r) => {
    const keys = Object.entries(mediaKeys(r)).sort(([a, ta], [b, tb]) => rank(ta) - rank(tb) || a.localeCompare(b));
    if (!keys.length) {
      fill(panels, h('p.muted', 'This run has logged no images, tables, histograms or other media.'));
    } else {
      const made = await Promise.all(keys.map(async ([key, type]) => {
        const values = await valuesOf(r.uid, key, ctx.signal);
        return values.length ? panelFor(r, key, type, values, ctx.signal) : null;
      }));
      fill(panels, made);
    }
    const list = await mediaFiles(r.uid, ctx.signal);
    const total = list.reduce((n, f) => n + f.size, 0);
    fill(files, list.length ? [
      h('p.muted.small', `${list.length} files, ${bytes(total)}`),
      h('table.table.media-file-list',
        h('thead', h('tr', h('th', '_step'), h('th', 'key'), h('th', 'file'), h('th', 'size'))),
        h('tbody', list.slice(0, SHOW_FILES).map((f) => h('tr', h('td', String(f.step)), h('td', f.key), h('td', h('code', f.path)), h('td.num', bytes(f.size)))))),
      list.length > SHOW_FILES ? h('p.muted.small', `… and ${list.length - SHOW_FILES} more`) : null,
    ] : h('p.muted', 'No media files.'));
  };
  await draw(run);
  let last = JSON.stringify(run.summary);
  return {
    async onRun(next) {
      const now = JSON.stringify(next.summary);
      if (now !== last) { last = now; await draw(next); }
    },
  };
}
