import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A loopback port free at the moment of asking, for a server that must be told its port (one that can bind port 0
 * and say which port it got should do that instead).
 *
 * A port merely closed again is soon handed by Linux to the next bind of port 0 (another test's server, another dev
 * server's internal services): here, all of 294 such ports came back within the next 19,000 binds. So, as the
 * Temporal CLI does for its own ports (temporalio/cli internal/devserver/freeport.go), the port is left with a
 * connection in TIME_WAIT on the server's side, which keeps it from binds of port 0 for about a minute (none of 300
 * came back), while a server that sets SO_REUSEADDR (Node, Go, Python's http.server, Jetty, tokio: all those started
 * here) still binds it by number. Not a guarantee: callers retry a start that finds the port taken.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  const [serverSide] = await accepted;
  // The server's side closes first, so it is the one left in TIME_WAIT, holding the port.
  const closed = Promise.all([once(serverSide, 'close'), once(client, 'close')]);
  client.once('end', () => client.end());
  serverSide.end();
  await closed;
  server.close();
  await once(server, 'close');
  return port;
}

/** Whether something accepts TCP connections on the loopback port now. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
