"""Chapter 5's check of exercise 5.2b: dates and binary data both ways over XML-RPC.

Promises: :func:`check_attachment` serves the ``xmlrpc`` practice wiki (``servers.rpc.xmlrpc``) inside the
check, calls the learner's ``attach_and_fetch`` once with random bytes that are not UTF-8 and a random moment in
a time zone other than UTC, then compares what the server stored (its ``attach``) and what the learner's function
returned (read back with ``attachment``) with what was given. Its hint comes from what happened: the fault the
server answered, the exception the learner's code raised, the type of the value returned, or the time the server
holds.
"""

from __future__ import annotations

import datetime
import random
import xmlrpc.client

from labkit.checks import Check, limits, server_health, short
from labkit.checks.outcome import Outcome
from labkit.checks.values import Shown

__all__ = ["check_attachment"]

WIRE_TIME = "%Y%m%dT%H:%M:%S"
"""How ``dateTime.iso8601`` writes a moment (and ``xmlrpc.client.DateTime`` shows it)."""
USE_DATETIME = ("that is an xmlrpc.client.DateTime, not a datetime: xmlrpc.Proxy(..., useDateTime=True) hands "
                "dateTime.iso8601 over as datetime.datetime")


def _random_moment() -> datetime.datetime:
    """A moment in whole seconds (XML-RPC carries no fraction), in a zone at least an hour away from UTC."""
    minutes = random.choice([-1, 1]) * random.choice([60, 180, 330, 420, 540, 600])
    zone = datetime.timezone(datetime.timedelta(minutes=minutes))
    return datetime.datetime(random.randint(1995, 2035), random.randint(1, 12), random.randint(1, 28),
                             random.randint(0, 23), random.randint(0, 59), random.randint(0, 59), tzinfo=zone)


def _failure_hint(error) -> str:
    """Why the learner's function raised, from the error itself."""
    text = str(error)
    if isinstance(error, xmlrpc.client.Fault):
        if "not base64" in text or "deserialize" in text:
            return (f"the server answered fault {error.faultCode} ({short(error.faultString, 90)}): bytes travel "
                    "as base64, xmlrpc.client.Binary(data), never as text")
        if "no attachment" in text:
            return ("attachment answered 404: attach had not stored the file when you asked for it; await the "
                    "Deferred of attach before calling attachment")
        return f"the server answered fault {error.faultCode}: {short(error.faultString, 90)}"
    if isinstance(error, UnicodeDecodeError):
        return "these bytes are not text (not UTF-8): send them as they are, xmlrpc.client.Binary(data)"
    if "Deferred" in text or "coroutine" in text:
        return "callRemote returns a Deferred: await it, and use the value it fires with"
    if isinstance(error, AttributeError) and "DateTime" in text:
        return USE_DATETIME
    if isinstance(error, ValueError) and ("format" in text or "isoformat" in text):
        return ("dateTime.iso8601 reads like 20050601T12:30:15, not ISO 8601 with dashes: let the proxy make a "
                "datetime of it, xmlrpc.Proxy(..., useDateTime=True)")
    return ""


def _moment_shown(value) -> Shown:
    if isinstance(value, datetime.datetime):
        return Shown(value.isoformat() + ("" if value.tzinfo else " (naive: no time zone)"))
    return Shown(f"{type(value).__module__}.{type(value).__name__} {short(value, 40)}")


def _moment_hint(value, taken: datetime.datetime, stored: str) -> str:
    """Why the second value returned is not the moment taken."""
    if isinstance(value, xmlrpc.client.DateTime):
        return USE_DATETIME
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return ("a naive datetime names no moment: the service keeps its times in UTC, so say so, "
                ".replace(tzinfo=datetime.timezone.utc)")
    if isinstance(value, datetime.datetime) and stored == taken.strftime(WIRE_TIME):
        return "the time went out in the wrong zone (see what the server holds)"
    if isinstance(value, str):
        return "return a datetime.datetime, not text"
    return ""


