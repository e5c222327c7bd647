/**
 * The ceiling the ring is compared with: a plain TCP socket (node:net) between two processes,
 * no framing, no HTTP/2, nothing done with the bytes. One process runs `tcpSink`, the other `tcpBlast`.
 */
import net from 'node:net';

/** Size of each write of the sender; large writes let the kernel batch. */
const WRITE_BYTES = 1 << 20;

/**
 * Listens on host:0 and accepts one connection at a time; after `bytes` bytes from a connection it
 * answers one byte (so the sender can stop its clock) and waits for the next. close() releases the port.
 */
export async function tcpSink(bytes: number, host = '127.0.0.1'): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    let received = 0;
    socket.on('data', (b: Buffer) => {
      received += b.length;
      if (received === bytes) socket.end(Buffer.of(1));
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`tcp sink has no port: ${String(address)}`);
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Sends `bytes` bytes to a tcpSink and returns the milliseconds from connected to acknowledged. */
export async function tcpBlast(port: number, bytes: number, host = '127.0.0.1'): Promise<number> {
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const block = Buffer.alloc(Math.min(WRITE_BYTES, bytes), 7);
  const acked = new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('tcp sink closed before acknowledging')));
  });
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; sent += block.length) {
    const piece = sent + block.length <= bytes ? block : block.subarray(0, bytes - sent);
    if (!socket.write(piece)) await new Promise<void>((resolve) => socket.once('drain', resolve));
  }
  await acked;
  const ms = performance.now() - t0;
  socket.destroy();
  return ms;
}

/**
 * The ceiling of a ring of N processes on this host: each sends to its right neighbour while it
 * receives from its left, all at once, no framing and nothing done with the bytes. Per link that is
 * the most a ring all-reduce's busbw can reach here: N links' copies share the host's cores, which the
 * 2-process ceiling above does not show.
 */
export class TcpRingProbe {
  private incoming: net.Socket | undefined;
  private outgoing: net.Socket | undefined;
  private received = 0;
  private target = 0;
  private wake: (() => void) | undefined;
  private readonly connected: Promise<net.Socket>;

  private constructor(private readonly server: net.Server, readonly port: number) {
    this.connected = new Promise((resolve) => server.once('connection', resolve));
    void this.connected.then((s) => {
      this.incoming = s;
      s.on('data', (b: Buffer) => {
        this.received += b.length;
        if (this.received >= this.target && this.wake) { const w = this.wake; this.wake = undefined; w(); }
      });
      s.on('error', () => s.destroy());
    });
  }

  static async listen(host = '127.0.0.1'): Promise<TcpRingProbe> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error(`tcp ring probe has no port: ${String(address)}`);
    return new TcpRingProbe(server, address.port);
  }

  /** Connects to the right neighbour's probe. */
  async connect(port: number, host = '127.0.0.1'): Promise<void> {
    const socket = net.connect({ port, host, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    this.outgoing = socket;
  }

  /** Sends `bytes` right and waits for `bytes` more from the left; milliseconds from start to both done. */
  async run(bytes: number): Promise<number> {
    const out = this.outgoing;
    if (!out) throw new Error('tcp ring probe: connect first');
    await this.connected;
    this.target += bytes;
    const block = Buffer.alloc(Math.min(WRITE_BYTES, bytes), 7);
    const t0 = performance.now();
    const got = this.received >= this.target ? Promise.resolve() : new Promise<void>((resolve) => { this.wake = resolve; });
    for (let sent = 0; sent < bytes; sent += block.length) {
      const piece = sent + block.length <= bytes ? block : block.subarray(0, bytes - sent);
      if (!out.write(piece)) await new Promise<void>((resolve) => out.once('drain', resolve));
    }
    await got;
    return performance.now() - t0;
  }

  async close(): Promise<void> {
    this.outgoing?.destroy();
    this.incoming?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
