"""Chapter 3's checks for requests that carry more (3.2, 3.3, 3.4): Basic credentials after a 401, a multipart
upload, and conditional GETs. The practice site's request log shows what the learner's client really sent."""

from __future__ import annotations

from labkit.checks import Check, Outcome, http_error, short

import servers.web

__all__ = ["check_fetch_private", "check_page_watcher", "check_upload"]


# --- 3.2 --------------------------------------------------------------------------------------------------------

def _private_hint(sent: list, credentials: tuple) -> str:
    """Why the private page was not fetched, from the credentials each request to it carried."""
    if sent == [None]:
        return "it never asked again after the 401: a refusal with status b'401' means 'ask again with credentials'"
    if len(sent) == 2 and sent[1] != credentials:
        return f"the second request carried the credentials {sent[1]!r}: send the username and password given"
    return ""


def check_fetch_private(fetch_private) -> None:
    """Exercise 3.2: ``fetch_private(reactor, url, username, password)`` asks without credentials first; on a 401
    asks again once with HTTP Basic credentials; fires with the body, or fails with web.error.Error."""
    from servers.web import HELLO_HTML, PASSWORD, PRIVATE_HTML, USERNAME

    with Check("fetch_private asks, is refused, and asks again with Basic credentials",
               start="fetch the page without credentials first; when that fails with status 401, ask again "
                     "with them") as check:
        site = servers.web.site()
        server = check.serve(site, "check-private")
        got = Outcome(fetch_private, server.url + "private", USERNAME, PASSWORD)
        sent = [r.basic_credentials or r.authorization for r in site.requests_to("/private")]
        check.expect("with the right password it fires with the private page", short(PRIVATE_HTML),
                     got.shown(), ok=got.ok and got.value == PRIVATE_HTML,
                     hint=_private_hint(sent, (USERNAME, PASSWORD)))
        check.expect("credentials sent in each request to /private (first none, then Basic)",
                     [None, (USERNAME, PASSWORD)], sent,
                     hint="the first request goes without credentials; only the 401 says they are needed. "
                          "The second carries 'Authorization: Basic ' + base64 of 'user:password'")
        site.clear_requests()
        got = Outcome(fetch_private, server.url + "private", USERNAME, "wrong")
        check.expect(f"with a wrong password it fails with {http_error(401)}", http_error(401),
                     got.described(),
                     hint="ask again once only: if the second answer is 401 too, let that error through")
        check.expect("requests made with a wrong password", 2, len(site.requests_to("/private")),
                     hint="ask again once only: if the second answer is 401 too, let that error through")
        site.clear_requests()
        got = Outcome(fetch_private, server.url + "nowhere", USERNAME, PASSWORD)
        check.expect("a missing page: it fails with its 404 after one request, no credentials sent",
                     (http_error(404), [None]), (got.described(), [r.authorization for r in site.requests]),
                     hint="only a 401 asks for credentials: any other error goes to the caller as it is")
        site.clear_requests()
        got = Outcome(fetch_private, server.url + "hello", USERNAME, PASSWORD)
        check.expect("a page that needs no password is fetched once, without credentials",
                     [(None, 200)], [(r.authorization, r.code) for r in site.requests_to("/hello")],
                     ok=got.ok and got.value == HELLO_HTML
                     and [(r.authorization, r.code) for r in site.requests_to("/hello")] == [(None, 200)],
                     hint="send the credentials only after a 401, never before")


# --- 3.3 --------------------------------------------------------------------------------------------------------

UPLOAD = (b'<!DOCTYPE html>\n<html lang="en">\n<head><title>My page</title></head>\n'
          b"<body>\n<p>Checked by the practice site.</p>\n</body>\n</html>\n")


