import { envelopeOf } from "../grpc/envelopes.ts";

/**
 * Just enough of HTTP/2 (RFC 9113) and HPACK (RFC 7541) to hold one gRPC
 * stream open by hand: frame encoding and parsing, and a header block made
 * of literal fields. A hand-made client is the only way to control exactly
 * which flow-control credit the server gets (client libraries grant window
 * as they see fit), which is what the slow-consumer measurement is about.
 */

export const FrameType = {
  data: 0x0,
  headers: 0x1,
  rstStream: 0x3,
  settings: 0x4,
  ping: 0x6,
  goaway: 0x7,
  windowUpdate: 0x8,
} as const;

export const Flags = { endStream: 0x1, ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 } as const;

/** SETTINGS identifiers used here. */
export const Setting = { enablePush: 0x2, initialWindowSize: 0x4 } as const;

export const clientPreface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** The window every stream and the connection start with (RFC 9113 §6.9.2). */
export const defaultWindowBytes = 65_535;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export function encodeFrame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settingsFrame(settings: readonly (readonly [number, number])[]): Buffer {
  const payload = Buffer.alloc(settings.length * 6);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return encodeFrame(FrameType.settings, 0, 0, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment & 0x7fffffff, 0);
  return encodeFrame(FrameType.windowUpdate, 0, streamId, payload);
}

/** The payload of a DATA frame without its padding. */
export function dataPayload(frame: Frame): Buffer {
  if ((frame.flags & Flags.padded) === 0) return frame.payload;
  const pad = frame.payload[0] ?? 0;
  return frame.payload.subarray(1, frame.payload.length - pad);
}

/**
 * Cuts a byte stream into length-prefixed units (HTTP/2 frames, gRPC
 * messages): each is a `headerBytes` header, whose `bodyLength` says how
 * many bytes follow. An incomplete tail waits for the next chunk.
 */
function createSplitter(
  headerBytes: number,
  bodyLength: (head: Buffer) => number,
  onUnit: (head: Buffer, body: Buffer) => void,
): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= headerBytes) {
      const head = pending.subarray(at, at + headerBytes);
      const end = at + headerBytes + bodyLength(head);
      if (pending.length < end) break;
      onUnit(head, pending.subarray(at + headerBytes, end));
      at = end;
    }
    pending = pending.subarray(at);
  };
}

/** Splits a byte stream into HTTP/2 frames. */
export function createFrameReader(onFrame: (frame: Frame) => void): (chunk: Buffer) => void {
  return createSplitter(
    9,
    (head) => head.readUIntBE(0, 3),
    (head, payload) => onFrame({ type: head[3]!, flags: head[4]!, streamId: head.readUInt32BE(5) & 0x7fffffff, payload }),
  );
}

/** HPACK integer with an n-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByteHigh: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteHigh | value];
  const out = [firstByteHigh | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes]);
}

/**
 * A header block of "literal field without indexing, new name" entries
 * (RFC 7541 §6.2.2): no dynamic table and no Huffman code, so the encoder
 * holds no state. Pseudo-headers must come first.
 */
export function encodeHeaderBlock(headers: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(headers.flatMap(([name, value]) => [Buffer.from([0]), hpackString(name), hpackString(value)]));
}

/** gRPC length-prefixed message framing (uncompressed; the gateway's own envelope, as a Buffer). */
export function grpcMessage(body: Uint8Array): Buffer {
  const framed = envelopeOf(body, Infinity);
  return Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
}

/** Reassembles gRPC messages from DATA payloads that may split or join them. */
export function createGrpcReader(onMessage: (body: Buffer) => void): (chunk: Buffer) => void {
  return createSplitter(5, (head) => head.readUInt32BE(1), (_head, body) => onMessage(body));
}
