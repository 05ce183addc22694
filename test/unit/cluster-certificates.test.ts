/**
 * deploy/temporal/make-certificates.sh, the script that makes the certificates of the cluster's mutual TLS for
 * `npm run cluster` and the compose file's `temporal-tls` job: run with the machine's `sh` and `openssl`, in the
 * environment the cluster gives it, and its files read back with Node's X.509 parser.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { MAKE_CERTIFICATES_SCRIPT, TLS_SERVER_NAMES, certificateJobEnvironment } from '../../src/cluster/server-config';
import { tempDir } from '../support/temp-dir';

const execFileAsync = promisify(execFile);
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const CERTIFICATES = ['cluster-ca', 'client-ca', 'frontend', 'internode', 'service', 'operator'];

/** Runs the script on `dir` as the cluster does, with `env` on top; its output, or its error output if it failed. */
async function makeCertificates(dir: string, env: Record<string, string> = {}) {
  try {
    const { stdout } = await execFileAsync('sh', [MAKE_CERTIFICATES_SCRIPT], {
      env: { ...certificateJobEnvironment(dir), ...env },
    });
    return { ok: true, output: stdout };
  } catch (err) {
    return { ok: false, output: (err as { stderr: string }).stderr };
  }
}

async function certificate(dir: string, name: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path.join(dir, `${name}.pem`)));
}

/** Every file of the folder and its content. */
async function contents(dir: string): Promise<Record<string, string>> {
  const files = (await readdir(dir)).sort();
  return Object.fromEntries(
    await Promise.all(files.map(async (file) => [file, await readFile(path.join(dir, file), 'utf8')] as const)),
  );
}

