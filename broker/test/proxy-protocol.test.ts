import { describe, expect, it } from 'vitest';
import { parseProxyHeader } from '../src/proxy-protocol.js';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2(cmd: number, family: number, addr: number[]): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(addr.length);
  return Buffer.concat([SIG, Buffer.from([0x20 | cmd, family]), len, Buffer.from(addr)]);
}

describe('PROXY protocol header', () => {
  it('v1: TCP4 and TCP6 give the source address and the header length; UNKNOWN gives none', () => {
    const h = 'PROXY TCP4 203.0.113.7 10.0.0.1 51000 1883\r\n';
    expect(parseProxyHeader(Buffer.from(`${h}\u0010rest`))).toEqual({
      status: 'ok',
      address: '203.0.113.7',
      length: h.length,
    });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 51000 1883\r\n'))).toMatchObject({
      status: 'ok',
      address: '2001:db8::7',
    });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({
      status: 'ok',
      address: null,
      length: 15,
    });
  });

  it('v1: asks for more bytes until the line ends, refuses what is not a header', () => {
    const h = Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 51000 1883\r\n');
    for (let n = 0; n < h.length; n++) expect(parseProxyHeader(h.subarray(0, n)).status).toBe('partial');
    for (const bad of [
      'PROXY TCP4 203.0.113.7 10.0.0.1 51000\r\n',
      'PROXY TCP5 203.0.113.7 10.0.0.1 1 2\r\n',
      'PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n',
      'PROXY TCP4 203.0.113.7 10.0.0.1 65536 1\r\n',
      'PROXY TCP4 203.0.113.7 10.0.0.1 01 1\r\n',
      'PROXI TCP4',
      `PROXY TCP4 ${'1'.repeat(120)}`,
    ]) {
      expect(parseProxyHeader(Buffer.from(bad)).status, bad).toBe('invalid');
    }
    // An MQTT CONNECT where a header was expected.
    expect(parseProxyHeader(Buffer.from([0x10, 0x20, 0x00, 0x04])).status).toBe('invalid');
  });

  it('v2: PROXY over IPv4 and IPv6, LOCAL without an address, TLVs skipped', () => {
    const ipv4 = v2(1, 0x11, [192, 0, 2, 55, 10, 0, 0, 1, 0xc7, 0x38, 0x07, 0x5b]);
    expect(parseProxyHeader(ipv4)).toEqual({ status: 'ok', address: '192.0.2.55', length: 28 });
    const src6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07];
    const ipv6 = v2(1, 0x21, [...src6, ...src6, 0, 1, 0, 2]);
    expect(parseProxyHeader(ipv6)).toEqual({ status: 'ok', address: '2001:db8::7', length: 52 });
    expect(parseProxyHeader(v2(0, 0x00, []))).toEqual({ status: 'ok', address: null, length: 16 });
    const withTlv = v2(1, 0x11, [192, 0, 2, 55, 10, 0, 0, 1, 0, 1, 0, 2, 0x04, 0x00, 0x01, 0x00]);
    expect(parseProxyHeader(Buffer.concat([withTlv, Buffer.from([0x10])]))).toEqual({
      status: 'ok',
      address: '192.0.2.55',
      length: 32,
    });
  });

  it('v2: partial until complete; wrong version, command, truncated addresses and oversize refused', () => {
    const ipv4 = v2(1, 0x11, [192, 0, 2, 55, 10, 0, 0, 1, 0, 1, 0, 2]);
    for (let n = 1; n < ipv4.length; n++)
      expect(parseProxyHeader(ipv4.subarray(0, n)).status).toBe('partial');
    const wrongVersion = Buffer.from(ipv4);
    wrongVersion[12] = 0x11;
    expect(parseProxyHeader(wrongVersion).status).toBe('invalid');
    const wrongCommand = Buffer.from(ipv4);
    wrongCommand[12] = 0x22;
    expect(parseProxyHeader(wrongCommand).status).toBe('invalid');
    expect(parseProxyHeader(v2(1, 0x11, [192, 0, 2])).status).toBe('invalid');
    const huge = Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    expect(parseProxyHeader(huge).status).toBe('invalid');
    const badSig = Buffer.from(ipv4);
    badSig[5] = 0x00;
    expect(parseProxyHeader(badSig).status).toBe('invalid');
  });
});
