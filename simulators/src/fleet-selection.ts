import { demoDeviceSecret, type RegistrySnapshot } from '@hub/registry';
import type { FleetDevice } from './fleet.js';

/**
 * Which devices a run plays: the required ones first (a fire's detectors, a
 * scenario's devices; unknown or repeated ids dropped), then the registry's others
 * by id, up to `scale`, each with its demo-township secret.
 */
export function selectFleet(
  snapshot: RegistrySnapshot,
  seed: string,
  scale: number,
  required: readonly string[],
): FleetDevice[] {
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const id of required) {
    if (!seen.has(id) && snapshot.devices.has(id)) {
      ids.push(id);
      seen.add(id);
    }
  }
  if (ids.length < scale) {
    for (const id of [...snapshot.devices.keys()].sort()) {
      if (ids.length >= scale) break;
      if (!seen.has(id)) {
        ids.push(id);
        seen.add(id);
      }
    }
  }
  return ids.map((id) => {
    const d = snapshot.devices.get(id);
    if (d === undefined) throw new Error(`unreachable: ${id}`);
    return { id, kind: d.kind, model: d.model, secret: demoDeviceSecret(seed, id) };
  });
}
