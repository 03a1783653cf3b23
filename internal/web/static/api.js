// The HTTP side of the API: same-origin JSON requests with the session cookie,
// and RFC 9457 problem details turned into an ApiError with per-field messages.

/** ApiError is a failed request. status 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    const p = problem && typeof problem === 'object' ? problem : {};
    super(p.detail || p.title || (status ? `Request failed (${status})` : 'Cannot reach the server'));
    this.status = status;
    this.problem = p;
    this.fields = fieldErrors(p);
    this.retryAfter = retryAfter || '';
  }
}

// fieldName turns "username", "/username", "body.username" or
// "spec.user.username" into the JSON field name "username".
function fieldName(f) {
  const s = String(f || '');
  const parts = s.split(/[./]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : s;
}

/**
 * fieldErrors reads the problem's `errors` member, either an array of
 * {field, message} (also accepted: name/pointer and detail/reason) or a map
 * field -> message(s), and returns a Map field -> message.
 */
export function fieldErrors(problem) {
  const out = new Map();
  const errs = problem && problem.errors;
  const add = (field, msg) => {
    const name = fieldName(field);
    if (!msg) return;
    out.set(name, out.has(name) ? `${out.get(name)} ${msg}` : String(msg));
  };
  if (Array.isArray(errs)) {
    for (const e of errs) {
      if (typeof e === 'string') { add('', e); continue; }
      if (!e || typeof e !== 'object') continue;
      add(e.field ?? e.name ?? e.pointer ?? e.path ?? '', e.message ?? e.detail ?? e.reason ?? '');
    }
  } else if (errs && typeof errs === 'object') {
    for (const [k, v] of Object.entries(errs)) {
      add(k, Array.isArray(v) ? v.join(' ') : v);
    }
  }
  return out;
}

/**
 * api sends one request and resolves to the decoded JSON body (null for an
 * empty body), or rejects with an ApiError.
 */
export async function api(method, path, body) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json, application/problem+json' },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, null);
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    throw new ApiError(0, null);
  }
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    throw new ApiError(res.status, data || { title: res.statusText }, res.headers.get('Retry-After'));
  }
  return data;
}

/** randomId returns 128 random bits as hex; it works outside secure contexts too. */
export function randomId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
