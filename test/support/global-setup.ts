import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { GlobalConfig } from 'jest';

const ROOT = path.resolve(__dirname, '..', '..');

/** The Debian packages a test file needs that nothing else does: `[command, package, who needs it]`. */
const DEBIAN_PACKAGES_BY_TEST: Record<string, [string, string, string][]> = {
  'test/integration/browser.test.ts': [['chromium', 'chromium', 'the browser tests']],
  'test/integration/cli.test.ts': [['tmux', 'tmux', 'the CLI terminal test']],
};

/**
 * Jest's global set-up: installs Chromium and tmux (when missing) only if the files that drive them are among the
 * files this run selected, so `npm run test:unit` never waits on apt-get.
 */
export default function globalSetup(globalConfig: GlobalConfig): void {
  const selected = globalConfig.testPathPatterns.toExecutor({ rootDir: ROOT });
  for (const [file, packages] of Object.entries(DEBIAN_PACKAGES_BY_TEST)) {
    if (selected.isSet() && !selected.isMatch(path.join(ROOT, file))) continue;
    for (const [command, pkg, neededBy] of packages) {
      execFileSync('bash', [path.join(ROOT, 'scripts', 'install-debian-package.sh'), command, pkg, neededBy], {
        stdio: 'inherit',
      });
    }
  }
}
