import { ConfigError, MAX_PACKET_BYTES } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../src/broker-config.js';

describe('parseBrokerConfig', () => {
  it('applies the documented defaults', () => {
    const c = parseBrokerConfig({});
    expect(c).toEqual({
      redisUrl: 'redis://127.0.0.1:16379',
      keyPrefix: 'hub',
      logLevel: 'info',
      mqtt: {
        host: '127.0.0.1',
        port: 18830,
        maxPacketBytes: MAX_PACKET_BYTES,
        connectTimeoutMs: 30_000,
        trustedProxies: [],
      },
      http: { host: '127.0.0.1', port: 18831 },
      clusterChannel: null,
      mqtts: null,
      ws: null,
      certificate: null,
      durable: {
        streamMaxLen: 1_000_000,
        seenTtlS: 86_400,
        commandTimeoutMs: 2000,
        autoPipeline: false,
        maxInflight: 10_000,
        maxInflightPerClient: 32,
      },
      admission: {
        maxConnections: 100_000,
        perAddressRatePerS: 2000,
        perAddressBurst: 10_000,
        globalRatePerS: 5000,
        globalBurst: 20_000,
        maxTrackedAddresses: 10_000,
      },
      loginBackoff: { baseMs: 250, maxMs: 10_000, forgetAfterMs: 600_000, maxTracked: 10_000 },
      overload: {
        shedLagMs: 100,
        ingressSliceMs: 1,
        ingressTelemetryMax: 20_000,
        ingressRouterMax: 150,
        routingQueueMax: 20_000,
        routingConcurrency: 1000,
        drainTimeoutMs: 30_000,
        subscriberBufferBytes: 1024 * 1024,
      },
    });
    expect(Object.isFrozen(c) && Object.isFrozen(c.mqtt)).toBe(true);
  });

  it('reads values, treats empty strings as unset and ignores unrelated variables', () => {
    const c = parseBrokerConfig({
      HUB_MQTT_PORT: '1883',
      HUB_BROKER_HTTP_PORT: '',
      HUB_KEY_PREFIX: 'town1',
      HUB_EVENT_STREAM_MAXLEN: '5000',
      HUB_SERVICE_SECRET: 'not-needed',
      PATH: '/usr/bin',
    });
    expect(c.mqtt.port).toBe(1883);
    expect(c.http.port).toBe(18831);
    expect(c.keyPrefix).toBe('town1');
    expect(c.durable.streamMaxLen).toBe(5000);
  });

  it('an mqtts port needs a certificate and a key; a cluster channel is validated', () => {
    expect(() => parseBrokerConfig({ HUB_MQTTS_PORT: '8883' })).toThrow(ConfigError);
    const c = parseBrokerConfig({
      HUB_MQTTS_PORT: '8883',
      HUB_MQTTS_CERT_FILE: '/etc/hub/cert.pem',
      HUB_MQTTS_KEY_FILE: '/etc/hub/key.pem',
      HUB_BROKER_CLUSTER_CHANNEL: 'hub:routing',
    });
    expect(c.mqtts).toEqual({
      host: '127.0.0.1',
      port: 8883,
      certFile: '/etc/hub/cert.pem',
      keyFile: '/etc/hub/key.pem',
    });
    expect(c.clusterChannel).toBe('hub:routing');
    expect(() => parseBrokerConfig({ HUB_BROKER_CLUSTER_CHANNEL: 'bad channel' })).toThrow(ConfigError);
  });

  it('the WebSocket listener is off unless a port is set; its path is validated', () => {
    expect(parseBrokerConfig({ HUB_MQTT_WS_PORT: '', HUB_MQTT_WS_PATH: '/x' }).ws).toBeNull();
    expect(parseBrokerConfig({ HUB_MQTT_WS_PORT: '8080' }).ws).toEqual({
      host: '127.0.0.1',
      port: 8080,
      path: '/mqtt',
      tls: false,
    });
    const c = parseBrokerConfig({
      HUB_MQTT_WS_PORT: '0',
      HUB_MQTT_WS_HOST: '0.0.0.0',
      HUB_MQTT_WS_PATH: '/hub/ws',
    });
    expect(c.ws).toEqual({ host: '0.0.0.0', port: 0, path: '/hub/ws', tls: false });
    // wss:// uses the mqtts certificate files, which must be set.
    expect(() => parseBrokerConfig({ HUB_MQTT_WS_PORT: '8443', HUB_MQTT_WS_TLS: '1' })).toThrow(ConfigError);
    const wss = parseBrokerConfig({
      HUB_MQTT_WS_PORT: '8443',
      HUB_MQTT_WS_TLS: '1',
      HUB_MQTTS_CERT_FILE: '/etc/hub/cert.pem',
      HUB_MQTTS_KEY_FILE: '/etc/hub/key.pem',
    });
    expect(wss.ws?.tls).toBe(true);
    expect(wss.mqtts).toBeNull();
    expect(wss.certificate).toEqual({ certFile: '/etc/hub/cert.pem', keyFile: '/etc/hub/key.pem' });
    expect(Object.isFrozen(c.ws)).toBe(true);
    for (const bad of ['mqtt', '/a b', '/q?x=1'])
      expect(() => parseBrokerConfig({ HUB_MQTT_WS_PORT: '8080', HUB_MQTT_WS_PATH: bad })).toThrow(
        ConfigError,
      );
    expect(() => parseBrokerConfig({ HUB_MQTT_WS_PORT: '70000' })).toThrow(ConfigError);
  });

  it('trusted load balancers are IP addresses', () => {
    expect(
      parseBrokerConfig({ HUB_MQTT_TRUSTED_PROXIES: ' 10.0.0.5, 2001:db8::1 ,' }).mqtt.trustedProxies,
    ).toEqual(['10.0.0.5', '2001:db8::1']);
    expect(() => parseBrokerConfig({ HUB_MQTT_TRUSTED_PROXIES: '10.0.0.5,lb.example' })).toThrow(ConfigError);
  });

  it('lists every violation at once', () => {
    let err: unknown;
    try {
      parseBrokerConfig({
        HUB_MQTT_PORT: '99999',
        HUB_REDIS_URL: 'http://x',
        HUB_LOG_LEVEL: 'loud',
        HUB_SEEN_TTL_S: 'x',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const v = (err as ConfigError).violations.join('\n');
    for (const name of ['HUB_MQTT_PORT', 'HUB_REDIS_URL', 'HUB_LOG_LEVEL', 'HUB_SEEN_TTL_S'])
      expect(v).toContain(name);
  });
});
