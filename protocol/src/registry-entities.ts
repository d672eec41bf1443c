import { z } from 'zod';
import { DEVICE_KINDS } from './device-kinds.js';

/**
 * What the hub knows about buildings, devices and micro fire stations. The registry
 * (registry/) stores these in Redis; every service holds them in memory.
 * Coordinates are WGS-84 (convert GCJ-02/BD-09 on import, never store them).
 */

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'ids are 1-64 characters of A-Z a-z 0-9 _ -');

export const latLonShape = {
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
};

export const OCCUPANCY_TYPES = [
  /** 出租屋 / 群租房: rental housing, sleeping occupants. */
  'rental',
  /** 自建房: self-built house. */
  'self_built',
  /** 自建房下店上住: shop below, living above. */
  'shop_residence',
  /** 九小场所: small venue (shop, restaurant, small hotel, internet café, workshop). */
  'small_venue',
  /** 养老院: elderly home. */
  'elderly_home',
  /** 老旧小区: ordinary or old residential block. */
  'residential',
  /** 集中充电点: e-bike charging site. */
  'charging_site',
] as const;
export type OccupancyType = (typeof OCCUPANCY_TYPES)[number];

export const contactSchema = z.object({
  name: z.string().min(1).max(50),
  phone: z.string().min(3).max(20),
  role: z.string().max(30).optional(),
});
export type Contact = z.infer<typeof contactSchema>;

export const buildingSchema = z.object({
  id,
  name: z.string().min(1).max(100),
  address: z.string().min(1).max(200),
  ...latLonShape,
  occupancy: z.enum(OCCUPANCY_TYPES),
  floors: z.number().int().min(1).max(200),
  township: id,
  grid: id,
  contacts: z.array(contactSchema).max(10),
});
export type Building = z.infer<typeof buildingSchema>;

export const deviceSchema = z.object({
  id,
  kind: z.enum(DEVICE_KINDS),
  /** Vendor model; decides the heartbeat interval and thresholds. */
  model: z.string().min(1).max(64),
  buildingId: id,
  floor: z.number().int().min(-10).max(200),
  room: z.string().max(50),
  /**
   * Hash of the device secret: hex SHA-256 of `salt + secret`. Device secrets are
   * random 128-bit values, not human passwords, so a fast hash is safe here and keeps
   * a reconnect storm of 100k devices cheap (argon2 would cost minutes of CPU).
   */
  secretHash: z.string().regex(/^[0-9a-f]{64}$/),
  salt: z.string().min(8).max(64),
  /** Devices in maintenance are recorded but never page. */
  maintenance: z.boolean().default(false),
});
export type Device = z.infer<typeof deviceSchema>;

export const dutyOfficerSchema = z.object({
  id,
  name: z.string().min(1).max(50),
  phone: z.string().min(3).max(20),
  onDuty: z.boolean(),
});
export type DutyOfficer = z.infer<typeof dutyOfficerSchema>;

export const stationSchema = z.object({
  id,
  name: z.string().min(1).max(100),
  ...latLonShape,
  township: id,
  /** Responsibility area as a closed ring of [lon, lat] (GeoJSON order); optional. */
  area: z
    .array(z.tuple([z.number(), z.number()]))
    .min(4)
    .max(10_000)
    .optional(),
  officers: z.array(dutyOfficerSchema).max(50),
  /** Station-level switch: false when the station is closed or stood down. */
  onDuty: z.boolean(),
});
export type Station = z.infer<typeof stationSchema>;

export const SERVICE_ROLES = ['service', 'station'] as const;

/**
 * Broker accounts that are not devices: hub services (full hub permissions) and
 * station terminals (may read only their own station's pages).
 */
export const serviceAccountSchema = z.object({
  username: z.string().min(1).max(64),
  role: z.enum(SERVICE_ROLES),
  stationId: id.optional(),
  secretHash: z.string().regex(/^[0-9a-f]{64}$/),
  salt: z.string().min(8).max(64),
});
export type ServiceAccount = z.infer<typeof serviceAccountSchema>;

export const townshipSchema = z.object({
  id,
  name: z.string().min(1).max(100),
  ...latLonShape,
  /** The township fire office (消防所): the ladder's step after the stations. */
  fireOfficePhone: z.string().min(3).max(20),
});
export type Township = z.infer<typeof townshipSchema>;
