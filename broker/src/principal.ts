import { type DeviceKind, deviceTopic, stationTopic } from '@hub/protocol';

/**
 * Who an authenticated MQTT connection is. Built once at CONNECT; the topics a
 * principal may use are precomputed here so per-message authorization compares
 * strings and allocates nothing.
 */
export type Principal = DevicePrincipal | StationPrincipal | ServicePrincipal;

export interface DevicePrincipal {
  readonly kind: 'device';
  /** Device id = MQTT username = client id. */
  readonly id: string;
  /** Registered kind: which event types it may raise (protocol's eventFitsKind). */
  readonly deviceKind: DeviceKind;
  /** `v1/dev/{id}/cmd`: the only topic a device may subscribe to. */
  readonly cmdTopic: string;
  /** `v1/dev/{id}/status`: the only topic its last will may name. */
  readonly statusTopic: string;
}

export interface StationPrincipal {
  readonly kind: 'station';
  /** Station id from the account (never from a topic or payload). */
  readonly id: string;
  readonly username: string;
  /** `v1/station/{id}/page`: the only topic the station may subscribe to. */
  readonly pageTopic: string;
  /** `v1/station/{id}/reply`: the only topic the station may publish to. */
  readonly replyTopic: string;
}

export interface ServicePrincipal {
  readonly kind: 'service';
  readonly username: string;
}

export function devicePrincipal(id: string, deviceKind: DeviceKind): DevicePrincipal {
  return {
    kind: 'device',
    id,
    deviceKind,
    cmdTopic: deviceTopic(id, 'cmd'),
    statusTopic: deviceTopic(id, 'status'),
  };
}

export function stationPrincipal(id: string, username: string): StationPrincipal {
  return {
    kind: 'station',
    id,
    username,
    pageTopic: stationTopic(id, 'page'),
    replyTopic: stationTopic(id, 'reply'),
  };
}

export function servicePrincipal(username: string): ServicePrincipal {
  return { kind: 'service', username };
}

/** Name to log for a principal (device id, station id or service account). */
export function principalName(p: Principal): string {
  return p.kind === 'service' ? p.username : p.id;
}