def check_upload(upload_file) -> None:
    """Exercise 3.3: ``upload_file(reactor, url, filename, data)`` POSTs ``data`` as a multipart/form-data
    upload in the field ``uploaded_file`` and fires with the response body."""
    with Check("upload_file sends a well-formed multipart/form-data upload",
               start="treq.post(url, files={...}) builds a multipart/form-data body for you") as check:
        site = servers.web.site()
        server = check.serve(site, "check-upload")
        got = Outcome(upload_file, server.url + "check", "page.html", UPLOAD)
        posts = [r for r in site.requests_to("/check") if r.method == "POST"]
        check.expect("POST requests to /check", 1, len(posts),
                     hint="send one POST request to the URL given (treq.post)")
        if not site.uploads:
            return
        report = site.uploads[-1]
        check.expect("problems the site found in the body's encoding", [], report.problems,
                     hint="the Content-Type must be 'multipart/form-data; boundary=B', every part must start "
                          "with a line '--B' and the body must end with '--B--'; treq.post(url, files=...) "
                          "does all of that")
        fields = {f.name: f for f in report.fields}
        upload = fields.get("uploaded_file")
        check.expect("the field uploaded_file holds the file (name, type, size)",
                     ("page.html", "text/html", len(UPLOAD)),
                     (upload.filename, upload.content_type, upload.size) if upload
                     else f"no such field; fields: {sorted(fields)}",
                     hint=("name the form field 'uploaded_file', as the site's form does" if upload is None
                           else "give the file name with the data: a (filename, type, file) tuple"
                           if upload.filename != "page.html" else
                           f"the part said its type is {upload.content_type!r}: the page is text/html"))
        check.expect("upload_file fired with the site's report", "a page titled 'Upload report'",
                     "a page titled 'Upload report'" if got.ok and isinstance(got.value, bytes)
                     and b"<title>Upload report</title>" in got.value
                     else got.shown(),
                     hint="return the response's body: return await response.content()")


# --- 3.4 --------------------------------------------------------------------------------------------------------

def check_page_watcher(watcher_class) -> None:
    """Exercise 3.4: ``watcher_class(url)`` has ``poll()``, which fires True when the page changed since the
    last poll (or on the first), False on 304; it remembers ETag and Last-Modified and sends them back."""
    with Check("PageWatcher sends If-None-Match and If-Modified-Since and understands 304",
               start="in poll, GET self.url; a 200 means changed (True), a 304 unchanged (False)") as check:
        site = servers.web.site()
        server = check.serve(site, "check-watch")
        watcher = watcher_class(server.url + "news")
        answers = [_poll(watcher)]
        answers.append(_poll(watcher))
        first = site.news
        second = site.bump_news("Something happened.")
        answers += [_poll(watcher), _poll(watcher)]
        check.expect("poll() answers: first, again, after the news changed, again",
                     [True, False, True, False], answers,
                     hint="poll answers True when the site sent the page (200) and False when it answered 304")
        records = site.requests_to("/news")
        check.expect("If-None-Match sent", [None, first.etag, first.etag, second.etag],
                     [r.if_none_match for r in records],
                     hint="send back the ETag of the last 200 response, exactly as received (with its quotes)")
        check.expect("If-Modified-Since sent",
                     [None, first.last_modified, first.last_modified, second.last_modified],
                     [r.if_modified_since for r in records],
                     hint="send back the Last-Modified of the last 200 response as If-Modified-Since")
        check.expect("status codes the site answered", [200, 304, 200, 304], [r.code for r in records])
        plain = watcher_class(server.url + "plain")
        answers = [_poll(plain), _poll(plain)]
        check.expect("on /plain (no validators) every poll says changed", [True, True], answers)
        check.expect("conditional headers sent to /plain", [(None, None), (None, None)],
                     [(r.if_none_match, r.if_modified_since) for r in site.requests_to("/plain")],
                     hint="send If-None-Match / If-Modified-Since only when the last response had an "
                          "ETag / a Last-Modified")


def _poll(watcher):
    got = Outcome(lambda reactor: watcher.poll())
    return got.value if got.ok else got.described()
