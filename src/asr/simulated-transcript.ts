/**
 * How the ASR simulator knows what a test recording "says": the text rides inside the WAV file itself, as the
 * standard RIFF `LIST`/`INFO` comment (`ICMT`). It travels with the bytes through any store, so the simulator
 * needs no access to where the files are kept.
 */

/** The WAV file with `text` appended as its INFO comment (the RIFF size is updated; the audio is unchanged). */
export function withTranscriptTag(wav: Buffer, text: string): Buffer {
  const value = Buffer.from(`${text}\0`, 'utf8');
  const padded = value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.alloc(1)]);
  const comment = Buffer.alloc(8);
  comment.write('ICMT', 0, 'ascii');
  comment.writeUInt32LE(value.length, 4);
  const list = Buffer.alloc(12);
  list.write('LIST', 0, 'ascii');
  list.writeUInt32LE(4 + comment.length + padded.length, 4);
  list.write('INFO', 8, 'ascii');
  const tagged = Buffer.concat([wav, list, comment, padded]);
  tagged.writeUInt32LE(tagged.length - 8, 4);
  return tagged;
}

/** The INFO comment of a WAV file, or undefined when it has none (or is not a WAV file). */
export function transcriptTagOf(bytes: Uint8Array): string | undefined {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < 12 || data.toString('latin1', 0, 4) !== 'RIFF' || data.toString('latin1', 8, 12) !== 'WAVE') {
    return undefined;
  }
  for (let offset = 12; offset + 8 <= data.length;) {
    const id = data.toString('latin1', offset, offset + 4);
    const size = data.readUInt32LE(offset + 4);
    if (id === 'LIST' && data.toString('latin1', offset + 8, offset + 12) === 'INFO') {
      const end = Math.min(data.length, offset + 8 + size);
      for (let at = offset + 12; at + 8 <= end;) {
        const subId = data.toString('latin1', at, at + 4);
        const subSize = data.readUInt32LE(at + 4);
        if (subId === 'ICMT') return data.toString('utf8', at + 8, Math.min(end, at + 8 + subSize)).replace(/\0+$/, '');
        at += 8 + subSize + (subSize % 2);
      }
    }
    offset += 8 + size + (size % 2);
  }
  return undefined;
}
