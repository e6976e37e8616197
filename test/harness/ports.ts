// Free TCP ports on loopback for test servers, found by letting the kernel pick one.
import { createServer } from 'node:net';

/** Ports handed out by this process, so that two servers started close together never get the same one. */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that nothing listened on a moment ago. The kernel picks it (bind to port 0), so it
 * comes from the ephemeral range and does not collide with well-known services such as a packaged PostgreSQL
 * on 5432.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await bindZero();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('unable to find a free port on 127.0.0.1 after 20 attempts');
}

function bindZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`unexpected server address '${String(address)}'`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
