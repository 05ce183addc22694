import { parseArgs } from 'node:util';
import { generateApiKey, hashApiKey } from './api-keys';
import { ROLES, USER_ID_PATTERN } from './principal';

/**
 * `npm run api-key -- --user alice [--role operator]`: makes a new API key, prints it once, and prints the line
 * to append to API_KEYS_FILE. The key itself is stored nowhere.
 */
function main(): void {
  let values: { user?: string; role: string };
  try {
    ({ values } = parseArgs({ options: { user: { type: 'string' }, role: { type: 'string', default: 'user' } } }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (!values.user || !USER_ID_PATTERN.test(values.user)) {
    fail('--user is required: 1-128 letters, digits and . _ @ : - (starting with a letter or digit)');
  }
  if (!(ROLES as readonly string[]).includes(values.role)) fail('--role must be user or operator');
  const key = generateApiKey();
  process.stdout.write(
    [
      `API key for ${values.user} (${values.role}), shown only now:`,
      '',
      `  ${key}`,
      '',
      'Append this line to the API_KEYS_FILE (default data/api-keys.txt) and restart the API:',
      '',
      `  ${hashApiKey(key)} ${values.user} ${values.role}`,
      '',
    ].join('\n'),
  );
}

function fail(message: string): never {
  process.stderr.write(`api-key: ${message}\n`);
  process.exit(2);
}

main();
