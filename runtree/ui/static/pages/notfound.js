// The not-found page (a bad run id, project or path) and the page for any other failure.

import { fill, h, link } from '../dom.js';

export function notFoundPage(main, ctx, { title, message }) {
  document.title = `${title} · runtree`;
  fill(main, h('section.page.notfound', { 'data-testid': 'not-found' },
    h('div.big', '404'),
    h('h1', title),
    h('p.muted', message),
    h('p', link('/', '← All projects'))));
}

export function errorPage(main, ctx, error) {
  document.title = 'Error · runtree';
  fill(main, h('section.page.notfound',
    h('h1', 'Something went wrong'),
    h('p.muted', error && error.message ? error.message : String(error)),
    h('p', h('button.btn', { onclick: () => location.reload() }, 'Try again'), ' ', link('/', 'All projects'))));
}
