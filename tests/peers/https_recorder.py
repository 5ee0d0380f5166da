#!/usr/bin/python3
"""A TLS HTTP server for the webhook printer's tests: records every request.

Usage: https_recorder.py PORT CERT KEY TOKEN LOG
Listens on 127.0.0.1:PORT with CERT/KEY. A POST with "Authorization: Bearer
TOKEN" gets 200 and is appended to LOG as {"path", "body"} (body parsed as
JSON); any other gets 401 and is logged as {"path", "rejected": true}. One
JSON object per line, flushed at once, so a test can read LOG while it runs.
"""
import http.server
import json
import ssl
import sys


def main(port, cert, key, token, log_path):
    log = open(log_path, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Authorization") != "Bearer " + token:
                log.write(json.dumps({"path": self.path, "rejected": True}) + "\n")
                self.reply(401, b"wrong token\n")
                return
            log.write(json.dumps({"path": self.path, "body": json.loads(body)}) + "\n")
            self.reply(200, b"")

        def reply(self, status, payload):
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", int(port)), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
