import {
  DEFAULT_KEY_PERIOD_CONFIG,
  type HubKeys,
  isKeyPeriodActive,
  type KeyPeriodConfig,
  keyPeriodConfigSchema,
} from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Key-period mode (重点时段) as the dashboard writes it (`keys.keyPeriod`, JSON
 * KeyPeriodConfig; contract in protocol/src/hazard-tickets.ts). Held in memory so a
 * decision reads a field, not Redis: re-read on `keys.keyPeriodChanged` and every
 * `refreshMs` anyway (a lost pub/sub message only delays the switch). An invalid
 * value is refused (logged) and the last good one kept; no key means 'auto' with an
 * empty calendar.
 */
export class KeyPeriodWatcher {
  private config: KeyPeriodConfig = DEFAULT_KEY_PERIOD_CONFIG;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: HubKeys,
    private readonly clock: () => number,
    private readonly logger: Logger,
    private readonly refreshMs = 5_000,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    this.subscriber.on('message', (channel) => {
      if (channel === this.keys.keyPeriodChanged) void this.reload();
    });
    await this.subscriber.subscribe(this.keys.keyPeriodChanged);
    const tick = () => {
      if (this.closed) return;
      void this.reload().finally(() => {
        if (!this.closed) this.timer = setTimeout(tick, this.refreshMs).unref();
      });
    };
    this.timer = setTimeout(tick, this.refreshMs).unref();
  }

  /** Whether key-period mode is in force now. */
  active(): boolean {
    return isKeyPeriodActive(this.config, this.clock());
  }

  get current(): KeyPeriodConfig {
    return this.config;
  }

  async reload(): Promise<void> {
    try {
      const raw = await this.redis.get(this.keys.keyPeriod);
      if (raw === null) {
        this.config = DEFAULT_KEY_PERIOD_CONFIG;
        return;
      }
      const r = keyPeriodConfigSchema.safeParse(JSON.parse(raw));
      if (!r.success) {
        this.logger.error(
          { issue: r.error.issues[0]?.message },
          'invalid key-period config refused; keeping the last one',
        );
        return;
      }
      const was = this.active();
      this.config = r.data;
      if (was !== this.active())
        this.logger.info({ active: this.active(), mode: r.data.mode }, 'key-period mode changed');
    } catch (err) {
      this.logger.error({ err }, 'key-period config not read; keeping the last one');
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }
}
