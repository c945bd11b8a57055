#!/usr/bin/python3
"""fedscope lab client (slixmpp): logs in to the server beside it (loopback, port 5222),
sends one chat message across the federation and waits for the one from the other side.

  client.py --jid alice@cupdomain.example --password pw --to bob@gmail.example \
            --name alice --peer bob --status DIR [--reply] [--deadline S] [--reply-after S] [--marker WORD]

Both clients write DIR/NAME.online once their session is up and wait (bounded) for
DIR/PEER.online, so that no message is sent before the other side listens.
 - without --reply (the initiator): sends at once, then waits for the peer's message;
 - with --reply: waits for the initiator's message (at most --reply-after seconds), then
   sends its own whether the first arrived or not (so both directions are always tried).
Exits as soon as it has sent and received, or at --deadline. DIR/NAME.json records what
happened: sent, received (body, from), and any error stanza bounced back by a server.

slixmpp 1.8 on Python 3.11: process(timeout=) is broken; the loop runs with
loop.run_until_complete() on our own future, bounded by asyncio.wait_for."""

import argparse
import asyncio
import json
import logging
import os
import sys
import time

import slixmpp


class LabClient(slixmpp.ClientXMPP):
    def __init__(self, a):
        super().__init__(a.jid, a.password)
        self.a = a
        self.t0 = time.monotonic()
        self.result = {"name": a.name, "jid": a.jid, "to": a.to, "online": False, "sent": None,
                       "received": None, "errors": [], "events": []}
        self.received = asyncio.Event()
        self.online = asyncio.Event()
        # PLAIN over the loopback c2s connection (ejabberd's anonymous login offers only it)
        self["feature_mechanisms"].unencrypted_plain = True
        self.use_aiodns = False
        self.use_ipv6 = False
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_auth", lambda _: self.note("failed_auth"))
        self.add_event_handler("disconnected", lambda _: self.note("disconnected"))

    def now(self):
        return round(time.monotonic() - self.t0, 2)

    async def _pick_dns_answer(self, domain, port=None):
        # The server's address is given: no DNS at all. slixmpp 1.8 would still resolve
        # its default_domain ('.') with getaddrinfo, and those queries for the root would
        # go to the namespace's resolver, into the captures.
        return (self.a.server, self.a.server, self.a.port)

    def note(self, what):
        self.result["events"].append([self.now(), what])

    async def on_start(self, _):
        # available presence (priority 0) so that messages to the bare JID are delivered
        # here; the roster is empty, so no presence goes over s2s.
        self.send_presence()
        await self.get_roster()
        self.result["online"] = True
        self.note("online")
        self.online.set()

    def on_message(self, msg):
        if msg["type"] == "error":
            err = msg["error"]
            self.result["errors"].append({"t": self.now(), "from": str(msg["from"]),
                                          "type": err["type"], "condition": err["condition"],
                                          "text": err["text"]})
            self.note("error " + err["condition"])
            return
        if msg["type"] in ("chat", "normal") and msg["body"]:
            if msg["from"].bare == slixmpp.JID(self.a.to).bare:
                self.result["received"] = {"t": self.now(), "from": str(msg["from"]),
                                           "body": msg["body"]}
                self.note("received")
                self.received.set()

    def send_ours(self):
        body = f"fedscope lab: {self.a.name} -> {self.a.to}"
        if self.a.marker:  # a word the privacy check looks for (tests/lab/live-check.py)
            body += " " + self.a.marker
        self.send_message(mto=self.a.to, mbody=body, mtype="chat")
        self.result["sent"] = {"t": self.now(), "body": body}
        self.note("sent")

    async def run(self):
        a = self.a
        self.connect((a.server, a.port), force_starttls=False, disable_starttls=True)
        await asyncio.wait_for(self.online.wait(), 10)
        open(os.path.join(a.status, a.name + ".online"), "w").close()
        peer_file = os.path.join(a.status, a.peer + ".online")
        while not os.path.exists(peer_file):  # bounded by the caller's wait_for
            await asyncio.sleep(0.05)
        self.note("peer online")
        if a.reply:
            try:
                await asyncio.wait_for(self.received.wait(), a.reply_after)
            except asyncio.TimeoutError:
                self.note("nothing to reply to; sending anyway")
            self.send_ours()
        else:
            self.send_ours()
        await self.received.wait()
        await asyncio.sleep(0.3)  # let the last stanza leave before we log out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--server", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5222)
    ap.add_argument("--reply", action="store_true")
    ap.add_argument("--reply-after", type=float, default=4.0)
    ap.add_argument("--deadline", type=float, default=10.0)
    ap.add_argument("--debug", action="store_true")
    ap.add_argument("--marker", default="", help="a word appended to the message body")
    a = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if a.debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    c = LabClient(a)
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(c.run(), a.deadline))
    except asyncio.TimeoutError:
        c.note("deadline")
    except Exception as e:  # noqa: BLE001 - recorded in the result file, not hidden
        c.note(f"exception {type(e).__name__}: {e}")
    try:
        loop.run_until_complete(asyncio.wait_for(c.disconnect(wait=1), 3))
    except Exception:  # noqa: BLE001
        pass
    with open(os.path.join(a.status, a.name + ".json"), "w") as f:
        json.dump(c.result, f, indent=1)
    ok = c.result["received"] is not None
    print(f"{a.name}: sent={'yes' if c.result['sent'] else 'no'} received={'yes' if ok else 'no'} "
          f"errors={[e['condition'] for e in c.result['errors']]}")
    sys.exit(0)


if __name__ == "__main__":
    main()
