/**
 * A loopback TCP proxy for fault injection: forwards bytes to `target` until told to misbehave.
 * The mode applies to every chunk a client sends from the moment it is set (connections already
 * open included):
 *
 *  - 'pass'  forward (optionally after `delayMs`);
 *  - 'hang'  accept and read, never forward, never answer (a dead endpoint that keeps the socket);
 *  - 'reset' destroy the client's connection (ECONNRESET);
 *  - '500'   answer `HTTP/1.1 500` with an S3-style InternalError body and close.
 *
 * `connections()` counts sockets currently open from clients, so a test can see that hung requests
 * released theirs.
 */
import net from 'node:net';

export type FaultMode = 'pass' | 'hang' | 'reset' | '500';

export interface FaultProxy {
  url: string;
  mode: FaultMode;
  /** Delay before forwarding each chunk in 'pass' mode (ms). */
  delayMs: number;
  connections(): number;
  close(): Promise<void>;
}

const ERROR_BODY = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>injected by the fault proxy</Message></Error>';

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const state = { mode: 'pass' as FaultMode, delayMs: 0 };
  const server = net.createServer((client) => {
    sockets.add(client);
    const upstream = net.connect(target.port, target.host);
    let chain = Promise.resolve();
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    client.on('error', kill);
    upstream.on('error', kill);
    upstream.on('close', () => client.destroy());
    upstream.on('data', (c: Buffer) => {
      if (!client.destroyed) client.write(c);
    });
    client.on('data', (chunk: Buffer) => {
      const mode = state.mode;
      if (mode === 'hang') return;
      if (mode === 'reset') {
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (mode === '500') {
        client.end(
          `HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(ERROR_BODY)}\r\nConnection: close\r\n\r\n${ERROR_BODY}`,
        );
        upstream.destroy();
        return;
      }
      const delay = state.delayMs;
      chain = chain.then(async () => {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (!upstream.destroyed) upstream.write(chunk);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: FaultMode) {
      state.mode = m;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    connections: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Poll `probe` until it returns true (every 100 ms, up to `withinMs`); resolves the ms it took. */
export async function waitUntil(probe: () => Promise<boolean>, withinMs: number, what: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await probe().catch(() => false)) return performance.now() - started;
    if (performance.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
