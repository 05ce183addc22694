/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120_000,
  // Chromium and tmux, installed only when a run selects the tests that use them.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // The Temporal servers and workers are shared per file and heavy on 2 cores: one file at a time.
  maxWorkers: 1,
  // The SDK's native runtime keeps handles open after teardown.
  forceExit: true,
};
