// What a page shows lives in its URL (?key=value): filters, sort, columns, chart settings, zoom. Pages read
// it at start and write it back with replaceState on every change, so Back and a shared link restore it.

/** The page's settings from the query string, strings as they are. */
export function readView() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

/** Write `view` into the query string (empty and default values left out) without a new history entry. */
export function writeView(view, defaults = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(view)) {
    if (v === undefined || v === null || v === '' || String(v) === String(defaults[k] ?? '')) continue;
    p.set(k, String(v));
  }
  const qs = p.toString();
  const next = location.pathname + (qs ? `?${qs}` : '');
  if (next !== location.pathname + location.search) history.replaceState(history.state, '', next);
}

// Stable run colours: a run keeps its colour whatever the filter or sort (hash of its uid into the palette).
const COLORS = [
  '#2563eb', '#e8590c', '#0ca678', '#ae3ec9', '#d6336c', '#1098ad', '#f59f00', '#5c7cfa', '#74b816', '#c2255c',
  '#15aabf', '#fd7e14', '#37b24d', '#7048e8', '#f03e3e', '#1c7ed6', '#82c91e', '#be4bdb', '#fab005', '#0b7285',
  '#862e9c', '#e67700', '#2b8a3e', '#364fc7',
];

export function runColor(uid) {
  let h = 2166136261;
  for (let i = 0; i < uid.length; i++) h = Math.imul(h ^ uid.charCodeAt(i), 16777619);
  return COLORS[(h >>> 0) % COLORS.length];
}

/** Local, per-user preferences of a page (column widths, panel layout), as JSON in localStorage. */
export const prefs = {
  get(key, fallback = null) {
    try {
      const v = JSON.parse(localStorage.getItem(key) || 'null');
      return v === null ? fallback : v;
    } catch { return fallback; }
  },
  set(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* full or disabled: the URL still holds the view */ }
  },
};
