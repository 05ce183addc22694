import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { tempDir } from './temp-dir';

const run = promisify(execFile);

/** The name the front's certificate is issued to; clients check it with TEMPORAL_TLS_SERVER_NAME. */
export const TLS_FRONT_NAME = 'temporal.test';

/** PEM files made with Debian's openssl for one test: a CA, a server and a client it signed, and a stranger. */
export interface TestCertificates {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A client certificate from another CA, which the front must refuse. */
  strangerCertFile: string;
  strangerKeyFile: string;
}

export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await tempDir('tls');
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const selfSignedCa = (name: string) =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  const issue = async (ca: string, name: string, extensions: string) => {
    await openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    await writeFile(file(`${name}.ext`), extensions);
    await openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  };
  await selfSignedCa('test-ca');
  await selfSignedCa('stranger-ca');
  await issue('test-ca', 'server', `subjectAltName=DNS:${TLS_FRONT_NAME}\nextendedKeyUsage=serverAuth\n`);
  await issue('test-ca', 'client', 'extendedKeyUsage=clientAuth\n');
  await issue('stranger-ca', 'stranger', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: file('test-ca.crt'),
    serverCertFile: file('server.crt'),
    serverKeyFile: file('server.key'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    strangerCertFile: file('stranger.crt'),
    strangerKeyFile: file('stranger.key'),
  };
}

/**
 * A mutual-TLS front for a plaintext Temporal frontend, as a TLS-terminating load balancer would be: it demands a
 * client certificate signed by the test CA and passes the decrypted HTTP/2 bytes through to the dev server.
 */
export class TlsFront {
  /** Handshakes completed with a trusted client certificate. */
  authorized = 0;
  /** Handshakes refused: no certificate, or one from another CA. */
  refused = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {}

  static async start(certificates: TestCertificates, target: string): Promise<TlsFront> {
    const [ca, cert, key] = await Promise.all(
      [certificates.caFile, certificates.serverCertFile, certificates.serverKeyFile].map((pem) => readFile(pem)),
    );
    const [host, port] = target.split(':') as [string, string];
    const server = createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const front = new TlsFront(server, `127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('tlsClientError', () => (front.refused += 1));
    server.on('secureConnection', (client: TLSSocket) => {
      front.authorized += 1;
      const upstream = connect(Number(port), host);
      for (const socket of [client, upstream]) {
        front.sockets.add(socket);
        socket.on('close', () => front.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    return front;
  }

  stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
