// An image panel: one key's images over steps with a slider (a fork's inherited steps included), the caption,
// and the size; a list of images (images/separated) shows them side by side. Bounding boxes (wandb's boxes2D
// files) are drawn over their image, masks shown beside it.

import { fill, h, s } from '../dom.js';
import { fileText, fileUrl } from './media-api.js';
import { stepper } from './stepper.js';

const COLORS = ['#e8590c', '#2563eb', '#0ca678', '#ae3ec9', '#d6336c', '#1098ad'];

/** An SVG layer over an image of width x height with the boxes of one boxes2D file ({box_data, class_labels}). */
function boxLayer(data, width, height) {
  const layer = s('svg', { class: 'boxes', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none' });
  for (const box of data.box_data || []) {
    const p = box.position || {};
    const pixel = box.domain === 'pixel';
    let x0; let y0; let x1; let y1;
    if (p.minX !== undefined) [x0, x1, y0, y1] = [p.minX, p.maxX, p.minY, p.maxY];
    else [x0, x1, y0, y1] = [p.middle[0] - p.width / 2, p.middle[0] + p.width / 2, p.middle[1] - p.height / 2, p.middle[1] + p.height / 2];
    if (!pixel) { x0 *= width; x1 *= width; y0 *= height; y1 *= height; }
    const label = box.box_caption ?? data.class_labels?.[box.class_id] ?? String(box.class_id ?? '');
    const color = COLORS[Math.abs(Number(box.class_id) || 0) % COLORS.length];
    layer.append(s('rect', { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: 'none', stroke: color, 'stroke-width': Math.max(width, height) / 100, 'vector-effect': 'non-scaling-stroke' },
      s('title', {}, label)));
  }
  return layer;
}

function figure(run, key, step, f, caption) {
  const img = h('img', { src: fileUrl(run.uid, f.sha256), alt: `${key} at _step ${step}`, 'data-step': step, loading: 'lazy' });
  const holder = h('div.image-holder', img);
  for (const [name, b] of Object.entries(f.boxes || {})) {
    fileText(run.uid, b.sha256).then((text) => {
      const layer = boxLayer(JSON.parse(text), f.width || 1, f.height || 1);
      layer.dataset.boxes = name;
      holder.append(layer);
    }, () => {});
  }
  const masks = Object.entries(f.masks || {}).map(([name, m]) => h('figure.media-image.mask',
    h('img', { src: fileUrl(run.uid, m.sha256), alt: `${key} mask ${name}`, 'data-mask': name }), h('figcaption.small.muted', `mask: ${name}`)));
  return [h('figure.media-image', holder, caption ? h('figcaption.small', caption) : null), masks];
}

export function imagePanel(run, key, values) {
  const frame = h('div.media-frame');
  const caption = h('div.caption.muted.small');
  const draw = (i) => {
    const { step, value: v } = values[i];
    const files = v._type === 'images/separated' ? (v.files || []) : [v];
    const captions = v._type === 'images/separated' ? (v.captions || []) : [v.caption];
    fill(frame, files.map((f, j) => figure(run, key, step, f, captions[j])));
    caption.textContent = v.width && v.height ? `${v.width}×${v.height} ${v.format || ''}` : '';
  };
  const { el, show } = stepper(values.map((x) => x.step), run, draw);
  const panel = h('section.card.media-panel', { 'data-key': key, 'data-kind': 'image' }, h('h3.panel-title', key), el, frame, caption);
  show();
  return panel;
}
