/**
 * The alarm probe of bench/broker/run.ts, in its own process.
 *
 * Why a process of its own: the load generator saturates its core in the QoS 1 and
 * overload phases, and a probe timed inside it measured the generator's own event-loop
 * delay as much as the broker's (Mosquitto showed 68-84 ms alarm p99 in the closed
 * loop that way). Here one alarm device publishes a QoS 1 alarm every `everyMs` and a
 * service account subscribed to that device's event topic alone receives it; nothing
 * else runs in this process, so the numbers are the broker's (and the kernel's).
 *
 * Two latencies per alarm, both from the real send (performance.now() just before the
 * socket write), never from a schedule: send → PUBACK (on the hub: the alarm is durable
 * in Redis) and send → delivery to the subscriber.
 *
 * Talks to the parent over IPC: {cmd:'start'} starts publishing, {cmd:'stop'} stops
 * and answers with {ack: number[], delivery: number[], sent}. {cmd:'exit'} ends it.
 */
import type { Packet } from 'mqtt-packet';
import { type Conn, type Credentials, connectAll } from './load.js';

interface Init {
  port: number;
  device: Credentials;
  subscriber: Credentials;
  everyMs: number;
  run: string;
}

const init = JSON.parse(process.argv[2] as string) as Init;
const send = (m: object) => process.send?.(m);

async function main(): Promise<void> {
  const [dev, sub] = (await connectAll(init.port, [init.device, init.subscriber])) as [Conn, Conn];
  const topic = `v1/dev/${init.device.clientId}/event`;
  sub.subscribe(topic, 1);
  const sentAt = new Map<number, number>();
  const byMid = new Map<number, number>();
  let ack: number[] = [];
  let delivery: number[] = [];
  let n = 0;
  let timer: NodeJS.Timeout | null = null;

  dev.onPacket = (p: Packet) => {
    if (p.cmd !== 'puback') return;
    const mid = (p as { messageId: number }).messageId;
    const k = byMid.get(mid);
    if (k === undefined) return;
    byMid.delete(mid);
    const at = sentAt.get(k);
    if (at !== undefined) ack.push(performance.now() - at);
  };
  // Mosquitto delivers before it acknowledges, the hub after (durable first): the send
  // time stays until the phase ends, and each alarm counts once per latency.
  const delivered = new Set<number>();
  sub.onPacket = (p: Packet) => {
    if (p.cmd !== 'publish') return;
    const pub = p as { payload: Buffer; messageId?: number; qos: number };
    if (pub.qos > 0 && pub.messageId !== undefined) sub.puback(pub.messageId);
    const m = /"seq":(\d+)/.exec(pub.payload.toString());
    const k = m ? Number(m[1]) : -1;
    const at = sentAt.get(k);
    if (at !== undefined && !delivered.has(k)) {
      delivered.add(k);
      delivery.push(performance.now() - at);
    }
  };

  function publishOne(): void {
    const k = ++n;
    const id = `a${init.run}-${k}`;
    const mid = dev.msgId();
    byMid.set(mid, k);
    sentAt.set(k, performance.now());
    dev.publishWithId(topic, `{"v":1,"id":"${id}","ts":${Date.now()},"seq":${k},"type":"alarm"}`, 1, mid);
  }

  // Scheduled against its own due time (setTimeout to the next due instant), so one
  // stall does not shift every later probe (the setInterval drift in RESULTS.md).
  let due = 0;
  function tick(): void {
    publishOne();
    due += init.everyMs;
    timer = setTimeout(tick, Math.max(0, due - performance.now()));
  }

  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'start') {
      ack = [];
      delivery = [];
      sentAt.clear();
      byMid.clear();
      delivered.clear();
      n = 0;
      due = performance.now();
      tick();
    } else if (msg.cmd === 'stop') {
      if (timer) clearTimeout(timer);
      timer = null;
      const sent = n;
      // Late answers may still come: give them 1.5 s, as the parent's drain does.
      setTimeout(() => send({ ack, delivery, sent }), 1500);
    } else if (msg.cmd === 'exit') {
      dev.end();
      sub.end();
      process.exit(0);
    }
  });
  send({ ready: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
