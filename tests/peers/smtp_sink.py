#!/usr/bin/env python3
"""An SMTP sink on 127.0.0.1 for the mm4-smtp tests (aiosmtpd, PyPI, Apache-2.0).

Each message is stored as DIR/msg-N.eml (the DATA content, unstuffed, as received) and
DIR/msg-N.json (envelope: mail_from, rcpt_tos, peer, smtp_utf8, mail_options). Recipients listed
with --fail451 / --fail550 are refused at RCPT with 451 4.3.0 / 550 5.1.1. Prints the port on
the first line of stdout, then serves until killed.

usage: smtp_sink.py DIR [--fail451 ADDR]... [--fail550 ADDR]...
"""
import argparse
import json
import os
import signal
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, fail451, fail550):
        self.directory = directory
        self.fail451 = set(fail451)
        self.fail550 = set(fail550)
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.fail451:
            return "451 4.3.0 Try again later"
        if address in self.fail550:
            return "550 5.1.1 No such recipient"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, "msg-%d" % self.count)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "peer": list(session.peer)[:2],
            "mail_options": envelope.mail_options,
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Stored"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("directory")
    ap.add_argument("--fail451", action="append", default=[])
    ap.add_argument("--fail550", action="append", default=[])
    args = ap.parse_args()
    port = free_port()
    controller = Controller(
        Sink(args.directory, args.fail451, args.fail550),
        hostname="127.0.0.1",
        port=port,
        data_size_limit=10 * 1024 * 1024,
    )
    controller.start()
    print(port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    try:
        signal.pause()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
