import { AudioFileError, type AudioFileProblem } from '../storage/audio-store';
import { HttpError, type FieldProblem } from './http-error';

/**
 * How each problem with a file is answered. A file the caller does not own, for whatever reason, is always the
 * same 404 with the same words; size, format and duration are only ever reported for the caller's own files.
 */
const ANSWERS: Record<AudioFileProblem, { status: number; code: string }> = {
  invalid_path: { status: 400, code: 'invalid_request' },
  not_found: { status: 404, code: 'audio_not_found' },
  too_large: { status: 413, code: 'audio_too_large' },
  unsupported_format: { status: 415, code: 'unsupported_audio' },
  corrupt: { status: 400, code: 'invalid_audio' },
  too_long: { status: 400, code: 'invalid_audio' },
};

/** Problems with several files of one request, answered by the first one's status, every one named in details. */
export function audioFilesRejected(problems: (FieldProblem & { problem: AudioFileProblem })[]): HttpError {
  const [first] = problems;
  const { status, code } = ANSWERS[first?.problem ?? 'invalid_path'];
  const details = problems.map(({ field, message }) => ({ field, message }));
  return new HttpError(status, code, `audio rejected: ${details[0]?.message}`, details);
}

/** Runs `fn`, answering an {@link AudioFileError} as the 4xx its problem calls for, naming `field`. */
export async function answeringAudioErrors<T>(field: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof AudioFileError)) throw err;
    throw audioFilesRejected([{ field, message: err.message, problem: err.problem }]);
  }
}
