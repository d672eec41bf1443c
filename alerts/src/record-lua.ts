/**
 * The Lua both record stores (incident-store.ts, ticket-store.ts) are built from. A
 * record is a JSON string under KEYS[1]; the building's open-record key names the
 * one open record of the building (and lane); an open index lists the open ids.
 * Every script starts with the same guard, so the two stores cannot drift apart on
 * what makes an open or an update safe:
 *   open:   SET NX on the building key (two alarms of one building processed at once
 *           still give one record); the loser gets the id already open.
 *   update: compare-and-set on the stored JSON string (the caller hands back the raw
 *           JSON it decided from): 0 before writing anything when it changed, so a
 *           timer and a reply racing on one record cannot overwrite each other.
 */

/**
 * Opens a record: KEYS[1] record, KEYS[buildingKey] the building's open key;
 * ARGV[1] id, ARGV[2] JSON. `rest` writes the store's indexes; returns 1, or the
 * id already open ('' if it vanished meanwhile).
 */
export function openRecordLua(buildingKey: number, rest: string): string {
  return `
if not redis.call('SET', KEYS[${buildingKey}], ARGV[1], 'NX') then
  return redis.call('GET', KEYS[${buildingKey}]) or ''
end
redis.call('SET', KEYS[1], ARGV[2])
${rest}
return 1
`;
}

/**
 * Compare-and-set update: KEYS[1] record, KEYS[2] open index, KEYS[buildingKey] the
 * building's open key; ARGV[1] expected JSON, ARGV[2] new JSON, ARGV[3] id, ARGV[4]
 * closed ('1'|'0'). A close removes the id from the open index (`removeOpen`: SREM
 * for a set, ZREM for a sorted set) and deletes the building key only if it still
 * names the id. `rest` runs after; returns 1, or 0 when the record changed.
 */
export function casUpdateLua(removeOpen: 'SREM' | 'ZREM', buildingKey: number, rest = ''): string {
  return `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' then
  redis.call('${removeOpen}', KEYS[2], ARGV[3])
  if redis.call('GET', KEYS[${buildingKey}]) == ARGV[3] then redis.call('DEL', KEYS[${buildingKey}]) end
end
${rest}
return 1
`;
}

/** KEYS[1] a building's open key; ARGV[1] id. Deletes the key only if it still names the id. */
export const CLEAR_STALE_OPEN_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
