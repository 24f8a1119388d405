// The server's JSON API under /api/v1, as the UI uses it. Every call sends the X-Runtree-UI header: with the
// key cookie it is what lets a change (PATCH) through, and a page on another site cannot send it.

const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
  get notFound() { return this.status === 404; }
  get unauthorized() { return this.status === 401; }
}

async function request(method, path, { params, body, signal } = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  const headers = { 'X-Runtree-UI': '1', Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, credentials: 'same-origin' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `the server did not answer (${e.message})`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
  if (!response.ok) {
    const err = data && data.error ? data.error : { type: 'http_error', message: `${response.status} ${response.statusText}` };
    throw new ApiError(response.status, err.type, err.message);
  }
  return data;
}

export const get = (path, params, signal) => request('GET', path, { params, signal });

export const whoami = () => get('/whoami');
export const login = (key) => request('POST', '/session', { body: { key } });
export const logout = () => request('DELETE', '/session');
export const projects = (signal) => get('/projects', {}, signal).then((d) => d.projects);
export const runs = (entity, project, signal) => get('/runs', { entity, project }, signal).then((d) => d.runs);
export const children = (uid, signal) => get('/runs', { parent_uid: uid }, signal).then((d) => d.runs);
export const run = (uid, signal) => get(`/runs/${encodeURIComponent(uid)}`, {}, signal);
export const segments = (uid, signal) => get(`/runs/${encodeURIComponent(uid)}/segments`, {}, signal).then((d) => d.segments);
export const rewinds = (uid, signal) => get(`/runs/${encodeURIComponent(uid)}/rewinds`, {}, signal).then((d) => d.rewinds);
export const system = (uid, signal) => get(`/runs/${encodeURIComponent(uid)}/system`, {}, signal).then((d) => d.samples);
export const logs = (uid, signal) => get(`/runs/${encodeURIComponent(uid)}/logs`, {}, signal).then((d) => d.lines);
export const files = (uid, signal) => get(`/runs/${encodeURIComponent(uid)}/files`, {}, signal).then((d) => d.files);
export const updateRun = (uid, fields) => request('PATCH', `/runs/${encodeURIComponent(uid)}`, { body: { fields } });

/** The step and time of the last row of `segs` (null when they hold none). */
export const lastRow = (segs, signal) => request('POST', '/query/last-row', { body: { segments: segs }, signal }).then((d) => d.last);

/**
 * A run's visible history as a Table. `samples` downsamples per key on the server (min and max per bucket);
 * `preview` asks for a quick approximate look first (the answer says `preview: true` when it is one).
 */
export async function history(uid, { keys, samples, minStep, maxStep, limit, preview } = {}, signal) {
  const page = await get(`/runs/${encodeURIComponent(uid)}/history`, {
    keys, samples, min_step: minStep, max_step: maxStep, limit, preview: preview ? 'true' : undefined,
  }, signal);
  return decode(page);
}

/** History rows of explicit segments (an archived segment), downsampled like `history`. */
export async function segmentHistory(segs, { samples, minStep, maxStep } = {}, signal) {
  const body = { segments: segs, samples, min_step: minStep, max_step: maxStep };
  return decode(await request('POST', '/query/history', { body, signal }));
}

/**
 * A columnar history page as { n, steps, columns, preview, next }. Values the JSON could not carry (NaN, ±inf)
 * are null, which a chart draws as a gap; an integer too large for JSON becomes the nearest number.
 */
export function decode(page) {
  const columns = page.columns || {};
  for (const [key, entries] of Object.entries(page.exact || {})) {
    const col = columns[key];
    for (const [i, text] of entries) {
      const v = Number(text);
      col[i] = Number.isFinite(v) ? v : null;
    }
  }
  const steps = columns._step || [];
  return { n: page.n, steps, columns, preview: page.preview === true, next: page.next_min_step ?? null };
}

/** Many runs' series of `keys` at once: { uid: { key: { points, steps, time, values, smooth? } } }. */
export const series = (uids, keys, { samples, smoothing, time } = {}, signal) =>
  request('POST', '/query/series', { body: { uids, keys, samples, smoothing: smoothing || undefined, time: time || undefined }, signal }).then((d) => d.runs);
/** Runs a link names: by uid, else by short id (unique per project only, so maybe several). */
export const resolve = (ref, signal) => get(`/resolve/${encodeURIComponent(ref)}`, {}, signal).then((d) => d.runs);
const scope = (entity, project) => `/settings/workspace/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
/** The project's shared workspace layout (null when none was saved). */
export const workspaceLayout = (entity, project, signal) => get(scope(entity, project), {}, signal).then((d) => d.value);
export const saveWorkspaceLayout = (entity, project, value) => request('PUT', scope(entity, project), { body: { value } });
/** Correlation and random-forest importance of config keys for a summary metric. */
export const importance = (uids, metric, params, signal) => request('POST', '/query/importance', { body: { uids, metric, params }, signal });
