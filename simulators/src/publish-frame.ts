/**
 * A QoS 0 MQTT 3.1.1 PUBLISH frame in one buffer, for flood telemetry: the only
 * packet a flood device sends per report. mqttPacket.generate builds the same bytes
 * but makes a packet object, an EventEmitter accumulator and chunk arrays per call;
 * at 100,000 devices that is garbage on the hottest path. Here: one allocation.
 *
 * [MQTT-3.3.1] fixed header 0x30 (QoS 0, no DUP, no RETAIN), remaining length as a
 * variable byte integer (1–4 bytes), then the topic as a UTF-8 string with a 16-bit
 * length, then the payload. No packet id at QoS 0.
 */
export function qos0PublishFrame(topic: string, payload: string): Buffer {
  const topicLen = Buffer.byteLength(topic);
  const payloadLen = Buffer.byteLength(payload);
  const remaining = 2 + topicLen + payloadLen;
  const lenBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const frame = Buffer.allocUnsafe(1 + lenBytes + remaining);
  frame[0] = 0x30;
  let pos = 1;
  let x = remaining;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    frame[pos++] = b;
  } while (x > 0);
  frame.writeUInt16BE(topicLen, pos);
  pos += 2;
  pos += frame.write(topic, pos, 'utf8');
  frame.write(payload, pos, 'utf8');
  return frame;
}
