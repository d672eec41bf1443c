import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Incident } from '@hub/protocol';
import { verifySecret } from '@hub/registry';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_PASSWORD } from '../support/auth.js';
import { launchChromium } from '../support/chromium.js';
import { type E2eHub, startE2eHub } from '../support/e2e-hub.js';
import { waitFor } from '../support/fixtures.js';

// The page.evaluate/waitForFunction callbacks run in the browser; Node's types have no DOM
// (and adding lib "dom" changes fetch's types for the whole workspace), so declare what they use.
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  documentElement: { lang: string };
  querySelector(selector: string): { textContent: string | null } | null;
};
declare function getComputedStyle(node: unknown): { backgroundColor: string };

/**
 * Real headless Chromium against the real dashboard, the real alerts service and the
 * test Redis: an alarm XADDed the way the broker writes it becomes an incident, a page
 * and a takeover on the duty console; the officer's clicks go through the actions
 * stream to alerts and come back on the live stream.
 */
// A loaded CI machine (two cores, other suites in parallel) makes a real browser slow.
vi.setConfig({ testTimeout: 90_000 });

const SHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

let hub: E2eHub;
/** The s2 officer's page, kept for the shift-change test. */
let officerS2: Page;
/** The s1 officer's page (station tests, and the decline test at the end). */
let officer: Page;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** Uncaught errors in the pages: the last test asserts there were none. */
const pageErrors: string[] = [];

