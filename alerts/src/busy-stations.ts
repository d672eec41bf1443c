import type { HubKeys, Incident } from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Stations busy with an incident: the accepted responder of an open incident
 * (accepted, en route, on scene). Rebuilt from the open incidents every `refreshMs`
 * (they are few: a township has a handful open at once; bounded by `maxOpen`), so a
 * station another process's incident made busy is seen within that time. Used only
 * when HUB_SKIP_BUSY_STATIONS is on.
 */
export class BusyStations {
  private set: ReadonlySet<string> = new Set();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: HubKeys,
    private readonly logger: Logger,
    private readonly refreshMs = 2_000,
    private readonly maxOpen = 10_000,
  ) {}

  get current(): ReadonlySet<string> {
    return this.set;
  }

  async start(): Promise<void> {
    await this.refresh();
    const tick = () => {
      if (this.closed) return;
      void this.refresh().finally(() => {
        if (!this.closed) this.timer = setTimeout(tick, this.refreshMs).unref();
      });
    };
    this.timer = setTimeout(tick, this.refreshMs).unref();
  }

  async refresh(): Promise<void> {
    try {
      const ids = (await this.redis.smembers(this.keys.incidentsOpen)).slice(0, this.maxOpen);
      const next = new Set<string>();
      for (let i = 0; i < ids.length; i += 500) {
        const raws = await this.redis.mget(...ids.slice(i, i + 500).map((id) => this.keys.incident(id)));
        for (const raw of raws) {
          if (raw === null) continue;
          const inc = JSON.parse(raw) as Incident;
          if (
            inc.stationId !== null &&
            (inc.state === 'accepted' || inc.state === 'en_route' || inc.state === 'on_scene')
          ) {
            next.add(inc.stationId);
          }
        }
      }
      this.set = next;
    } catch (err) {
      this.logger.error({ err }, 'busy stations not refreshed; keeping the last set');
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }
}
