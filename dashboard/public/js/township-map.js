// Township map: Leaflet with offline GeoJSON layers only (no tile server): the
// township's buildings, stations and their areas, and the open incidents on top.
import { el } from './format.js';
import { LANE, label, OCCUPANCY, STATE, t } from './labels.js';

let map = null;
let incidentLayer = null;
let buildingsById = new Map();
let lastIncidents = [];

const OCC_COLOR = {
  elderly_home: '#6a1b9a',
  rental: '#546e7a',
  shop_residence: '#795548',
  charging_site: '#00838f',
};

export async function initMap(container, legend, data) {
  const L = window.L;
  if (!L) return;
  buildingsById = new Map(data.buildings.features.map((f) => [f.properties.id, f]));
  map = L.map(container, { preferCanvas: true, attributionControl: false, zoomSnap: 0.25 });
  L.geoJSON(data.areas, {
    style: { color: '#1e88e5', weight: 1, fillOpacity: 0.05, dashArray: '4 4' },
  }).addTo(map);
  const buildings = L.geoJSON(data.buildings, {
    pointToLayer: (f, latlng) =>
      L.circleMarker(latlng, {
        radius: f.properties.occupancy === 'elderly_home' ? 5 : 3.5,
        color: OCC_COLOR[f.properties.occupancy] ?? '#78909c',
        weight: 1,
        fillOpacity: 0.7,
      }).bindTooltip(
        `${f.properties.name} · ${label(OCCUPANCY, f.properties.occupancy)} · ${f.properties.grid}`,
      ),
  }).addTo(map);
  L.geoJSON(data.stations, {
    pointToLayer: (f, latlng) =>
      L.circleMarker(latlng, {
        radius: 7,
        color: '#0d47a1',
        fillColor: '#1e88e5',
        fillOpacity: 1,
        weight: 2,
      }).bindTooltip(f.properties.name, {
        permanent: true,
        direction: 'top',
        offset: [0, -6],
        className: 'map-label',
      }),
  }).addTo(map);
  incidentLayer = L.layerGroup().addTo(map);
  const bounds = buildings.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  else if (data.township) map.setView([data.township.lat, data.township.lon], 13);
  legend.replaceChildren(
    el('span', { class: 'lg lg-building', text: t('t.map.buildings') }),
    el('span', { class: 'lg lg-elderly', text: t('t.map.elderly') }),
    el('span', { class: 'lg lg-station', text: t('t.map.stations') }),
    el('span', { class: 'lg lg-fire', text: t('t.map.fire') }),
    el('span', { class: 'lg lg-hazard', text: t('t.map.hazard') }),
  );
  showIncidents(lastIncidents);
}

/** Redraws the incident markers (open incidents only). */
export function showIncidents(incidents) {
  lastIncidents = incidents;
  if (map === null || incidentLayer === null) return;
  const L = window.L;
  incidentLayer.clearLayers();
  for (const inc of incidents) {
    if (inc.state === 'closed') continue;
    const f = buildingsById.get(inc.buildingId);
    const latlng = f
      ? [f.geometry.coordinates[1], f.geometry.coordinates[0]]
      : inc.building
        ? [inc.building.lat, inc.building.lon]
        : null;
    if (latlng === null) continue;
    const fire = inc.lane === 'fire';
    L.circleMarker(latlng, {
      radius: fire ? 12 : 9,
      color: fire ? '#8e0000' : '#8d6e00',
      fillColor: fire ? '#e53935' : '#fbc02d',
      fillOpacity: 0.9,
      weight: 3,
      className: fire ? 'incident-marker-fire' : 'incident-marker-hazard',
    })
      .bindTooltip(
        `${label(LANE, inc.lane)} · ${inc.building?.name ?? inc.buildingId} · ${label(STATE, inc.state)}`,
        {
          permanent: fire,
          direction: 'right',
          offset: [10, 0],
          className: 'map-label map-label-incident',
        },
      )
      .addTo(incidentLayer);
  }
}

/** Leaflet needs a size recompute when its container was hidden. */
export function mapShown() {
  map?.invalidateSize();
}
