// The app: who is calling, which page a path shows, and the life of a page (its requests and polls end when
// the user leaves it). Pages are functions page(main, params, ctx) in pages/*.js.

import * as api from './api.js';
import { fill, h, link } from './dom.js';
import { projectsPage } from './pages/projects.js';
import { projectPage } from './pages/project.js';
import { runPage } from './pages/run.js';
import { loginPage } from './pages/login.js';
import { notFoundPage, errorPage } from './pages/notfound.js';

const ROUTES = [
  [/^\/$/, () => projectsPage],
  [/^\/p\/([^/]+)\/([^/]+)\/?(tree|table)?\/?$/, (m) => (main, ctx) => projectPage(main, { entity: m[1], project: m[2], view: m[3] || 'workspace' }, ctx)],
  [/^\/r\/([^/]+)\/?(overview|charts|media|system|logs)?\/?$/, (m) => (main, ctx) => runPage(main, { uid: m[1], tab: m[2] || 'charts' }, ctx)],
  [/^\/r\/([^/]+)\/archive\/(\d+)\/?$/, (m) => (main, ctx) => runPage(main, { uid: m[1], tab: 'archive', archive: Number(m[2]) }, ctx)],
];

const main = document.getElementById('main');
const crumbs = document.getElementById('crumbs');
let current = null; // the page shown: { abort: AbortController, timers: [] }
export const session = { who: null };

/** What a page gets: a signal that aborts when it is left, polling, navigation and the breadcrumbs. */
function context() {
  const ctrl = new AbortController();
  const timers = [];
  const page = { ctrl, timers };
  return {
    page,
    signal: ctrl.signal,
    get alive() { return current === page; },
    navigate,
    /** Call fn every `ms` while the page is shown and the tab visible; fn returning false stops it. */
    poll(fn, ms) {
      let stopped = false;
      const tick = async () => {
        if (stopped || current !== page) return;
        if (document.visibilityState === 'visible') {
          try {
            if ((await fn()) === false) { stopped = true; return; }
          } catch (e) {
            if (e instanceof api.ApiError && e.unauthorized && current === page) {
              // The key was revoked (or the cookie expired) while the page was open: ask for one again.
              session.who = null;
              showWho();
              render();
              return;
            }
            if (e.name !== 'AbortError') console.warn('poll failed:', e);
          }
        }
        if (!stopped && current === page) timers.push(setTimeout(tick, ms));
      };
      timers.push(setTimeout(tick, ms));
      return () => { stopped = true; };
    },
    crumbs(...parts) { setCrumbs(parts); },
  };
}

function setCrumbs(parts) {
  const items = [link('/', 'Projects'), ...parts.filter(Boolean)];
  fill(crumbs, items.map((p, i) => [i ? h('span.sep', '/') : null, typeof p === 'string' ? h('span', p) : p]));
}

function leave() {
  if (!current) return;
  current.ctrl.abort();
  for (const t of current.timers) clearTimeout(t);
  current = null;
}

async function render() {
  leave();
  const ctx = context();
  current = ctx.page;
  setCrumbs([]);
  const path = decodeURI(location.pathname);
  const route = ROUTES.map(([re, make]) => [re.exec(path), make]).find(([m]) => m);
  try {
    if (!session.who) {
      await loginPage(main, ctx, async () => { await refreshSession(); render(); });
      return;
    }
    if (!route) {
      notFoundPage(main, ctx, { title: 'Page not found', message: `There is no page at ${path}.` });
      return;
    }
    const [m, make] = route;
    await make(m)(main, ctx);
  } catch (e) {
    if (e.name === 'AbortError' || !ctx.alive) return;
    if (e instanceof api.ApiError && e.unauthorized) {
      session.who = null;
      showWho();
      render();
      return;
    }
    if (e instanceof api.ApiError && e.notFound) notFoundPage(main, ctx, { title: e.title || 'Not found', message: e.message });
    else if (e instanceof api.ApiError && e.status === 403) notFoundPage(main, ctx, { title: 'Not allowed', message: `Your API key may not read this. ${e.message}` });
    else errorPage(main, ctx, e);
  }
}

export function navigate(href, { replace = false } = {}) {
  if (href === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', href);
  window.scrollTo(0, 0);
  render();
}

function showWho() {
  const box = document.getElementById('whoami');
  const who = session.who;
  if (!who || who.prefix === 'local') {
    fill(box, who ? h('span.muted', { title: 'runtree ui: this machine only, no API keys' }, 'local') : null);
    return;
  }
  const scope = who.admin ? 'admin' : who.entities.join(', ');
  const signOut = h('button.btn.small.ghost', {
    onclick: async () => {
      await api.logout();
      session.who = null;
      showWho();
      render();
    },
  }, 'Sign out');
  fill(box, h('span.key', { title: `API key ${who.prefix}… may read: ${scope}` }, `${who.prefix}…`, h('span.muted', ` · ${scope}`)), signOut);
}

/** Who the browser is to this server: null when it must sign in first. */
export async function refreshSession() {
  try {
    session.who = await api.whoami();
  } catch (e) {
    if (!(e instanceof api.ApiError && e.unauthorized)) throw e;
    session.who = null;
  }
  showWho();
  return session.who;
}

// Same-origin links marked data-link are followed without a page load (a modified click opens a tab as usual).
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.getAttribute('href'), location.href); // an SVG <a> has no string href
  if (url.origin !== location.origin) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => render());

async function start() {
  try {
    await refreshSession();
  } catch (e) {
    errorPage(main, context(), e);
    return;
  }
  render();
}

start();
