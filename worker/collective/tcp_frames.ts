/**
 * Framing of the Relay call over a raw TCP socket (collective.proto, TcpFrameKind): an 8-byte preamble
 * from the receiver, then frames `uint32 LE length | uint8 kind | protobuf bytes`. The payloads are the
 * proto's own messages (RelayRequest, RingChunk, RelayAbort); this file only cuts the byte stream.
 */
import { TcpFrameError } from './errors.js';

/** Values of the proto's TcpFrameKind (test/tcp_peer.test.ts checks them against the .proto). */
export const FRAME_KIND = { RELAY_REQUEST: 1, RING_CHUNK: 2, RELAY_END: 3 } as const;
export type FrameKind = (typeof FRAME_KIND)[keyof typeof FRAME_KIND];
const KIND_NAMES: Record<number, string> = { 1: 'RELAY_REQUEST', 2: 'RING_CHUNK', 3: 'RELAY_END' };

export const TCP_MAGIC = 'DSIR';
export const TCP_FRAMING_VERSION = 1;
export const PREAMBLE_BYTES = 8;
export const FRAME_HEADER_BYTES = 5;

export function preamble(): Buffer {
  const b = Buffer.alloc(PREAMBLE_BYTES);
  b.write(TCP_MAGIC, 0, 'latin1');
  b.writeUInt32LE(TCP_FRAMING_VERSION, 4);
  return b;
}

export function frameHeader(kind: FrameKind, payloadBytes: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  b.writeUInt32LE(payloadBytes, 0);
  b.writeUInt8(kind, 4);
  return b;
}

/** One whole frame (small messages: requests, aborts). */
export function frame(kind: FrameKind, payload: Uint8Array): Buffer {
  return Buffer.concat([frameHeader(kind, payload.byteLength), payload]);
}

export interface Frame {
  kind: FrameKind;
  payload: Buffer;
}

export interface FrameReaderOptions {
  /** Longest payload accepted; a longer one is refused before any of it is buffered. */
  maxFrameBytes: number;
  /** Kinds this side may receive. */
  accept: readonly FrameKind[];
  /** Expect the receiver's preamble first (the listening side). */
  preamble: boolean;
  /** Who sends these bytes, for error messages ("rank 1", "127.0.0.1:5000"). */
  from: string;
}

/** Cuts a TCP byte stream into frames; throws TcpFrameError naming the problem and the sender. */
export class FrameReader {
  private readonly head = Buffer.alloc(PREAMBLE_BYTES);
  private headFill = 0;
  private needPreamble: boolean;
  private kind: FrameKind | undefined;
  private payload: Buffer | undefined;
  private payloadFill = 0;

  constructor(private readonly o: FrameReaderOptions) {
    this.needPreamble = o.preamble;
  }

  /**
   * Frames completed by `bytes`, in order. A payload that arrives in one piece is a view of `bytes`,
   * not a copy, unless `reused` (the caller reads into the same buffer again): then it is copied.
   */
  push(bytes: Buffer, reused = false): Frame[] {
    const out: Frame[] = [];
    let at = 0;
    while (at < bytes.length) {
      if (this.payload === undefined) {
        const want = this.needPreamble ? PREAMBLE_BYTES : FRAME_HEADER_BYTES;
        const take = Math.min(want - this.headFill, bytes.length - at);
        bytes.copy(this.head, this.headFill, at, at + take);
        this.headFill += take;
        at += take;
        if (this.headFill < want) break;
        this.headFill = 0;
        if (this.needPreamble) {
          this.checkPreamble();
          continue;
        }
        const length = this.head.readUInt32LE(0);
        const kind = this.checkKind(this.head.readUInt8(4), length);
        if (length === 0) { out.push({ kind, payload: Buffer.alloc(0) }); continue; }
        if (bytes.length - at >= length) { // whole payload in this read: no copy unless the buffer is reused
          const view = bytes.subarray(at, at + length);
          out.push({ kind, payload: reused ? Buffer.from(view) : view });
          at += length;
          continue;
        }
        this.kind = kind;
        this.payload = Buffer.allocUnsafe(length);
        this.payloadFill = 0;
      }
      const take = Math.min(this.payload.length - this.payloadFill, bytes.length - at);
      bytes.copy(this.payload, this.payloadFill, at, at + take);
      this.payloadFill += take;
      at += take;
      if (this.payloadFill === this.payload.length) {
        out.push({ kind: this.kind as FrameKind, payload: this.payload });
        this.payload = undefined;
      }
    }
    return out;
  }

  /**
   * Where the next read should go to skip a copy: the unfilled rest of a partly received payload
   * (the kernel writes a 1 MiB chunk straight into its frame), else undefined (read into scratch).
   */
  directTarget(): Buffer | undefined {
    return this.payload?.subarray(this.payloadFill);
  }

  /** `n` bytes were read straight into directTarget(). */
  filledDirect(n: number): Frame[] {
    const payload = this.payload;
    if (!payload || n > payload.length - this.payloadFill) throw new TcpFrameError(`${this.o.from}: ${n} bytes read past the frame being received`);
    this.payloadFill += n;
    if (this.payloadFill < payload.length) return [];
    this.payload = undefined;
    return [{ kind: this.kind as FrameKind, payload }];
  }

  /** Bytes of an unfinished frame (or preamble) are pending: the stream ended mid-frame. */
  get midFrame(): boolean {
    return this.headFill > 0 || this.payload !== undefined;
  }

  private checkPreamble(): void {
    this.needPreamble = false;
    const magic = this.head.toString('latin1', 0, 4);
    const version = this.head.readUInt32LE(4);
    if (magic !== TCP_MAGIC)
      throw new TcpFrameError(`${this.o.from} is not a ring peer: its connection starts with ${JSON.stringify(magic)} (hex ${this.head.toString('hex')}), expected "${TCP_MAGIC}"`);
    if (version !== TCP_FRAMING_VERSION)
      throw new TcpFrameError(`${this.o.from} speaks ring TCP framing version ${version}, this worker speaks ${TCP_FRAMING_VERSION}`);
  }

  private checkKind(kind: number, length: number): FrameKind {
    if (!(this.o.accept as readonly number[]).includes(kind)) {
      const known = KIND_NAMES[kind];
      const allowed = this.o.accept.map((k) => KIND_NAMES[k]).join(', ');
      throw new TcpFrameError(known
        ? `${this.o.from} sent a ${known} frame, which this side does not accept (only ${allowed})`
        : `${this.o.from} sent a frame of unknown kind ${kind} (${length} bytes); expected ${allowed}`);
    }
    if (length > this.o.maxFrameBytes)
      throw new TcpFrameError(`${this.o.from} sent a ${KIND_NAMES[kind]} frame of ${length} bytes, over the limit of ${this.o.maxFrameBytes}`);
    return kind as FrameKind;
  }
}
