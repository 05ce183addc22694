import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FAILURE_CONVERTER_PATH } from '../src/codec/data-converter';

/**
 * Bundles the workflow code once at build time, so workers start without running webpack. A prebuilt bundle
 * ignores the worker's `failureConverterPath`, so the failure converter that encrypts failure messages is bundled
 * in here.
 */
async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
  });
  const out = path.resolve(__dirname, '..', 'workflow-bundle.js');
  await writeFile(out, code);
  process.stdout.write(`workflow bundle: ${out} (${code.length} bytes)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
