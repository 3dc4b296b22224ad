import { once } from 'node:events';
import net from 'node:net';

export interface TcpProxy {
  /** The local port clients connect to (127.0.0.1). */
  port: number;
  /**
   * A network cut: every open connection is reset (both sides) and the port stops accepting,
   * so new connections are refused. Resolves once nothing is left open.
   */
  cut(): Promise<void>;
  /** Accepts again, on the same port. */
  restore(): Promise<void>;
  /** Cuts and stays down; call it in `afterAll`. */
  close(): Promise<void>;
}

/**
 * A TCP proxy from a free local port to `target`, which a test can cut and restore: what a
 * dependency's restart or a network partition looks like to the client (its pool), without
 * touching the shared server behind it.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // A reset peer is the point of the exercise, not a failure of the proxy.
    s.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });

  const listen = async (port: number) => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as net.AddressInfo).port;
  };
  const port = await listen(0);
  let closed = false;

  const cut = async () => {
    if (!server.listening) return;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.resetAndDestroy();
    await stopped;
  };

  return {
    port,
    cut,
    async restore() {
      if (closed) throw new Error('the proxy is closed');
      if (!server.listening) await listen(port);
    },
    async close() {
      closed = true;
      await cut();
    },
  };
}
