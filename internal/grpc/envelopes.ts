import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type http2 from "node:http2";
import { gzipSync } from "node:zlib";

/**
 * gRPC's length-prefixed messages on a raw HTTP/2 stream, for the two lean
 * stream paths: the gateway's device streams (internal/gateway) and the
 * native SDK transport's (internal/client/node). A message is a flag byte
 * (bit 0: compressed with the stream's grpc-encoding), a 4-byte big-endian
 * length and the protobuf bytes.
 */
const HEADER_BYTES = 5;
const FLAG_COMPRESSED = 0x01;
const EMPTY = new Uint8Array(0);

/** A gRPC length-prefixed message, gzipped when it has `compressFrom` bytes or more. */
export function envelopeOf(payload: Uint8Array, compressFrom: number): Uint8Array {
  const compressed = payload.length >= compressFrom;
  const body = compressed ? gzipSync(payload) : payload;
  const out = new Uint8Array(HEADER_BYTES + body.length);
  out[0] = compressed ? FLAG_COMPRESSED : 0;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, HEADER_BYTES);
  return out;
}

/** Headers as node:http2 takes them. */
export function nodeHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => (out[name] = value));
  return out;
}

/** Headers node:http2 received, without the pseudo-headers. */
export function fetchHeaders(headers: http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.append(name, v);
    else out.set(name, String(value));
  }
  return out;
}

/** Decoded messages a reader holds before it pauses the stream (HTTP/2 flow control then holds the peer). */
const READ_AHEAD = 16;

/** How an EnvelopeReader treats what it reads. */
export interface EnvelopeReaderOptions {
  /** Largest message accepted (the envelope's length): a larger one fails the read with resource_exhausted. */
  readonly readMaxBytes: number;
  /** The code of the error for a stream that ended inside a message (the peer broke the protocol). */
  readonly truncatedCode: Code;
  /** Inflates a compressed message; without it a compressed message fails the read. */
  readonly decompress?: (bytes: Uint8Array) => Uint8Array;
  /** Asked once the stream has ended or closed with nothing pending: an error to end the messages with, if any. */
  readonly endError?: () => unknown;
  /** What an `error` event of the stream (a reset, a broken connection) ends the messages with; default: the error. */
  readonly streamError?: (error: unknown) => unknown;
}

/**
 * The messages of one direction of an HTTP/2 stream as they arrive, decoded
 * on `data` events (no async iterator over the stream, which would add a
 * generator and its promises per stream and per chunk). A malformed or
 * oversized envelope fails the next read; the stream ending or going away
 * ends the messages (with `endError()` if that gives one). A class, so that
 * a stream holds one object and its listeners rather than a closure per step.
 */
export class EnvelopeReader<T extends DescMessage> implements AsyncIterableIterator<MessageShape<T>> {
  private readonly ready: MessageShape<T>[] = [];
  private pending: Uint8Array = EMPTY;
  private failure: unknown;
  private ended = false;
  private waiter: { resolve: (r: IteratorResult<MessageShape<T>>) => void; reject: (e: unknown) => void } | undefined;

  constructor(
    private readonly stream: http2.Http2Stream,
    private readonly schema: T,
    private readonly opts: EnvelopeReaderOptions,
  ) {
    stream.on("data", this.onData);
    stream.on("end", this.onEnd);
    stream.on("close", this.onEnd);
    // Stays after stop(): an error event without a listener would throw.
    stream.on("error", this.onError);
  }

  next(): Promise<IteratorResult<MessageShape<T>>> {
    const { ready, stream } = this;
    if (ready.length > 0) {
      const value = ready.shift()!;
      if (ready.length < READ_AHEAD / 2 && stream.isPaused()) stream.resume();
      return Promise.resolve({ value, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (stream.isPaused()) stream.resume();
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<MessageShape<T>>> {
    this.stop();
    this.ended = true;
    this.ready.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<MessageShape<T>> {
    return this;
  }

  private readonly onData = (chunk: Uint8Array): void => {
    const { readMaxBytes, decompress } = this.opts;
    const pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    while (pending.length - at >= HEADER_BYTES) {
      const flags = pending[at]!;
      const length = new DataView(pending.buffer, pending.byteOffset + at + 1, 4).getUint32(0);
      if (length > readMaxBytes) {
        return this.fail(new ConnectError(`message size ${length} is larger than ${readMaxBytes}`, Code.ResourceExhausted));
      }
      const compressed = (flags & FLAG_COMPRESSED) !== 0;
      if (compressed && !decompress) {
        return this.fail(new ConnectError("compressed message without a grpc-encoding", Code.Internal));
      }
      const end = at + HEADER_BYTES + length;
      if (pending.length < end) break;
      try {
        const bytes = pending.subarray(at + HEADER_BYTES, end);
        this.ready.push(fromBinary(this.schema, compressed ? decompress!(bytes) : bytes));
      } catch (err) {
        return this.fail(err);
      }
      at = end;
    }
    this.pending = at === pending.length ? EMPTY : pending.subarray(at);
    if (this.ready.length >= READ_AHEAD) this.stream.pause();
    this.settle();
  };

  private readonly onEnd = (): void => {
    this.stop();
    if (this.pending.length > 0) this.failure ??= new ConnectError("stream ended inside a message", this.opts.truncatedCode);
    else if (this.opts.endError) this.failure ??= this.opts.endError();
    this.ended = true;
    this.settle();
  };

  private readonly onError = (err: unknown): void => this.fail(this.opts.streamError ? this.opts.streamError(err) : err);

  private fail(err: unknown): void {
    this.failure ??= err;
    this.stop();
    this.settle();
  }

  private stop(): void {
    this.stream.off("data", this.onData);
    this.stream.off("end", this.onEnd);
    this.stream.off("close", this.onEnd);
  }

  private settle(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.ready.length > 0) {
      this.waiter = undefined;
      w.resolve({ value: this.ready.shift()!, done: false });
    } else if (this.failure !== undefined) {
      this.waiter = undefined;
      w.reject(this.failure);
    } else if (this.ended) {
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
  }
}
