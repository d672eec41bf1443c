import type { Building, Device, ServiceAccount, Station, Township } from '@hub/protocol';
import { StationIndex } from './station-index.js';

/** Everything the registry holds, as plain arrays (what loaders and generators produce). */
export interface RegistryData {
  townships: Township[];
  buildings: Building[];
  devices: Device[];
  stations: Station[];
  accounts: ServiceAccount[];
}

/**
 * An immutable in-memory view of the registry. Services swap in a new snapshot when
 * the registry changes; the hot path only reads maps (no database query per message).
 */
export class RegistrySnapshot {
  readonly townships: ReadonlyMap<string, Township>;
  readonly buildings: ReadonlyMap<string, Building>;
  readonly devices: ReadonlyMap<string, Device>;
  readonly stations: ReadonlyMap<string, Station>;
  readonly accounts: ReadonlyMap<string, ServiceAccount>;
  readonly stationIndex: StationIndex;
  /** Devices per building, for "which devices are in this building". */
  readonly devicesByBuilding: ReadonlyMap<string, readonly Device[]>;

  constructor(
    data: RegistryData,
    readonly version: number,
    /** Entries skipped at load because they failed validation, per collection. */
    readonly rejected: Readonly<Record<string, number>> = {},
  ) {
    this.townships = new Map(data.townships.map((t) => [t.id, t]));
    this.buildings = new Map(data.buildings.map((b) => [b.id, b]));
    this.devices = new Map(data.devices.map((d) => [d.id, d]));
    this.stations = new Map(data.stations.map((s) => [s.id, s]));
    this.accounts = new Map(data.accounts.map((a) => [a.username, a]));
    this.stationIndex = new StationIndex(data.stations);
    const byBuilding = new Map<string, Device[]>();
    for (const d of data.devices) {
      let list = byBuilding.get(d.buildingId);
      if (list === undefined) {
        list = [];
        byBuilding.set(d.buildingId, list);
      }
      list.push(d);
    }
    this.devicesByBuilding = byBuilding;
  }

  static empty(): RegistrySnapshot {
    return new RegistrySnapshot({ townships: [], buildings: [], devices: [], stations: [], accounts: [] }, 0);
  }

  toData(): RegistryData {
    return {
      townships: [...this.townships.values()],
      buildings: [...this.buildings.values()],
      devices: [...this.devices.values()],
      stations: [...this.stations.values()],
      accounts: [...this.accounts.values()],
    };
  }
}
