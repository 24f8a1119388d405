// Numbers, times and durations as the pages show them.

const pad = (n) => String(n).padStart(2, '0');

/** '2026-11-28 14:03:07' in the browser's time zone. */
export function dateTime(ts) {
  if (!ts) return '—';
  const d = new Date(ts * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** '3 min ago', '2 h ago', '5 d ago'. */
export function ago(ts, now = Date.now() / 1000) {
  if (!ts) return '—';
  const s = Math.max(0, now - ts);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 86400 * 60) return `${Math.round(s / 86400)} d ago`;
  return dateTime(ts).slice(0, 10);
}

/** '1h 02m', '3m 07s', '12.3s', '0.41s'. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, seconds);
  if (s < 10) return `${s.toFixed(2)}s`;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(Math.floor(s % 60))}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${pad(m % 60)}m`;
  return `${Math.floor(hrs / 24)}d ${pad(hrs % 24)}h`;
}

/** A run's runtime: until it finished, else until its last heartbeat (still running). */
export function runtime(run) {
  const end = run.finished_at ?? (run.state === 'running' ? Math.max(run.heartbeat_at, Date.now() / 1000) : run.heartbeat_at);
  return end && run.created_at ? end - run.created_at : null;
}

/** A metric value: up to 6 significant digits, exponent form for very large or small numbers. */
export function number(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v !== 'number') return JSON.stringify(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

/** Any config or summary value as short text (a W&B media value by its kind: the Media tab shows it). */
export function value(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return number(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && typeof v._type === 'string') return media(v);
  return JSON.stringify(v);
}

function media(v) {
  if (v._type === 'histogram') return `histogram (${(v.values || []).length} bins)`;
  if (v._type === 'table-file') return `table ${v.nrows ?? '?'}×${v.ncols ?? '?'}`;
  if (v.width && v.height) return `${v._type.replace('-file', '')} ${v.width}×${v.height}`;
  return v._type.replace('-file', '');
}

/** {a: {b: 1}} -> {'a.b': 1}: nested config and summary values as dotted keys (as W&B's tables show them). */
export function flatten(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof v._type !== 'string' && Object.keys(v).length) flatten(v, key, out);
    else out[key] = v;
  }
  return out;
}

/** The last step a run shows: its own last step, else the step it was forked at. */
export const lastStep = (run) => run.last_step ?? run.fork_step ?? null;
