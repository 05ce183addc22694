import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The version in the package's own package.json. It is looked up from this file upwards because the file runs from
 * `src/cli/` under the tests and from `dist/src/cli/` as the installed bin.
 */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
