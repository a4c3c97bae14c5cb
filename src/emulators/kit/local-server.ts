import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts `server` listening (port 0 picks a free one) and gives the base URL clients should use. */
export async function listenLocal(server: Server, options: { port?: number; host?: string }): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  // A wildcard bind is reachable as localhost; the wildcard itself is not an address to call.
  return `http://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${address.port}`;
}

/** Stops `server` at once: open keep-alive connections are closed rather than waited for. */
export async function closeNow(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
