import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderConfigurationDoc } from '../src/config/configuration-doc';

/** `npm run docs`: writes docs/configuration.md from the settings' single declaration. */
async function main(): Promise<void> {
  // Compiled to dist/scripts/, two levels below the repository's root.
  const out = path.resolve(__dirname, '..', '..', 'docs', 'configuration.md');
  await writeFile(out, renderConfigurationDoc());
  process.stdout.write(`configuration doc: ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