def _stored(site, page: str, filename: str):
    """What the practice server holds as ``page``'s attachment ``filename``: (data, time as sent), or Nones."""
    data, taken = site.rpc.attachments.get((page, filename), (None, None))
    return (data.data if data is not None else None), (taken.value if taken is not None else "nothing stored")


def check_attachment(attach_and_fetch) -> None:
    """Exercise 5.2b: ``attach_and_fetch(reactor, url, page, filename, data, taken)`` stores ``data`` (bytes) as
    ``page``'s attachment ``filename`` taken at ``taken`` (an aware datetime) through the practice wiki's
    ``attach``, with the time in UTC on the wire, then reads it back with ``attachment`` and fires with
    ``(bytes, datetime)``: the same bytes, and the same moment as an aware datetime."""
    with Check("your XML-RPC client sends bytes and a moment, and reads both back as Python's own types",
               start="make an xmlrpc.Proxy(url.encode('ascii')) and await its callRemote('attach', page, "
                     "filename, ...)") as check:
        from servers.rpc import WikiData
        from servers.rpc.xmlrpc import xmlrpc_wiki

        page, filename = f"Trip{random.randint(100, 999)}", f"photo-{random.randint(10, 99)}.raw"
        data = bytes([0xFF, 0x00, 0xFE]) + random.randbytes(random.randint(20, 60))
        taken = _random_moment()
        site = xmlrpc_wiki(WikiData({page: "Pictures of the trip."}))
        served = check.serve(site, "check-attachment")
        url = f"http://127.0.0.1:{served.port}/RPC2"
        outcome = Outcome(attach_and_fetch, url, page, filename, data, taken, timeout=limits.LEARNER_CALL)
        stored_data, stored_time = _stored(site, page, filename)
        utc_time = taken.astimezone(datetime.timezone.utc).strftime(WIRE_TIME)
        sent = f"attach_and_fetch(reactor, url, {page!r}, {filename!r}, data, {taken.isoformat()})"
        check.expect("the bytes the server stored", short(data, 60), short(stored_data, 60),
                     ok=stored_data == data, sent=sent,
                     hint="" if outcome.ok else _failure_hint(outcome.error))
        check.expect("the time the server stored (UTC: XML-RPC carries no zone)", utc_time, stored_time,
                     hint=(f"{stored_time} is the wall-clock time at UTC{taken.isoformat()[19:]}, where the moment "
                           "was given: convert it first, taken.astimezone(datetime.timezone.utc)")
                     if stored_time == taken.strftime(WIRE_TIME) else "")
        if not outcome.ok:
            check.expect("what attach_and_fetch did", Shown("it fired with (bytes, datetime)"),
                         outcome.described(), hint=_failure_hint(outcome.error))
        else:
            _returned(check, outcome.value, data, taken, stored_time)
        asked = b"<methodName>attachment</methodName>" in served.transcript.sent_by("client")
        check.expect("the server was asked for the attachment", True, asked,
                     hint="read the file back with callRemote('attachment', page, filename), and return that")
        server_health(check, served)


def _returned(check, value, data: bytes, taken: datetime.datetime, stored_time: str) -> None:
    """Expect ``value``, what the learner's function fired with, to be ``(data, taken)``."""
    if not (isinstance(value, tuple) and len(value) == 2):
        check.expect("what attach_and_fetch fired with", Shown("a pair (bytes, datetime)"), short(value, 80),
                     hint="callRemote returns a Deferred: await it" if "Deferred" in repr(value) else
                     "return the pair: return the_bytes, the_moment")
        return
    got_data, got_time = value
    check.expect("the first value: the bytes read back", short(data, 60), short(got_data, 60),
                 ok=type(got_data) is bytes and got_data == data,
                 hint="that is an xmlrpc.client.Binary: its bytes are its .data"
                 if isinstance(got_data, xmlrpc.client.Binary) else "")
    check.expect("the second value: the moment read back, an aware datetime", _moment_shown(taken),
                 _moment_shown(got_time),
                 ok=isinstance(got_time, datetime.datetime) and got_time.tzinfo is not None and got_time == taken,
                 hint=_moment_hint(got_time, taken, stored_time))
