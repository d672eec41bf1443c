/** The three kinds of field device the hub speaks to (see shared/domain.md). */
export const DEVICE_KINDS = ['smoke', 'electric', 'charger'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];
