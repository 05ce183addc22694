import path from 'node:path';
import { compareLatest, readHistory } from './bench-history';

/**
 * `npm run bench:compare [FILE]`: the latest benchmark run against the one before it, each figure with its noise
 * range and whether the change is beyond it, so a regression is visible in review.
 */
async function main(): Promise<void> {
  const file = process.argv[2] ?? path.resolve(__dirname, '..', '..', 'docs', 'benchmark', 'history.jsonl');
  process.stdout.write(`${compareLatest(await readHistory(file)).join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
