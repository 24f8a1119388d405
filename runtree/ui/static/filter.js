// The runs table's filter language: clauses joined by "and" (or ";"), each `key op value`:
//   lr > 1e-3 · optimizer in (adam, lion) · optimizer not in (sgd) · state = finished · tags has best
//   name ~ chain (contains, case-insensitive) · batch_size != 32 · summary.val/acc >= 0.8
// A key is a run field (state, name, id, group, job_type, tags, parent, fork_step, last_step), else a config
// key, else a summary key; `config.` / `summary.` prefixes say which. Values: numbers, true/false, null,
// bare words or quoted text.

const FIELDS = new Set(['state', 'name', 'id', 'uid', 'group', 'job_type', 'tags', 'fork_step', 'last_step', 'epoch', 'notes', 'host']);
const CLAUSE = /^\s*([^\s=!<>~]+?)\s*(>=|<=|!=|==|=|>|<|~|\s+not\s+in\s+|\s+in\s+|\s+has\s+)\s*(.+?)\s*$/i;

function literal(text) {
  const t = text.trim();
  if (/^(['"]).*\1$/.test(t)) return t.slice(1, -1);
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t === 'null' || t === 'none') return null;
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  return t;
}

function listOf(text) {
  const inner = text.trim().replace(/^[([]/, '').replace(/[)\]]$/, '');
  return inner.split(',').map((x) => literal(x)).filter((x) => x !== '');
}

function equal(a, b) {
  if (a === undefined) return b === null;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a === 'boolean' || typeof b === 'boolean') return String(a) === String(b);
  if (a === null || b === null) return a === b;
  return String(typeof a === 'object' ? JSON.stringify(a) : a).toLowerCase() === String(b).toLowerCase();
}

/**
 * Parse filter text into { test(run, lookup), clauses, error }. lookup(run, key) gives a config/summary value
 * (flattened); `where(key)` says 'config' | 'summary' for a bare key.
 */
export function parseFilter(text, where) {
  const clauses = [];
  const parts = (text || '').split(/\s+and\s+|;|\n/i).map((p) => p.trim()).filter(Boolean);
  for (const part of parts) {
    const m = CLAUSE.exec(part);
    if (!m) return { error: `cannot read "${part}": write key op value (ops: = != > >= < <= ~ in has)`, clauses: [], test: () => true };
    let [, key, op, raw] = m;
    op = op.trim().toLowerCase().replace(/\s+/g, ' ');
    let kind = 'field';
    if (key.startsWith('config.')) { kind = 'config'; key = key.slice(7); }
    else if (key.startsWith('summary.')) { kind = 'summary'; key = key.slice(8); }
    else if (!FIELDS.has(key)) kind = where(key);
    const value = op === 'in' || op === 'not in' ? listOf(raw) : literal(raw);
    if (['>', '>=', '<', '<='].includes(op) && typeof value !== 'number') {
      return { error: `cannot read "${part}": ${op} needs a number, not "${raw}"`, clauses: [], test: () => true };
    }
    clauses.push({ key, kind, op, value });
  }
  const test = (run, lookup) => clauses.every((c) => {
    const v = c.kind === 'field' ? (c.key === 'parent' ? run.parent_uid : run[c.key]) : lookup(run, c.kind, c.key);
    switch (c.op) {
      case '=': case '==': return Array.isArray(v) ? v.some((x) => equal(x, c.value)) : equal(v, c.value);
      case '!=': return Array.isArray(v) ? !v.some((x) => equal(x, c.value)) : !equal(v, c.value);
      case 'in': return c.value.some((x) => equal(v, x));
      case 'not in': return !c.value.some((x) => equal(v, x));
      case 'has': return Array.isArray(v) ? v.some((x) => equal(x, c.value)) : typeof v === 'string' && v.toLowerCase().includes(String(c.value).toLowerCase());
      case '~': return v !== undefined && v !== null && String(typeof v === 'object' ? JSON.stringify(v) : v).toLowerCase().includes(String(c.value).toLowerCase());
      default: {
        if (typeof v !== 'number' || typeof c.value !== 'number') return false;
        if (c.op === '>') return v > c.value;
        if (c.op === '>=') return v >= c.value;
        if (c.op === '<') return v < c.value;
        return v <= c.value;
      }
    }
  });
  return { test, clauses, error: null };
}

/** Compare for sorting: empty values (undefined, null, NaN) last whichever the direction. */
export function sortRuns(list, valueOf, dir) {
  return list.sort((a, b) => {
    const va = valueOf(a);
    const vb = valueOf(b);
    const ea = va === null || va === undefined || Number.isNaN(va);
    const eb = vb === null || vb === undefined || Number.isNaN(vb);
    if (ea || eb) return ea === eb ? 0 : ea ? 1 : -1;
    if (typeof va === 'number' && typeof vb === 'number') return (va - vb) * dir;
    return String(va).localeCompare(String(vb), undefined, { numeric: true }) * dir;
  });
}
