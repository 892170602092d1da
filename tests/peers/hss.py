#!/usr/bin/env python3
"""An HSS answering Sh User-Data-Requests (3GPP TS 29.329), built on PyPI python-diameter, for tests.

It is an implementation no one on this project wrote: its own node stack does CER/CEA, DWR/DWA and
DPR/DPA, decodes our UDR (validating required AVPs) and encodes the UDA.

    python3 hss.py --peer relay.example --sub 4917612345678=sip:bob@b.example,tel:+4917612345678

Each --sub is MSISDN=IMPU[,IMPU...]. A UDR by Public-Identity with Data-Reference MSISDN (17) gets the
subscriber's MSISDN; a UDR by MSISDN with Data-Reference IMSPublicIdentity (10) gets every IMPU; an unknown
identity gets Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN. Prints "PORT <n>" once listening and
runs until killed or until standard input closes.
"""
import argparse
import logging
import socket
import sys
import threading
from xml.sax.saxutils import escape

from diameter.message.avp.grouped import ExperimentalResult, VendorSpecificApplicationId
from diameter.message.avp import Avp
from diameter.message.constants import APP_3GPP_SH, AVP_TGPP_SH_USER_DATA, VENDOR_TGPP
from diameter.node import Node
from diameter.node import peer as node_peer
from diameter.node.application import SimpleThreadingApplication

E_SUCCESS = 2001
E_USER_UNKNOWN = 5001
DATA_REF_IMS_PUBLIC_IDENTITY = 10
DATA_REF_MSISDN = 17


def tbcd_decode(octets: bytes) -> str:
    digits = []
    for b in octets:
        digits.append("0123456789*#abc"[b & 0x0F])
        if b >> 4 != 0x0F:
            digits.append("0123456789*#abc"[b >> 4])
    return "".join(digits)


def sh_data(impus, msisdn) -> bytes:
    body = "".join(f"<IMSPublicIdentity>{escape(i)}</IMSPublicIdentity>" for i in impus)
    if msisdn:
        body += f"<MSISDN>{escape(msisdn)}</MSISDN>"
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f"<Sh-Data><PublicIdentifiers>{body}</PublicIdentifiers></Sh-Data>").encode()


def _count_experimental_results_too() -> None:
    """python-diameter 0.9.0 counts sent answers by Result-Code and raises (after sending) on an answer that
    carries only Experimental-Result, as a 5001 UDA must (TS 29.329 §6.2.2); count those under their class."""
    original = node_peer.PeerStats.add_sent_result_code

    def add_sent_result_code(self, result_code):
        original(self, E_USER_UNKNOWN if result_code is None else result_code)

    node_peer.PeerStats.add_sent_result_code = add_sent_result_code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--origin-host", default="hss.python.example")
    ap.add_argument("--realm", default="example")
    ap.add_argument("--peer", action="append", required=True, help="Origin-Host of a client allowed to connect")
    ap.add_argument("--sub", action="append", default=[], help="MSISDN=IMPU[,IMPU...]")
    args = ap.parse_args()

    _count_experimental_results_too()
    by_impu, by_msisdn = {}, {}
    for sub in args.sub:
        msisdn, impus = sub.split("=", 1)
        by_msisdn[msisdn] = impus.split(",")
        for impu in by_msisdn[msisdn]:
            by_impu[impu] = msisdn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    node = Node(args.origin_host, args.realm, ip_addresses=["127.0.0.1"], tcp_port=port, vendor_ids=[VENDOR_TGPP])
    peers = [node.add_peer(f"aaa://{p}", args.realm) for p in args.peer]

    def handle_udr(app, request):
        identity = request.user_identity
        refs = set(request.data_reference or [])
        answer = app.generate_answer(request)
        answer.vendor_specific_application_id = VendorSpecificApplicationId(
            vendor_id=VENDOR_TGPP, auth_application_id=APP_3GPP_SH)
        answer.auth_session_state = 1
        if identity.public_identity is not None:
            msisdn = by_impu.get(identity.public_identity)
            impus = by_msisdn.get(msisdn, [])
        else:
            msisdn = tbcd_decode(identity.msisdn or b"")
            impus = by_msisdn.get(msisdn)
            msisdn = msisdn if impus is not None else None
        if msisdn is None:
            answer.experimental_result = ExperimentalResult(
                vendor_id=VENDOR_TGPP, experimental_result_code=E_USER_UNKNOWN)
        else:
            answer.result_code = E_SUCCESS
            # python-diameter 0.9.0 maps UserDataAnswer.user_data to Cx-User-Data (606); Sh's User-Data is 702
            # (TS 29.329 §6.3.3), so the AVP is appended explicitly.
            answer.append_avp(Avp.new(AVP_TGPP_SH_USER_DATA, VENDOR_TGPP, value=sh_data(
                impus if DATA_REF_IMS_PUBLIC_IDENTITY in refs else [],
                msisdn if DATA_REF_MSISDN in refs else None)))
        print(f"UDR {identity.public_identity or identity.msisdn.hex()} refs={sorted(refs)} "
              f"-> {'5001' if msisdn is None else '2001'}", file=sys.stderr, flush=True)
        return answer

    app = SimpleThreadingApplication(APP_3GPP_SH, is_auth_application=True, request_handler=handle_udr)
    node.add_application(app, peers)
    node.start()
    print(f"PORT {port}", flush=True)

    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    node.stop(wait_timeout=1, force=True)


if __name__ == "__main__":
    main()
