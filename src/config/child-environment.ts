import type { z } from 'zod';
import { SETTINGS } from './settings';

/** The settings the launcher decides for the processes it starts, by the name it gives them. */
const PASSED_TO_CHILDREN = {
  temporalAddress: SETTINGS.temporal.address,
  asrUrl: SETTINGS.asr.url,
  asrTimeoutMs: SETTINGS.asr.timeoutMs,
  asrMaxConcurrentCalls: SETTINGS.asr.maxConcurrentCalls,
  workerMetricsAddress: SETTINGS.worker.metricsAddress,
  // The API lets the Web UI's origin call the codec endpoint: the UI's real port, when the dev server picked it.
  temporalUiPort: SETTINGS.temporal.devServerUiPort,
};

type Passed = typeof PASSED_TO_CHILDREN;
/** Values the launcher passes to a child: the services it started for it, and the settings that suit them. */
export type ChildSettings = { [K in keyof Passed]?: z.output<Passed[K]['schema']> };

/**
 * A child's environment: the launcher's own, with each given value written under its setting's variable. The only
 * place where the launcher turns its decisions into environment variables; its own environment is left as it is.
 */
export function childEnvironment(base: NodeJS.ProcessEnv, settings: ChildSettings): NodeJS.ProcessEnv {
  const explicit = (Object.keys(PASSED_TO_CHILDREN) as (keyof Passed)[]).flatMap((key) => {
    const value = settings[key];
    return value === undefined ? [] : [[PASSED_TO_CHILDREN[key].env, String(value)] as const];
  });
  return { ...base, ...Object.fromEntries(explicit) };
}
