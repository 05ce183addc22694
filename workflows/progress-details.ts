import type { ChunkState } from './contract';

/** How many shown by name in the current details; the rest are counted. */
const RETRYING_NAMED = 3;

/**
 * The workflow's current details in the Web UI: progress, and which chunks are retrying and why
 * ("17/24 chunks done, chunk 5 retrying: ASR answered 503"). Chunks are numbered from 1, as in the activity
 * summaries beside them.
 */
export function progressDetails(chunks: readonly ChunkState[]): string {
  const done = chunks.filter((chunk) => chunk.status === 'completed').length;
  const failed = chunks.filter((chunk) => chunk.status === 'failed').length;
  const retrying = chunks.filter((chunk) => chunk.status === 'in_progress' && chunk.error !== null);
  const parts = [`${done}/${chunks.length} chunks done`];
  for (const chunk of retrying.slice(0, RETRYING_NAMED))
    parts.push(`chunk ${chunk.index + 1} retrying: ${chunk.error}`);
  if (retrying.length > RETRYING_NAMED) parts.push(`${retrying.length - RETRYING_NAMED} more retrying`);
  if (failed > 0) parts.push(`${failed} failed`);
  return parts.join(', ');
}
