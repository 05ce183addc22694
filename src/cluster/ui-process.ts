import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '../process/free-port';
import { ClusterProcess } from './cluster-process';
import { uiEnvironment, type ClientTls } from './server-config';

export interface UiProcessOptions {
  /** The frontend's `host:port`. */
  address: string;
  /** The operators' certificate, when the frontend asks for one. */
  tls?: ClientTls;
  /** The built UI server and its image's configuration template. */
  ui: { server: string; configTemplate: string };
  /** The UI's folder in the cluster (`ui/`): its configuration. */
  dir: string;
  /** 0 picks a free one. */
  port: number;
  apiPort: number | undefined;
  namespace: string;
  pidFile: string;
  logFile: string;
  startupTimeoutMs: number;
  onUnexpectedExit?: (code: number | null) => void;
}

/**
 * Starts the Web UI server (temporalio/ui-server, the program inside the temporalio/ui image) the way that image
 * runs it, `ui-server --env docker start`, rendering the image's own configuration template from the same
 * variables the compose file gives it. One setting is added underneath, in `base.yaml` (which the template's values
 * override, and which it leaves unset): listen on loopback only, where the image listens on every interface of its
 * container.
 */
export async function startUiProcess(options: UiProcessOptions): Promise<{ process: ClusterProcess; url: string }> {
  const configDir = path.join(options.dir, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(path.join(configDir, 'base.yaml'), 'host: 127.0.0.1\n');
  await copyFile(options.ui.configTemplate, path.join(configDir, 'docker.yaml'));
  const port = options.port === 0 ? await freePort() : options.port;
  const process = new ClusterProcess({
    name: 'ui-1',
    command: options.ui.server,
    args: ['--root', options.dir, '--config', 'config', '--env', 'docker', 'start'],
    port,
    env: uiEnvironment({
      address: options.address,
      tls: options.tls,
      uiPort: port,
      namespace: options.namespace,
      apiPort: options.apiPort,
    }),
    pidFile: options.pidFile,
    logFile: options.logFile,
    startupTimeoutMs: options.startupTimeoutMs,
    onUnexpectedExit: options.onUnexpectedExit,
  });
  await process.start();
  return { process, url: `http://127.0.0.1:${port}` };
}
