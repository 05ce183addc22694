/* The benchmark's and the tests' audio: real WAV files, so the service's content checks accept them. */
/** A real WAV file: 16-bit mono PCM at 8 kHz, of `seconds` of quiet noise, or padded to `bytes` in total. */
export function wavBytes(options: { seconds?: number; bytes?: number } = {}): Buffer {
  const sampleRate = 8000;
  const dataBytes =
    options.bytes !== undefined ? Math.max(0, options.bytes - 44) : Math.round((options.seconds ?? 1) * sampleRate) * 2;
  const wav = Buffer.alloc(44 + dataBytes);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + dataBytes, 4);
  wav.write('WAVEfmt ', 8, 'ascii');
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(sampleRate, 24);
  wav.writeUInt32LE(sampleRate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(dataBytes, 40);
  for (let offset = 44; offset + 1 < wav.length; offset += 2) wav.writeInt16LE(((offset * 7919) % 64) - 32, offset);
  return wav;
}
