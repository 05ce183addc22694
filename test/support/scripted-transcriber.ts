import { Context } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AudioToTranscribe, Transcriber, Transcription } from '../../src/asr/asr-client';
import type { TranscriptSegment } from '../../workflows/contract';

/** One scripted ASR answer: a transcript after an optional delay, or an error to throw. */
export type ScriptedStep =
  { text: string; delayMs?: number; segments?: TranscriptSegment[]; durationSeconds?: number } | { error: Error };

/** An ASR answer with text alone, as from an ASR that gives no segments. */
export const textOnly = (text: string): Transcription => ({ text, segments: null, durationSeconds: null });

/**
 * TEST DOUBLE of the ASR for time-skipping workflow tests: answers each file from a script, in order, and records
 * every attempt with the test server's clock at its start (so backoff can be checked in workflow time).
 */
export class ScriptedTranscriber implements Transcriber {
  readonly attempts: { name: string; attempt: number; startedAtMs: number }[] = [];
  /** Files whose call was aborted by the activity's cancellation signal while the scripted delay ran. */
  readonly aborted: string[] = [];
  private readonly steps = new Map<string, ScriptedStep[]>();

  constructor(
    private readonly clock: () => Promise<number>,
    private readonly fallback: (name: string) => ScriptedStep = (name) => ({ text: `text of ${name}` }),
  ) {}

  script(name: string, ...steps: ScriptedStep[]): this {
    this.steps.set(name, steps);
    return this;
  }

  attemptsFor(name: string) {
    return this.attempts.filter((attempt) => attempt.name === name);
  }

  async transcribe(audio: AudioToTranscribe, options: { signal?: AbortSignal } = {}): Promise<Transcription> {
    const { info } = Context.current();
    this.attempts.push({ name: audio.name, attempt: info.attempt, startedAtMs: await this.clock() });
    const step = this.steps.get(audio.name)?.shift() ?? this.fallback(audio.name);
    if ('error' in step) throw step.error;
    if (step.delayMs) {
      try {
        await sleep(step.delayMs, undefined, { signal: options.signal });
      } catch (err) {
        if (options.signal?.aborted) this.aborted.push(audio.name);
        throw err;
      }
    }
    return { text: step.text, segments: step.segments ?? null, durationSeconds: step.durationSeconds ?? null };
  }
}
