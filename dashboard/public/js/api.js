// Thin client for the dashboard's REST API. Errors come back as { code, message }.

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(method, url, body) {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers:
        body === undefined
          ? { accept: 'application/json' }
          : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
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
  if (!res.ok) {
    throw new ApiFailure(res.status, data?.code ?? `HTTP_${res.status}`, data?.message ?? res.statusText);
  }
  return data;
}

export const api = {
  stations: () => request('GET', '/api/stations'),
  incidents: (state = 'open', limit = 200) => request('GET', `/api/incidents?state=${state}&limit=${limit}`),
  incident: (id) => request('GET', `/api/incidents/${encodeURIComponent(id)}`),
  stationIncidents: (stationId, state = 'open', limit = 100) =>
    request('GET', `/api/stations/${encodeURIComponent(stationId)}/incidents?state=${state}&limit=${limit}`),
  action: (stationId, incidentId, body) =>
    request(
      'POST',
      `/api/stations/${encodeURIComponent(stationId)}/incidents/${encodeURIComponent(incidentId)}/actions`,
      body,
    ),
};
