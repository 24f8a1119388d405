// Sign in: this server wants an API key. It is checked by POST /api/v1/session and kept in an HttpOnly cookie.

import * as api from '../api.js';
import { fill, h } from '../dom.js';

export function loginPage(main, ctx, onSignedIn) {
  document.title = 'Sign in · runtree';
  const input = h('input.input', { type: 'password', name: 'key', autocomplete: 'current-password', placeholder: 'rt_…', required: true, spellcheck: false, 'aria-label': 'API key' });
  const error = h('p.error', { role: 'alert' });
  const button = h('button.btn.primary', { type: 'submit' }, 'Sign in');
  const form = h('form.login', {
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      button.disabled = true;
      try {
        await api.login(input.value.trim());
        await onSignedIn();
      } catch (err) {
        error.textContent = err.unauthorized ? 'That key is not valid on this server (or it was revoked).' : err.message;
        input.select();
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h1', 'Sign in to runtree'),
  h('p.muted', 'This server needs an API key. Paste one (RUNTREE_API_KEY, or ask an admin for one made with ', h('code', 'runtree keys create'), '). It is kept in a cookie for this browser until you sign out.'),
  h('label.field', h('span', 'API key'), input),
  error,
  button);
  fill(main, h('section.page.center', h('div.card.login-card', form)));
  input.focus();
}
