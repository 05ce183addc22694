import type { ChunkState, TranscriptSegment } from '../../workflows/contract';

export type SubtitleFormat = 'srt' | 'vtt';

/** Subtitle lines are kept to a width readers can take in at a glance (the common broadcast guideline). */
const MAX_LINE_CHARS = 42;

/**
 * The job's transcript as subtitles whose times run across the whole job: each chunk's segment times are shifted
 * by the durations of the chunks before it. A chunk the ASR gave no segments for becomes one cue over the whole
 * chunk; a silent chunk adds no cue but still moves the clock.
 */
export function jobCues(chunks: readonly ChunkState[]): TranscriptSegment[] {
  const cues: TranscriptSegment[] = [];
  let offset = 0;
  for (const chunk of [...chunks].sort((a, b) => a.index - b.index)) {
    const text = (chunk.transcript ?? '').trim();
    const segments =
      chunk.segments ?? (text ? [{ startSeconds: 0, endSeconds: chunk.durationSeconds ?? 0, text }] : []);
    const lastEnd = Math.max(0, ...segments.map((segment) => segment.endSeconds));
    const duration = chunk.durationSeconds ?? lastEnd;
    for (const segment of segments) {
      const cueText = segment.text.replace(/\s+/g, ' ').trim();
      if (!cueText) continue;
      // A segment may overrun the chunk's measured length a little; it must not overlap the next chunk's cues.
      const start = offset + Math.min(segment.startSeconds, duration);
      const end = offset + Math.min(Math.max(segment.endSeconds, segment.startSeconds), duration);
      cues.push({ startSeconds: start, endSeconds: end, text: cueText });
    }
    offset += duration;
  }
  return cues;
}

export function renderSubtitles(chunks: readonly ChunkState[], format: SubtitleFormat): string {
  const cues = jobCues(chunks);
  if (format === 'srt') {
    return cues
      .map(
        (cue, i) =>
          `${i + 1}\n${timestamp(cue.startSeconds, ',')} --> ${timestamp(cue.endSeconds, ',')}\n${wrap(cue.text)}\n`,
      )
      .join('\n');
  }
  const body = cues
    .map(
      (cue) =>
        `${timestamp(cue.startSeconds, '.')} --> ${timestamp(cue.endSeconds, '.')}\n${wrap(escapeVtt(cue.text))}\n`,
    )
    .join('\n');
  return body ? `WEBVTT\n\n${body}` : 'WEBVTT\n';
}

function timestamp(seconds: number, fractionSeparator: ',' | '.'): string {
  const totalMs = Math.round(seconds * 1000);
  const ms = totalMs % 1000;
  const totalSeconds = (totalMs - ms) / 1000;
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${pad(Math.floor(totalSeconds / 3600))}:${pad(Math.floor(totalSeconds / 60) % 60)}:${pad(totalSeconds % 60)}${fractionSeparator}${pad(ms, 3)}`;
}

/** Breaks at spaces into lines of at most MAX_LINE_CHARS (a longer word keeps its own line). */
function wrap(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > MAX_LINE_CHARS) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** WebVTT cue text is markup: `&`, `<` and `>` must be escaped, and an escaped `>` also defuses `-->`. */
function escapeVtt(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
