// Audio and video players (a GIF video is an image), an HTML page in a sandboxed frame, other files as links;
// each with a step slider.

import { fill, h } from '../dom.js';
import { fileText, fileUrl } from './media-api.js';
import { stepper } from './stepper.js';

export function playerPanel(run, key, values, signal) {
  const frame = h('div.media-frame');
  const items = (v) => (v._type === 'audio' ? v.audio : v._type === 'videos' ? v.videos : [v]) || [];
  const one = (f, step) => {
    const src = fileUrl(run.uid, f.sha256);
    const path = String(f.path || '');
    if (f._type === 'audio-file') return h('audio', { controls: true, src, preload: 'metadata', 'data-step': step });
    if (f._type === 'video-file') {
      return path.endsWith('.gif') ? h('img', { src, alt: `${key} at _step ${step}`, 'data-step': step })
        : h('video', { controls: true, src, preload: 'metadata', 'data-step': step });
    }
    if (f._type === 'html-file') {
      // Sandboxed without scripts or same-origin access: a logged page can never act as the UI.
      const iframe = h('iframe.media-html', { sandbox: '', title: `${key} at _step ${step}`, 'data-step': step });
      fileText(run.uid, f.sha256, signal).then((text) => { iframe.srcdoc = text; }, () => { iframe.srcdoc = 'could not load'; });
      return iframe;
    }
    return h('a', { href: src, download: path.split('/').pop() }, path.split('/').pop());
  };
  const draw = (i) => {
    const { step, value } = values[i];
    fill(frame, items(value).map((f) => h('figure.media-item', one(f, step), f.caption ? h('figcaption.small', f.caption) : null)));
  };
  const { el, show } = stepper(values.map((x) => x.step), run, draw);
  const panel = h('section.card.media-panel', { 'data-key': key, 'data-kind': 'player' }, h('h3.panel-title', key), el, frame);
  show();
  return panel;
}
