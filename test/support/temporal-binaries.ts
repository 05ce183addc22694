import { existsSync } from 'node:fs';
import path from 'node:path';

const TOOLS_VENV_BIN = path.resolve(__dirname, '..', '..', '.tools', 'venv', 'bin');

/** The pinned time-skipping test server, installed by `npm run setup`; the SDK is never allowed to download one. */
export function testServerExecutable(): { type: 'existing-path'; path: string } {
  const binary = path.join(TOOLS_VENV_BIN, 'temporal-test-server');
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run setup`);
  return { type: 'existing-path', path: binary };
}
