"""Re-encodes a WAV into the formats the service accepts, for the evaluation set (`npm run eval`).

    encode_audio.py <input.wav> <output> <codec> <sample rate> <channels>

The container follows the output's extension (.wav .flac .mp3 .ogg .opus .m4a); the codec is an FFmpeg encoder
name (pcm_s16le, pcm_s24le, pcm_f32le, flac, libmp3lame, vorbis, libopus, aac). Uses PyAV's bundled FFmpeg from
the engine's own environment, so the evaluation needs no system encoder.
"""

import sys
from fractions import Fraction

import av

CONTAINERS = {".wav": "wav", ".flac": "flac", ".mp3": "mp3", ".ogg": "ogg", ".opus": "ogg", ".m4a": "ipod"}
SAMPLE_FORMATS = {"pcm_s16le": "s16", "pcm_s24le": "s32", "pcm_f32le": "flt", "flac": "s16", "libmp3lame": "s16p",
                  "vorbis": "fltp", "libopus": "s16", "aac": "fltp"}


def main() -> None:
    source, target, codec, rate, channels = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    extension = target[target.rfind("."):]
    layout = "mono" if channels == 1 else "stereo"
    with av.open(source) as inp, av.open(target, "w", format=CONTAINERS[extension]) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if codec == "vorbis":
            # FFmpeg's own Vorbis encoder is marked experimental.
            stream.codec_context.options = {"strict": "experimental"}
        resampler = av.AudioResampler(format=SAMPLE_FORMATS[codec], layout=layout, rate=rate)
        # Each frame's time is the samples before it: encoders (Vorbis's granules) write what they are given, and
        # frames without one made the Ogg file claim a fraction of its real length.
        samples = 0

        def encode(converted: av.AudioFrame) -> None:
            nonlocal samples
            converted.pts = samples
            converted.time_base = Fraction(1, rate)
            samples += converted.samples
            for packet in stream.encode(converted):
                out.mux(packet)

        for frame in inp.decode(audio=0):
            frame.pts = None
            for converted in resampler.resample(frame):
                encode(converted)
        for converted in resampler.resample(None):
            encode(converted)
        for packet in stream.encode(None):
            out.mux(packet)


if __name__ == "__main__":
    main()
