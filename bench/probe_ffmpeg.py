"""FFmpeg's side of `npm run probe:compare`: what PyAV's bundled FFmpeg (the local engine's) says each file lasts.

    probe_ffmpeg.py <file>...

Prints one JSON object per file: the duration FFmpeg takes from the headers when it opens the file (the stream's,
else the container's), how long opening took and how many bytes it read, then the decoded duration (every frame
decoded, those FFmpeg reports as invalid skipped, as the engine does), the ground truth the probes are judged by.
"""

import io
import json
import sys
import time

import av


class CountingFile(io.RawIOBase):
    """A file that counts the bytes FFmpeg reads through it."""

    def __init__(self, path: str):
        super().__init__()
        self.file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.file.readinto(buffer)
        self.bytes_read += count or 0
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def close(self) -> None:
        self.file.close()
        super().close()


def header_seconds(container) -> float | None:
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def measure(path: str) -> dict:
    result: dict = {"path": path}
    source = CountingFile(path)
    started = time.perf_counter()
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as err:
        result.update(error=f"{type(err).__name__}: {err}", open_ms=(time.perf_counter() - started) * 1000)
        result["open_bytes"] = source.bytes_read
        source.close()
        return result
    with container:
        try:
            result["header_seconds"] = header_seconds(container) if container.streams.audio else None
            if not container.streams.audio:
                result["error"] = "no audio stream"
        finally:
            result["open_ms"] = (time.perf_counter() - started) * 1000
            result["open_bytes"] = source.bytes_read
        if container.streams.audio:
            result.update(decode(container))
    source.close()
    return result


def decode(container) -> dict:
    decoded = 0.0
    started = time.perf_counter()
    frames = container.decode(audio=0)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except av.error.InvalidDataError:
            continue
        except av.error.FFmpegError as err:
            return {"decoded_seconds": decoded, "decode_error": f"{type(err).__name__}: {err}"}
        decoded += frame.samples / frame.sample_rate
    return {"decoded_seconds": decoded, "decode_ms": (time.perf_counter() - started) * 1000}


def main() -> None:
    av.logging.set_level(av.logging.PANIC)
    for path in sys.argv[1:]:
        print(json.dumps(measure(path)), flush=True)


if __name__ == "__main__":
    main()
