#!/usr/bin/python3
"""A fake OpenAI-compatible chat-completions server for the llm attenuator's tests.

Usage: fake_chat_completions.py PORT MODE LOG
Listens on 127.0.0.1:PORT (plain HTTP). Every POST body is appended to LOG
as one JSON line. MODE "answer" replies with a chat completion whose content
is a fixed verdict; MODE "hang" holds each request for 60 seconds first.
"""
import http.server
import json
import sys
import time

VERDICT = {"interpretation": "cat read the shadow file from a test harness",
           "false_positive": True, "confidence": 0.75}


def main(port, mode, log_path):
    log = open(log_path, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            log.write(json.dumps({"path": self.path, "body": json.loads(body)}) + "\n")
            if mode == "hang":
                time.sleep(60)
            reply = json.dumps({
                "id": "chatcmpl-test", "object": "chat.completion", "model": "fake",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": "```json\n" + json.dumps(VERDICT) + "\n```"}}],
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