describe('deploy/temporal/make-certificates.sh', () => {
  let root: string;
  let dir: string;
  let first: Record<string, string>;

  beforeAll(async () => {
    root = await tempDir('certificates');
    dir = path.join(root, 'tls');
    expect(await makeCertificates(dir)).toMatchObject({ ok: true });
    first = await contents(dir);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('when run in an empty folder, then it makes two CAs and four certificates, each private key readable by its owner only', async () => {
    expect(Object.keys(first)).toEqual(CERTIFICATES.flatMap((name) => [`${name}.key`, `${name}.pem`]).sort());
    for (const name of CERTIFICATES) {
      const key = path.join(dir, `${name}.key`);
      expect({ name, mode: (await stat(key)).mode & 0o777 }).toEqual({ name, mode: 0o600 });
      expect({ name, mode: (await stat(path.join(dir, `${name}.pem`))).mode & 0o777 }).toEqual({ name, mode: 0o644 });
    }
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
  });

  it('when the certificates are read, then each is signed by its CA, for its use and its names', async () => {
    const clusterCa = await certificate(dir, 'cluster-ca');
    const clientCa = await certificate(dir, 'client-ca');
    for (const ca of [clusterCa, clientCa]) expect(ca.ca).toBe(true);
    expect(clusterCa.publicKey.equals(clientCa.publicKey)).toBe(false);

    const frontend = await certificate(dir, 'frontend');
    expect(frontend.verify(clusterCa.publicKey)).toBe(true);
    expect(frontend.ca).toBe(false);
    expect(frontend.keyUsage).toEqual([SERVER_AUTH]);
    expect(frontend.checkHost(TLS_SERVER_NAMES.frontend)).toBe(TLS_SERVER_NAMES.frontend);
    expect(frontend.checkHost('localhost')).toBe('localhost');
    expect(frontend.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(frontend.checkHost(TLS_SERVER_NAMES.internode)).toBeUndefined();

    // Presented by every Temporal process to the others, as server and as client.
    const internode = await certificate(dir, 'internode');
    expect(internode.verify(clusterCa.publicKey)).toBe(true);
    expect([...internode.keyUsage].sort()).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    expect(internode.checkHost(TLS_SERVER_NAMES.internode)).toBe(TLS_SERVER_NAMES.internode);

    for (const client of ['service', 'operator']) {
      const cert = await certificate(dir, client);
      expect({
        client,
        byClientCa: cert.verify(clientCa.publicKey),
        byClusterCa: cert.verify(clusterCa.publicKey),
      }).toEqual({ client, byClientCa: true, byClusterCa: false });
      expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    }
    // Valid for about 13 months, renewed by the script in the last 30 days.
    const days = (Date.parse(frontend.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(390);
    expect(days).toBeLessThan(400);
  });

  it('when run again, then it keeps every file as it is', async () => {
    const again = await makeCertificates(dir);
    expect(again).toEqual({ ok: true, output: `make-certificates: certificates ready in ${dir}\n` });
    expect(await contents(dir)).toEqual(first);
  });

  it('when a certificate is missing, or the frontend is to be reached by another name, then only that one is issued again', async () => {
    const copy = path.join(root, 'changed');
    await mkdir(copy);
    for (const file of Object.keys(first)) await copyFile(path.join(dir, file), path.join(copy, file));
    await rm(path.join(copy, 'service.pem'));
    const result = await makeCertificates(copy, { FRONTEND_HOSTS: 'temporal.example.org 10.0.0.7' });
    expect(result.ok).toBe(true);
    expect(result.output).toContain('issued service.pem');
    expect(result.output).toContain('issued frontend.pem');
    const now = await contents(copy);
    const changed = Object.keys(first).filter((file) => now[file] !== first[file]);
    expect(changed).toEqual(['frontend.key', 'frontend.pem', 'service.key', 'service.pem']);
    const frontend = await certificate(copy, 'frontend');
    expect(frontend.checkHost('temporal.example.org')).toBe('temporal.example.org');
    expect(frontend.checkIP('10.0.0.7')).toBe('10.0.0.7');
    expect(frontend.checkHost(TLS_SERVER_NAMES.frontend)).toBe(TLS_SERVER_NAMES.frontend);
  });

  it('when certificates are due for renewal, then each is issued again with a new key, keeping the names it had', async () => {
    const due = path.join(root, 'due');
    await mkdir(due);
    expect(await makeCertificates(due, { FRONTEND_HOSTS: 'temporal.example.org' })).toMatchObject({ ok: true });
    const before = await contents(due);
    // Renewed when valid for less than RENEW_DAYS (30 by default): every certificate here is, with 400.
    const renewal = await makeCertificates(due, { RENEW_DAYS: '400' });
    expect(renewal.output).toContain('(frontend.pem expires within 400 days)');
    const now = await contents(due);
    const changed = Object.keys(before).filter((file) => now[file] !== before[file]);
    expect(changed).toEqual(Object.keys(before).filter((file) => !file.includes('-ca.')));
    expect((await certificate(due, 'frontend')).checkHost('temporal.example.org')).toBe('temporal.example.org');
  });

  it("when an organisation's own certificates are there without their CAs' keys, then they are kept, and a missing one is refused naming what to supply", async () => {
    const own = path.join(root, 'own');
    await mkdir(own);
    const withoutCaKeys = Object.keys(first).filter((file) => !/-ca\.key$/.test(file));
    for (const file of withoutCaKeys) await copyFile(path.join(dir, file), path.join(own, file));
    expect(await makeCertificates(own)).toMatchObject({ ok: true });
    expect(Object.keys(await contents(own))).toEqual(withoutCaKeys);

    await rm(path.join(own, 'operator.pem'));
    expect(await makeCertificates(own)).toEqual({
      ok: false,
      output:
        'make-certificates: operator.pem or operator.key is missing, and client-ca.key is not here to issue it ' +
        'again: supply operator.pem and operator.key\n',
    });
  });

  it('when a CA is replaced, then every certificate it signed is issued again, and the others are kept', async () => {
    const renewed = path.join(root, 'renewed');
    await mkdir(renewed);
    for (const file of Object.keys(first)) await copyFile(path.join(dir, file), path.join(renewed, file));
    await rm(path.join(renewed, 'client-ca.pem'));
    expect(await makeCertificates(renewed)).toMatchObject({ ok: true });
    const now = await contents(renewed);
    const changed = Object.keys(first).filter((file) => now[file] !== first[file]);
    expect(changed).toEqual([
      'client-ca.key',
      'client-ca.pem',
      'operator.key',
      'operator.pem',
      'service.key',
      'service.pem',
    ]);
  });
});
