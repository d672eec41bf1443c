import { connect } from 'node:net';
import { SIM_ERRORS, SimError } from './sim-error.js';

/**
 * Opens and closes one TCP connection to the broker, so an unreachable address fails
 * in seconds with the address in the message, before thousands of clients try.
 */
export function probeBroker(mqttUrl: string, timeoutMs: number): Promise<void> {
  const u = new URL(mqttUrl);
  const port = Number(u.port || (u.protocol === 'mqtts:' ? 8883 : 1883));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (why: string) => {
      socket.destroy();
      reject(
        new SimError(SIM_ERRORS.BROKER_UNREACHABLE, `cannot reach the MQTT broker at ${mqttUrl}: ${why}`),
      );
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}
