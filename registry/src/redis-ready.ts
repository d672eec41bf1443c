import type { Redis } from 'ioredis';

/**
 * Resolves once the connection is ready; rejects if it ends first. Await it before
 * SUBSCRIBE: ioredis 5 writes SUBSCRIBE while still handshaking, switches to
 * subscriber mode, and its ready check (INFO) then fails with "Connection in
 * subscriber mode" and reconnects, losing the subscription meanwhile.
 */
export async function whenReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      redis.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      redis.off('ready', onReady);
      reject(new Error('redis connection ended before it was ready'));
    };
    redis.once('ready', onReady);
    redis.once('end', onEnd);
  });
}
