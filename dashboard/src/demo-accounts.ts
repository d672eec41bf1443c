import type { RegistrySnapshot } from '@hub/registry';
import type { Role } from './account.js';
import type { AccountStore } from './account-store.js';

export interface DemoAccount {
  username: string;
  password: string;
  role: Role;
  displayName: string;
  stationId: string | null;
  township: string | null;
}

/**
 * The demo township's accounts: one duty officer per station, one operator per
 * township, one administrator. The passwords are public (printed in the demo's
 * banner): for the demo only, never for a deployment.
 */
export function demoAccounts(snapshot: RegistrySnapshot): DemoAccount[] {
  const out: DemoAccount[] = [];
  const stations = [...snapshot.stations.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const s of stations) {
    out.push({
      username: `duty-${s.id}`.toLowerCase(),
      password: `duty-${s.id}-demo`.toLowerCase(),
      role: 'officer',
      displayName: `${s.name}值班员`,
      stationId: s.id,
      township: s.township,
    });
  }
  for (const t of snapshot.townships.values()) {
    out.push({
      username: `office-${t.id}`.toLowerCase(),
      password: 'office-demo',
      role: 'township',
      displayName: `${t.name}消防所`,
      stationId: null,
      township: t.id,
    });
  }
  out.push({
    username: 'admin',
    password: 'admin-demo',
    role: 'admin',
    displayName: '系统管理员',
    stationId: null,
    township: null,
  });
  return out;
}

export async function seedDemoAccounts(
  store: AccountStore,
  snapshot: RegistrySnapshot,
  now: number,
): Promise<DemoAccount[]> {
  const accounts = demoAccounts(snapshot);
  for (const a of accounts) await store.put(a, now);
  return accounts;
}
