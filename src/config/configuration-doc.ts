import { listSettings, Setting } from './setting';
import { SETTINGS } from './settings';

type Settings = typeof SETTINGS;
type Section = { [K in keyof Settings]: Settings[K] extends Setting ? never : K }[keyof Settings];

/** `general` holds the settings at the top of the tree. */
const SECTION_TITLES: Record<Section | 'general', string> = {
  general: 'General',
  api: 'HTTP API',
  auth: 'Authentication',
  limits: 'Limits',
  encryption: 'Payload encryption',
  jobsDatabase: 'Jobs database',
  audio: 'Audio and its store',
  temporal: 'Temporal',
  asr: 'ASR calls',
  asrEngine: 'Local ASR engine (`npm start`)',
  asrSimulator: 'ASR simulator',
  chunkRetry: 'Chunk retries',
  chunkTimeouts: 'Chunk timeouts',
  callbacks: 'Job callbacks',
  worker: 'Worker',
};

const INTRO = `# Configuration

<!-- Generated from src/config/settings.ts by \`npm run docs\`: edit the settings there, then run it. -->

Every process (the API, the worker, the ASR simulator and the \`npm start\` launcher) reads these environment
variables once, at start-up, and validates them before it does anything else. A process whose configuration is wrong
does not start: it reports every problem at once, naming each variable: bad values, settings that contradict each
other, and settings that the process needs but that are unset. A secret's value is never printed, not even when it is
wrong.

An empty variable counts as unset. Paths are resolved against the working directory. The sections follow the
configuration object the code reads (\`config.api\`, \`config.audio.s3\`, …).
`;

/** docs/configuration.md, rendered from the settings' declaration. */
export function renderConfigurationDoc(): string {
  const groups = new Map<string, Setting[]>();
  for (const { path, setting } of listSettings(SETTINGS)) {
    const group = path.slice(0, -1).join('.');
    groups.set(group, [...(groups.get(group) ?? []), setting]);
  }
  const sections = [...groups].map(([group, settings]) => [heading(group), '', ...settings.map(item), ''].join('\n'));
  return [INTRO, ...sections].join('\n');
}

function heading(group: string): string {
  if (group === '') return `## ${SECTION_TITLES.general}`;
  const [section, ...rest] = group.split('.') as [Section, ...string[]];
  return rest.length === 0 ? `## ${SECTION_TITLES[section]}: \`config.${group}\`` : `### \`config.${group}\``;
}

function defaultOf(setting: Setting): string {
  if (setting.default !== undefined) return `default \`${setting.default}\``;
  return setting.fallback === undefined ? 'unset by default' : `default ${setting.fallback}`;
}

function item(setting: Setting): string {
  const facts = [
    defaultOf(setting),
    ...(setting.secret ? ['secret'] : []),
    ...setting.requiredBy.map((process) => `required by the ${process}`),
  ];
  return `- \`${setting.env}\` (${facts.join('; ')}): ${setting.doc}`;
}
