/** Stable codes for everything the simulator refuses or gives up on. */
export const SIM_ERRORS = {
  /** A command-line option or factory option is out of range. */
  BAD_OPTION: 'E_SIM_BAD_OPTION',
  /** The MQTT broker did not answer (TCP refused, timeout, CONNACK refused). */
  BROKER_UNREACHABLE: 'E_SIM_BROKER_UNREACHABLE',
  /** Redis did not answer. */
  REDIS_UNREACHABLE: 'E_SIM_REDIS_UNREACHABLE',
  /** The registry under the prefix holds nothing to simulate. */
  REGISTRY_EMPTY: 'E_SIM_REGISTRY_EMPTY',
  /** No building fits the fire scenario (unknown id, no smoke detectors). */
  NO_BUILDING: 'E_SIM_NO_BUILDING',
  /** A station listener could not connect or subscribe. */
  STATION_LISTENER: 'E_SIM_STATION_LISTENER',
  /** Devices needed for a scenario did not connect in time. */
  DEVICES_NOT_CONNECTED: 'E_SIM_DEVICES_NOT_CONNECTED',
  /** The file-descriptor limit is below what the requested connections need. */
  FD_LIMIT: 'E_SIM_FD_LIMIT',
} as const;
export type SimErrorCode = (typeof SIM_ERRORS)[keyof typeof SIM_ERRORS];

export class SimError extends Error {
  constructor(
    readonly code: SimErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SimError';
  }
}
