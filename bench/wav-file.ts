/* The benchmark's, the evaluation's and the tests' audio: real WAV files, so the service's content checks accept them. */

/** A WAV file around 16-bit mono PCM samples. */
export function pcm16Wav(sampleRate: number, samples: Buffer): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + samples.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(samples.length, 40);
  return Buffer.concat([header, samples]);
}

/** A real WAV file: 16-bit mono PCM at 8 kHz, of `seconds` of quiet noise, or padded to `bytes` in total. */
export function wavBytes(options: { seconds?: number; bytes?: number } = {}): Buffer {
  const sampleRate = 8000;
  const dataBytes =
    options.bytes !== undefined ? Math.max(0, options.bytes - 44) : Math.round((options.seconds ?? 1) * sampleRate) * 2;
  const samples = Buffer.alloc(dataBytes);
  for (let offset = 0; offset + 1 < samples.length; offset += 2) {
    samples.writeInt16LE((((offset + 44) * 7919) % 64) - 32, offset);
  }
  return pcm16Wav(sampleRate, samples);
}

/** A WAV file of digital silence, 16-bit mono. */
export function silentWav(seconds: number, sampleRate = 8000): Buffer {
  return pcm16Wav(sampleRate, Buffer.alloc(Math.round(seconds * sampleRate) * 2));
}
