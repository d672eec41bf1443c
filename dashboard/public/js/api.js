// Thin client for the dashboard's REST API. Errors come back as { code, message }.

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(method, url, body, contentType = 'application/json') {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers:
        body === undefined
          ? { accept: 'application/json' }
          : { 'content-type': contentType, accept: 'application/json' },
      body: body === undefined ? undefined : contentType === 'application/json' ? JSON.stringify(body) : body,
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiFailure(0, 'E_NETWORK', String(err));
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.status === 401 && url !== '/api/auth/login' && url !== '/api/auth/logout') {
    // Session expired or revoked (shift change): back to the login page, then here again.
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!res.ok) {
    const failure = new ApiFailure(
      res.status,
      data?.code ?? `HTTP_${res.status}`,
      data?.message ?? res.statusText,
    );
    failure.data = data;
    throw failure;
  }
  return data;
}

export const api = {
  stations: () => request('GET', '/api/stations'),
  incidents: (state = 'open', limit = 200) => request('GET', `/api/incidents?state=${state}&limit=${limit}`),
  incident: (id) => request('GET', `/api/incidents/${encodeURIComponent(id)}`),
  stationIncidents: (stationId, state = 'open', limit = 100) =>
    request('GET', `/api/stations/${encodeURIComponent(stationId)}/incidents?state=${state}&limit=${limit}`),
  // The acting station is the session's: the server never takes it from the request.
  action: (incidentId, body) =>
    request('POST', `/api/incidents/${encodeURIComponent(incidentId)}/actions`, body),
  login: (username, password) => request('POST', '/api/auth/login', { username, password }),
  logout: () => request('POST', '/api/auth/logout', {}),
  me: () => request('GET', '/api/auth/me'),
  revokeStation: (stationId) => request('POST', '/api/sessions/revoke', { stationId }),
  accounts: () => request('GET', '/api/accounts'),
  confirmIncident: (incidentId, note) =>
    request(
      'POST',
      `/api/incidents/${encodeURIComponent(incidentId)}/confirm`,
      note === undefined ? {} : { note },
    ),
  map: () => request('GET', '/api/township/map'),
  fleet: () => request('GET', '/api/township/fleet'),
  tickets: (state = 'open', limit = 200) => request('GET', `/api/tickets?state=${state}&limit=${limit}`),
  ticketAction: (ticketId, body) =>
    request('POST', `/api/tickets/${encodeURIComponent(ticketId)}/actions`, body),
  stats: (from, to) => request('GET', `/api/stats?from=${from}&to=${to}`),
  keyPeriod: () => request('GET', '/api/key-period'),
  setKeyPeriod: (mode) => request('PUT', '/api/key-period', { mode }),
  /** kind: buildings | devices | stations (all or nothing; a 422 carries the problems per line). */
  importRegistry: (kind, csvText, dryRun) =>
    request('POST', `/api/registry/${kind}.csv?dryRun=${dryRun ? 'true' : 'false'}`, csvText, 'text/csv'),
  history: (deviceId, from, to) =>
    request('GET', `/api/devices/${encodeURIComponent(deviceId)}/history?from=${from}&to=${to}`),
};
