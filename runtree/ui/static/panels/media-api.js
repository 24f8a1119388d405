// What the media panels read: a run's media keys (from its summary), their values over steps (history by key,
// inherited steps of a fork included), its media files with sizes, and a file's URL by sha256.

import * as api from '../api.js';

export const FILE_TYPES = new Set(['image-file', 'table-file', 'audio-file', 'video-file', 'html-file', 'object3D-file', 'molecule-file', 'plotly-file']);
export const SEQUENCES = new Set(['images/separated', 'audio', 'videos']);

/** The URL of a media file of the run (served only when the run references it). */
export const fileUrl = (uid, sha256) => `/api/v1/runs/${encodeURIComponent(uid)}/media/${encodeURIComponent(sha256)}`;

/** {key: _type} of the run's media keys: the summary holds the last value of every key. */
export function mediaKeys(run) {
  const out = {};
  for (const [key, v] of Object.entries(run.summary || {})) {
    if (v && typeof v === 'object' && typeof v._type === 'string') out[key] = v._type;
  }
  return out;
}

/** [{step, value}] of one key over the run's visible history, in step order. */
export async function valuesOf(uid, key, signal) {
  const out = [];
  let minStep;
  for (;;) {
    const page = await api.history(uid, { keys: [key], minStep }, signal);
    const col = page.columns[key] || [];
    page.steps.forEach((step, i) => { if (col[i] && typeof col[i] === 'object') out.push({ step, value: col[i] }); });
    if (page.next === null || page.next === undefined) return out;
    minStep = page.next;
  }
}

/** The run's media files [{step, key, path, sha256, size, type}], in step order. */
export const mediaFiles = (uid, signal) => api.get(`/runs/${encodeURIComponent(uid)}/media`, {}, signal).then((d) => d.media);

/** A file's text (a table's JSON, an HTML page). */
export async function fileText(uid, sha256, signal) {
  const response = await fetch(fileUrl(uid, sha256), { signal, credentials: 'same-origin', headers: { 'X-Runtree-UI': '1' } });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.text();
}

/** 1536 -> '1.5 KB'. */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