async function loginAs(username: string, path: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  contexts.push(ctx);
  ctx.setDefaultTimeout(45_000);
  await ctx.grantPermissions(['notifications'], { origin: hub.base });
  const page = await ctx.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${username}: ${err.message}`));
  if (process.env.HUB_TEST_BROWSER_LOG) page.on('console', (m) => console.log(username, m.type(), m.text()));
  await page.goto(hub.base + path);
  // No session yet: the console sends the browser to the login page and back.
  await page.waitForURL(/\/login\?next=/);
  await page.fill('#username', username);
  await page.fill('#password', TEST_PASSWORD);
  await page.click('#login-submit');
  await page.waitForURL((u) => u.pathname === path);
  return page;
}

async function incident(id: string): Promise<Incident> {
  const raw = await hub.redis.get(hub.keys.incident(id));
  if (raw === null) throw new Error(`no incident ${id}`);
  return JSON.parse(raw) as Incident;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  hub = await startE2eHub('dash_e2e_station');
}, 900_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await hub?.close();
});

describe('station console in Chromium', () => {
  let incidentId: string;

  it('logs in through the login page and warns loudly while sound is off', async () => {
    officer = await loginAs('duty-s1', '/station/s1');
    await officer.waitForSelector('#conn.conn-up');
    // The name comes with the first REST load after the stream opens.
    await officer.waitForFunction(() =>
      /东坑村微型消防站/.test(document.querySelector('#station-name')?.textContent ?? ''),
    );
    expect(await officer.textContent('#sound-notice')).toContain('声音未开启');
    expect(await officer.getAttribute('body', 'data-sound')).toBe('off');
    await officer.click('#start-duty');
    await officer.waitForFunction(() => document.body.dataset.sound === 'on');
    expect(await officer.textContent('#sound-notice')).toContain('声音已开启');
    expect(await officer.isVisible('#start-duty')).toBe(false);
  });

  it('an alarm takes over the screen: red banner, siren, building card and accept countdown', async () => {
    await hub.alarm('d-b1-301');
    const card = await officer.waitForSelector('#takeover:not([hidden]) .card.alerting.lane-fire', {
      timeout: 20_000,
    });
    incidentId = (await card.getAttribute('data-incident-id')) as string;
    expect(incidentId).toBeTruthy();
    await officer.waitForFunction(() => document.body.dataset.siren === 'playing');
    expect(await officer.textContent('#takeover-banner')).toContain('火警');
    // The incident may arrive on the live stream before its page; the contacts and the
    // distance (per station) follow from the page or the station's REST view.
    await officer.waitForFunction(
      () =>
        /13800000000/.test(document.querySelector('.card.alerting')?.textContent ?? '') &&
        /\d+ 米/.test(document.querySelector('.card.alerting')?.textContent ?? ''),
    );
    // Re-read: every render replaces the cards, so the first handle may be stale.
    const text = (await officer.textContent('.card.alerting')) ?? '';
    for (const s of [
      '东坑村12号出租屋',
      '示范镇东坑村解放路12号',
      '3 层',
      '301',
      '出租屋/群租房',
      '13800000000',
      '王伟',
      'd-b1-301',
      '未核实',
    ]) {
      expect(text, s).toContain(s);
    }
    expect(text).toMatch(/\d+ 米/);
    await officer.waitForFunction(() =>
      /请在 [01]:\d\d 内接警/.test(document.querySelector('.countdown-accept')?.textContent ?? ''),
    );
    // The takeover is red (fire), not the yellow of faults.
    const bg = await officer.$eval('#takeover', (n) => getComputedStyle(n).backgroundColor);
    expect(bg).toBe('rgb(142, 0, 0)');
    // Let the Leaflet mini-map draw before the screenshot.
    await officer.waitForSelector('.card.alerting .mini-map.leaflet-container path');
    await officer.screenshot({ path: `${SHOTS}station-alarm.png` });
    // Duty officers also carry it on a phone.
    await officer.setViewportSize({ width: 390, height: 844 });
    await officer.screenshot({ path: `${SHOTS}station-alarm-phone.png`, fullPage: true });
    await officer.setViewportSize({ width: 1280, height: 900 });
  });

  it("another station's officer can neither see nor act on it", async () => {
    const other = await loginAs('duty-s2', '/station/s2');
    officerS2 = other;
    await other.waitForSelector('#conn.conn-up');
    expect(await other.isVisible('#empty')).toBe(true);
    expect(await other.$$('.card')).toHaveLength(0);
    const res = await other.goto(`${hub.base}/station/s1`);
    expect(res?.status()).toBe(403);
    expect(await other.textContent('body')).toContain('E_OTHER_STATION');
    const api = await other.evaluate(async (id) => {
      const get = await fetch(`/api/incidents/${id}`);
      const post = await fetch(`/api/incidents/${id}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'accept' }),
      });
      const code = async (r: Response) => ((await r.json()) as { code: string }).code;
      return [get.status, await code(get), post.status, await code(post)];
    }, incidentId);
    expect(api).toEqual([403, 'E_STATION_NOT_PAGED', 403, 'E_STATION_NOT_PAGED']);
    expect((await incident(incidentId)).stationId).toBeNull();
  });

  it('accept stops the siren and starts the on-scene countdown', async () => {
    await officer.click('.card.alerting .btn-accept');
    await officer.waitForSelector(
      `#incidents .card[data-incident-id="${incidentId}"][data-state="accepted"]`,
      {
        timeout: 20_000,
      },
    );
    expect(await officer.isHidden('#takeover')).toBe(true);
    expect(await officer.getAttribute('body', 'data-siren')).toBe('silent');
    await officer.waitForFunction(() =>
      /须在 [0-3]:\d\d 内到场/.test(document.querySelector('.countdown-onscene')?.textContent ?? ''),
    );
    const inc = await incident(incidentId);
    expect(inc).toMatchObject({ state: 'accepted', stationId: 's1' });
    expect(inc.onSceneBy).not.toBeNull();
    await officer.screenshot({ path: `${SHOTS}station-accepted.png` });
  });

  it('en route → on scene → close with a disposition code', async () => {
    const card = `#incidents .card[data-incident-id="${incidentId}"]`;
    await officer.click(`${card} .btn-en_route`);
    await officer.waitForSelector(`${card}[data-state="en_route"]`, { timeout: 20_000 });
    await officer.click(`${card} .btn-on_scene`);
    await officer.waitForSelector(`${card}[data-state="on_scene"]`, { timeout: 20_000 });
    // Closing without a disposition is refused in the console.
    await officer.click(`${card} .btn-close`);
    expect(await officer.textContent(`${card} .error`)).toContain('请先选择处置结果');
    await officer.selectOption(`${card} .disposition-select`, 'false_cooking');
    await officer.click(`${card} .btn-close`);
    await officer.waitForSelector(`${card}[data-state="closed"]`, { timeout: 20_000 });
    expect(await officer.textContent(`${card} .disposition`)).toContain('误报-烹饪油烟');
    const inc = (await waitFor(async () => {
      const i = await incident(incidentId);
      return i.state === 'closed' ? i : null;
    })) as Incident;
    expect(inc).toMatchObject({ state: 'closed', disposition: 'false_cooking', stationId: 's1' });
    expect(inc.onSceneAt).not.toBeNull();
  });

  it('English is selectable', async () => {
    await officer.click('#lang');
    await officer.waitForFunction(() => document.documentElement.lang === 'en');
    await officer.waitForSelector('#conn.conn-up');
    expect(await officer.textContent('#sound-notice')).toContain('SOUND IS OFF');
    expect(await officer.textContent('#start-duty')).toBe('Start duty');
    await officer.click('#lang'); // back to Chinese for the rest
  });
});

