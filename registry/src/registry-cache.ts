import type { HubKeys } from '@hub/protocol';
import type { Redis } from 'ioredis';
import { RegistrySnapshot } from './registry-snapshot.js';
import { RegistryStore } from './registry-store.js';

export interface RegistryCacheOptions {
  /** Connection for commands. */
  redis: Redis;
  /** A separate connection in subscriber mode (ioredis cannot mix both). */
  subscriber: Redis;
  keys: HubKeys;
  /** Coalesce bursts of changes (CSV imports) into one reload. */
  debounceMs?: number;
  onReload?: (snapshot: RegistrySnapshot) => void;
  onError?: (err: Error) => void;
}

/**
 * Holds the current registry snapshot in memory and reloads it when the registry
 * changes. Readers call `current` on every message: a field read, no I/O. Reloads
 * build a new snapshot off to the side and swap it in, so a reader never sees half a
 * registry.
 */
export class RegistryCache {
  private snapshot: RegistrySnapshot = RegistrySnapshot.empty();
  private readonly store: RegistryStore;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;

  private constructor(private readonly opts: RegistryCacheOptions) {
    this.store = new RegistryStore(opts.redis, opts.keys);
  }

  static async start(opts: RegistryCacheOptions): Promise<RegistryCache> {
    const cache = new RegistryCache(opts);
    await opts.subscriber.subscribe(opts.keys.registryChanged);
    opts.subscriber.on('message', (channel: string) => {
      if (channel === opts.keys.registryChanged) cache.schedule();
    });
    await cache.reload();
    return cache;
  }

  get current(): RegistrySnapshot {
    return this.snapshot;
  }

  private schedule(): void {
    if (this.closed || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload().catch((err: Error) => this.opts.onError?.(err));
    }, this.opts.debounceMs ?? 200);
  }

  /** Reloads now; concurrent calls coalesce into at most one more reload. */
  async reload(): Promise<void> {
    if (this.reloading !== null) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        const next = await this.store.load();
        if (next.version >= this.snapshot.version || next.version === 0) {
          this.snapshot = next;
          this.opts.onReload?.(next);
        }
      } while (this.reloadAgain && !this.closed);
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.opts.subscriber.unsubscribe(this.opts.keys.registryChanged).catch(() => undefined);
  }
}
