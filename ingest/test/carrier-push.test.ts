import { describe, expect, it } from 'vitest';
import { mapCtwing, mapOnenet, onenetSignature, rawJsonValue, verifyOnenet } from '../src/carrier-push.js';

describe('OneNET signature', () => {
  it('is Base64(MD5(token + nonce + msg))', () => {
    // md5("tok" + "abc" + "hello") computed independently: echo -n tokabchello | md5sum | xxd -r -p | base64
    expect(onenetSignature('tok', 'abc', 'hello')).toBe('5jJrWbaVMAO6hKVZf0CMIA==');
    expect(verifyOnenet('tok', 'abc', 'hello', '5jJrWbaVMAO6hKVZf0CMIA==')).toBe(true);
    expect(verifyOnenet('tok', 'abd', 'hello', '5jJrWbaVMAO6hKVZf0CMIA==')).toBe(false);
    expect(verifyOnenet('tok', 'abc', 'hello', 'short')).toBe(false);
  });
});

describe('rawJsonValue', () => {
  it('returns the verbatim text of a top-level value (spacing and key order kept)', () => {
    const text = '{"nonce":"n\\"1","msg": {"b":1, "a":[1,{"x":"}"}]} ,"msg_signature":"s"}';
    expect(rawJsonValue(text, 'msg')).toBe('{"b":1, "a":[1,{"x":"}"}]}');
    expect(rawJsonValue(text, 'nonce')).toBe('"n\\"1"');
    expect(rawJsonValue(text, 'msg_signature')).toBe('"s"');
    expect(rawJsonValue('{"a":12,"msg":[1,2]}', 'msg')).toBe('[1,2]');
    expect(rawJsonValue('{"a":1}', 'msg')).toBeUndefined();
  });
});

describe('mapping to v1 messages', () => {
  it('OneNET data points (object or JSON string value, named or inferred channel) and online/offline', () => {
    const t = { v: 1, id: 'm1', ts: 1, seq: 1, kind: 'smoke', smoke: 0, tempC: 20, battery: 90 };
    const r = mapOnenet(
      [
        { type: 1, dev_id: 42, ds_id: 'telemetry', at: 5, value: t },
        {
          type: 1,
          dev_id: 42,
          ds_id: 'data',
          at: 5,
          value: JSON.stringify({ v: 1, id: 'e', ts: 1, seq: 2, type: 'alarm' }),
        },
        { type: 2, dev_id: 42, status: 0, at: 7 },
        { type: 7, dev_id: 42 },
        { type: 1, dev_id: 42, ds_id: 'temp', value: 21.5 },
      ],
      'nb-',
    );
    expect(r.skipped).toBe(2);
    expect(r.messages.map((m) => [m.deviceId, m.channel])).toEqual([
      ['nb-42', 'telemetry'],
      ['nb-42', 'event'],
      ['nb-42', 'status'],
    ]);
    expect(JSON.parse(r.messages[2]!.payload)).toEqual({ v: 1, ts: 7, state: 'offline', reason: 'onenet' });
  });

  it('CTWing dataReport (APPdata base64) by deviceId or IMEI, and deviceOnlineOfflineReport', () => {
    const ev = { v: 1, id: 'e9', ts: 1, seq: 3, type: 'alarm', value: 12 };
    const push = {
      messageType: 'dataReport',
      deviceId: 'abc123',
      IMEI: '860000000000001',
      timestamp: 1700000000000,
      payload: { APPdata: Buffer.from(JSON.stringify(ev)).toString('base64') },
      upPacketSN: -1,
    };
    const r = mapCtwing(push, '', false);
    expect(r.messages).toEqual([{ deviceId: 'abc123', channel: 'event', payload: JSON.stringify(ev) }]);
    expect(mapCtwing(push, 'ct-', true).messages[0]!.deviceId).toBe('ct-860000000000001');
    const online = mapCtwing(
      { messageType: 'deviceOnlineOfflineReport', deviceId: 'abc123', eventType: 1, timestamp: 9 },
      '',
      false,
    );
    expect(JSON.parse(online.messages[0]!.payload)).toMatchObject({ state: 'online', ts: 9 });
    expect(mapCtwing({ messageType: 'other', deviceId: 'x' }, '', false).skipped).toBe(1);
    expect(
      mapCtwing({ messageType: 'dataReport', deviceId: 'x', payload: { APPdata: 'bm90IGpzb24=' } }, '', false)
        .skipped,
    ).toBe(1);
  });
});
