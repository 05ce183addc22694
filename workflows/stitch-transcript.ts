/**
 * Joins chunk transcripts in chunk order with single spaces. Whitespace at the seams is collapsed so that
 * a chunk ending in a newline does not leave a double space, and an empty chunk (silence) adds nothing.
 */
export function stitchTranscript(chunkTranscripts: readonly string[]): string {
  return chunkTranscripts
    .map((text) => text.trim())
    .filter((text) => text.length > 0)
    .join(' ');
}
