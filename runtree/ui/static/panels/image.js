// An image panel: one key's images over steps with a slider (a fork's inherited steps included), the caption,
// and the size; a list of images (images/separated) shows them side by side.

import { fill, h } from '../dom.js';
import { fileUrl } from './media-api.js';
import { stepper } from './stepper.js';

export function imagePanel(run, key, values) {
  const frame = h('div.media-frame');
  const caption = h('div.caption.muted.small');
  const draw = (i) => {
    const v = values[i].value;
    const files = v._type === 'images/separated' ? (v.files || []) : [v];
    const captions = v._type === 'images/separated' ? (v.captions || []) : [v.caption];
    fill(frame, files.map((f, j) => h('figure.media-image',
      h('img', { src: fileUrl(run.uid, f.sha256), alt: `${key} at _step ${values[i].step}`, 'data-step': values[i].step, loading: 'lazy' }),
      captions[j] ? h('figcaption.small', captions[j]) : null)));
    caption.textContent = v.width && v.height ? `${v.width}×${v.height} ${v.format || ''}` : '';
  };
  const { el, show } = stepper(values.map((x) => x.step), run, draw);
  const panel = h('section.card.media-panel', { 'data-key': key, 'data-kind': 'image' }, h('h3.panel-title', key), el, frame, caption);
  show();
  return panel;
}