describe('township console in Chromium', () => {
  let operator: Page;

  it('lists every incident of the township, live', async () => {
    operator = await loginAs('office-tw1', '/township');
    await operator.waitForSelector('#conn.conn-up');
    // The closed incident of the station test is in the full list.
    await operator.click('#show-all');
    await operator.waitForSelector('#incident-rows tr.state-closed');
    // A new alarm elsewhere arrives live as a red paging row.
    await hub.alarm('d-b2-101');
    const row = await operator.waitForSelector('#incident-rows tr.lane-fire.state-paging', {
      timeout: 20_000,
    });
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('西岭村养老院');
    expect(text).toContain('养老院');
    expect(text).toContain('呼叫中');
    expect(await operator.textContent('#n-paging')).toBe('1');
    await operator.screenshot({ path: `${SHOTS}township.png`, fullPage: true });
  });

  it("an operator's human confirmation goes to alerts and comes back as 已确认", async () => {
    const id = (await operator.getAttribute(
      '#incident-rows tr.lane-fire.state-paging',
      'data-incident-id',
    )) as string;
    await operator.click(`#incident-rows tr[data-incident-id="${id}"] .btn-confirm`);
    await operator.waitForFunction(
      (incId) =>
        /已确认/.test(
          document.querySelector(`#incident-rows tr[data-incident-id="${incId}"]`)?.textContent ?? '',
        ),
      id,
    );
    expect(JSON.parse((await hub.redis.get(hub.keys.incident(id))) as string)).toMatchObject({
      verification: 'confirmed',
    });
  });

  it('map: buildings and stations as offline GeoJSON layers, the open incident on top', async () => {
    // The layers come as GeoJSON from the dashboard itself (no map server).
    const mapData = operator.waitForResponse((r) => r.url().endsWith('/api/township/map'));
    await operator.click('.tab[data-tab="map"]');
    await operator.waitForSelector('#township-map.leaflet-container');
    const layers = (await (await mapData).json()) as {
      buildings: { type: string; features: Array<{ properties: { id: string } }> };
      stations: { type: string; features: Array<{ properties: { id: string } }> };
    };
    expect(layers.buildings.type).toBe('FeatureCollection');
    expect(layers.buildings.features.map((f) => f.properties.id).sort()).toEqual(['b1', 'b2']);
    expect(layers.stations.features.map((f) => f.properties.id).sort()).toEqual(['s1', 's2']);
    // Stations are drawn with permanent name labels; building markers go to the canvas.
    // initMap adds every station label in one go.
    await operator.waitForSelector('.leaflet-tooltip.map-label:not(.map-label-incident)');
    const stationLabels = await operator.$$eval('.leaflet-tooltip.map-label:not(.map-label-incident)', (ns) =>
      ns.map((n) => n.textContent ?? '').sort(),
    );
    expect(stationLabels).toEqual(['东坑村微型消防站', '西岭村微型消防站'].sort());
    expect(await operator.$$('#township-map .leaflet-overlay-pane canvas')).toHaveLength(1);
    // The paging fire incident at 西岭村养老院 is a red marker with a permanent label.
    await operator.waitForSelector('.map-label-incident', { timeout: 20_000 });
    expect(await operator.textContent('.map-label-incident')).toContain('西岭村养老院');
    expect(await operator.$$('.leaflet-tile')).toHaveLength(0); // no tile server
    await operator.screenshot({ path: `${SHOTS}township-map.png` });
  });

  it("fleet health: online rate and the silent worklist per grid (ingest's liveness keys), history chart from InfluxDB", async () => {
    // What ingest's heartbeat supervision keeps (protocol/src/liveness.ts).
    const t0 = Date.now();
    await hub.redis.zadd(
      hub.keys.livenessDeadlines,
      t0,
      'd-b1-301',
      t0,
      'd-b1-302',
      t0,
      'd-b2-101',
      t0,
      'e-b2-main',
    );
    await hub.redis.zadd(hub.keys.livenessSilent, t0 - 3_600_000, 'd-b1-302');
    // Readings as ingest writes them (ingest/src/line-protocol.ts).
    const lines = Array.from({ length: 30 }, (_, i) => {
      const at = t0 - (30 - i) * 120_000;
      return `smoke,device=d-b1-302,kind=smoke,model=SD-1,township=tw1 smoke=${(0.2 + (i % 7) * 0.1).toFixed(2)},temp_c=${24 + (i % 5)},battery=${80 - i},seq=${i}i ${at}`;
    });
    const w = await hub.influx.writeRaw(
      `/write?db=${hub.influxDb}&precision=ms`,
      new TextEncoder().encode(lines.join('\n')),
    );
    expect(w.status).toBe(204);

    await operator.click('.tab[data-tab="fleet"]');
    const g01 = await operator.waitForSelector('#grid-rows tr[data-grid="g01"]');
    expect(await (await g01.$('.n-silent'))?.textContent()).toBe('1');
    expect(await g01.textContent()).toContain('d-b1-302');
    expect(await g01.textContent()).toContain('东坑村12号出租屋');
    expect(await operator.textContent('#fleet-summary')).toContain('75.0%');
    await operator.click('#grid-rows tr[data-grid="g01"] .linkish');
    await operator.waitForSelector('#history-charts .chart[data-measurement="smoke"] canvas', {
      timeout: 20_000,
    });
    expect(await operator.textContent('#history-charts')).toContain('battery');
    await operator.screenshot({ path: `${SHOTS}township-fleet.png`, fullPage: true });
  });

  it("a hazard ticket's life: opened by alerts, assigned, rectifying, closed with evidence", async () => {
    await operator.click('.tab[data-tab="tickets"]');
    await operator.waitForFunction(() => document.body.dataset.loaded === 'tickets');
    await hub.alarm('e-b2-main', 'leakage', 'other');
    const card = await operator.waitForSelector('#ticket-list .card.ticket[data-state="open"]', {
      timeout: 20_000,
    });
    const ticketId = (await card.getAttribute('data-ticket-id')) as string;
    const sel = `#ticket-list .card.ticket[data-ticket-id="${ticketId}"]`;
    expect(await operator.textContent(sel)).toContain('西岭村养老院');
    expect(await operator.textContent(sel)).toContain('电气隐患');
    await operator.fill(`${sel} .owner-input`, 'grid-li');
    await operator.click(`${sel} .btn-assign`);
    await operator.waitForSelector(`${sel}[data-state="assigned"]`, { timeout: 20_000 });
    expect(await operator.textContent(`${sel} .owner`)).toBe('grid-li');
    await operator.click(`${sel} .btn-rectify`);
    await operator.waitForSelector(`${sel}[data-state="rectifying"]`, { timeout: 20_000 });
    await operator.screenshot({ path: `${SHOTS}township-tickets.png` });
    await operator.fill(`${sel} .evidence-input`, '已更换漏电保护器并复测正常');
    await operator.click(`${sel} .btn-ticket-close`);
    // Closed tickets leave the open list; the stored ticket carries the evidence.
    await operator.waitForSelector(sel, { state: 'detached', timeout: 20_000 });
    const stored = JSON.parse((await hub.redis.get(hub.keys.hazardTicket(ticketId))) as string);
    expect(stored).toMatchObject({
      state: 'closed',
      ownerId: 'grid-li',
      closedBy: 'office-tw1',
      evidence: { text: '已更换漏电保护器并复测正常' },
    });
  });

  it('statistics from the incidents, and the key-period switch', async () => {
    await operator.click('.tab[data-tab="stats"]');
    const s1 = await operator.waitForSelector('.stats-table tr[data-key="s1"]', { timeout: 20_000 });
    expect(await s1.textContent()).toContain('东坑村微型消防站');
    expect(await operator.textContent('#stats-tables')).toContain('误报-烹饪油烟：1');
    expect(await operator.getAttribute('#stats-csv', 'href')).toMatch(/^\/api\/stats\.csv\?from=\d+&to=\d+$/);
    await operator.screenshot({ path: `${SHOTS}township-stats.png`, fullPage: true });

    await operator.click('.tab[data-tab="settings"]');
    await operator.waitForFunction(() => document.body.dataset.loaded === 'settings');
    expect(await operator.textContent('#kp-state')).toContain('未生效');
    await operator.click('.kp-switch .btn[data-mode="on"]');
    await operator.waitForFunction(
      () => document.querySelector('#kp-state')?.textContent?.includes('已生效') ?? false,
    );
    expect(await operator.isVisible('#key-period-badge')).toBe(true);
    expect(JSON.parse((await hub.redis.get(hub.keys.keyPeriod)) as string)).toMatchObject({
      mode: 'on',
      updatedBy: 'office-tw1',
    });
  });

  it('registry: import buildings (check first, then write) and a device (its secret shown once) from CSV files, export links', async () => {
    const csv =
      'id,name,address,lat,lon,occupancy,floors,township,grid,contacts\r\n' +
      'b3,南塘村5号,示范镇南塘村5号,25.825,114.925,small_venue,2,tw1,g01,赵六(店主):13600000000\r\n';
    const file = { name: 'buildings.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) };
    await operator.setInputFiles('#import-buildings-file', file);
    await operator.click('#import-buildings-form button[type="submit"]');
    await operator.waitForFunction(() =>
      /有效 1 行，已写入 0 行/.test(document.querySelector('#import-buildings-result')?.textContent ?? ''),
    );
    await operator.uncheck('#import-buildings-dry');
    await operator.setInputFiles('#import-buildings-file', file);
    await operator.click('#import-buildings-form button[type="submit"]');
    await operator.waitForFunction(() =>
      /已写入 1 行/.test(document.querySelector('#import-buildings-result')?.textContent ?? ''),
    );
    // A device for the new building: its secret is shown once, with a file to save it.
    const devices = {
      name: 'devices.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        'id,kind,model,building_id,floor,room,maintenance\r\nd-b3-1,smoke,SD-1,b3,1,店面,false\r\n',
      ),
    };
    await operator.uncheck('#import-devices-dry');
    await operator.setInputFiles('#import-devices-file', devices);
    await operator.click('#import-devices-form button[type="submit"]');
    await operator.waitForSelector(
      '#import-devices-result + a.import-secrets[download="device-secrets.csv"]',
    );
    const shown = (await operator.textContent('#import-devices-result')) ?? '';
    expect(shown).toMatch(/其中新设备 1 台/);
    const secret = /d-b3-1: (\S+)/.exec(shown)?.[1] ?? '';
    const stored = JSON.parse((await hub.redis.hget(hub.keys.devices, 'd-b3-1')) as string);
    expect(verifySecret(secret, stored.salt, stored.secretHash)).toBe(true);
    await operator.screenshot({ path: `${SHOTS}township-registry.png`, fullPage: true });
    expect(JSON.parse((await hub.redis.hget(hub.keys.buildings, 'b3')) as string)).toMatchObject({
      name: '南塘村5号',
      occupancy: 'small_venue',
    });
    // The export links of the page; the registry change is announced, the dashboard's
    // cache reloads and its exports carry the new building and device (never a secret).
    const links = await operator.$$eval('a[href^="/api/registry/"]', (ns) =>
      ns.map((n) => n.getAttribute('href')),
    );
    expect(links).toEqual([
      '/api/registry/buildings.csv',
      '/api/registry/devices.csv',
      '/api/registry/stations.csv',
    ]);
    const exported = (href: string) => operator.evaluate(async (h) => (await fetch(h)).text(), href);
    await waitFor(async () => (await exported('/api/registry/buildings.csv')).includes('b3,南塘村5号'));
    const devicesCsv = await waitFor(async () => {
      const text = await exported('/api/registry/devices.csv');
      return text.includes('d-b3-1,') ? text : null;
    });
    expect(secret).not.toBe('');
    expect(devicesCsv).not.toContain(secret);
  });

  it("shift change from the township console logs the station's officers out of their consoles", async () => {
    // The s2 officer is back on their own console.
    await officerS2.goto(`${hub.base}/station/s2`);
    await officerS2.waitForSelector('#conn.conn-up');
    await operator.waitForSelector('#duty-rows tr[data-station-id="s2"] .btn-end-shift');
    await operator.click('#duty-rows tr[data-station-id="s2"] .btn-end-shift');
    await operator.waitForFunction(() =>
      /已注销 1 个登录/.test(document.querySelector('#duty-result')?.textContent ?? ''),
    );
    // Their live stream is closed at once; the console notices and goes to the login page.
    await officerS2.waitForURL(/\/login\?next=%2Fstation%2Fs2/, { timeout: 20_000 });
  });

  it('Swagger UI at /docs renders the API from the OpenAPI document', async () => {
    await operator.goto(`${hub.base}/docs`);
    await operator.waitForSelector('.swagger-ui .opblock', { timeout: 20_000 });
    expect(await operator.textContent('.swagger-ui')).toContain('/api/incidents/{incidentId}/actions');
  });

  it('decline: the station answers it cannot go; its takeover and siren stop, alerts moves on', async () => {
    // Back on the station console (the s1 officer's page is still logged in).
    await officer.goto(`${hub.base}/station/s1`);
    await officer.waitForSelector('#conn.conn-up');
    await officer.click('#start-duty');
    await officer.waitForFunction(() => document.body.dataset.sound === 'on');
    await hub.alarm('d-b1-302');
    await officer.waitForSelector('#takeover:not([hidden]) .card.alerting', { timeout: 20_000 });
    const id = (await officer.getAttribute('.card.alerting', 'data-incident-id')) as string;
    await officer.waitForFunction(() => document.body.dataset.siren === 'playing');
    const before = await incident(id);
    await officer.click('.card.alerting .btn-decline');
    await officer.waitForSelector('#takeover', { state: 'hidden' });
    expect(await officer.getAttribute('body', 'data-siren')).toBe('silent');
    const audit = (await waitFor(async () => {
      const lines = await hub.redis.lrange(hub.keys.incidentAudit(id), 0, -1);
      return lines.some((l) => l.includes('"decline"')) ? lines : null;
    })) as string[];
    expect(audit.some((l) => l.includes('"s1"'))).toBe(true);
    // Alerts moves on at once (not at the step's timeout): s1 is declined, the ladder steps.
    const after = (await waitFor(async () => {
      const inc = await incident(id);
      return inc.step > before.step ? inc : null;
    })) as Incident;
    expect(after.declined).toContain('s1');
  });

  it('no page threw an uncaught error', () => {
    expect(pageErrors).toEqual([]);
  });
});
