"""Drive a real headless Chromium from a test, over the DevTools protocol on a pipe.

Chromium's `--remote-debugging-pipe` reads protocol commands on file descriptor 3 and writes replies
and events on 4, as JSON messages ended by a NUL byte; this needs no extra package and no port.
"""
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--remote-debugging-pipe")
HIGH_FD = 10  # keep our pipe ends away from 3 and 4, which the child must receive them as


LOAD_IMAGES = """
Promise.all(Array.from(document.images).map(img => new Promise(resolve => {
  const probe = new Image();
  const done = () => resolve({src: img.getAttribute('src'), naturalWidth: probe.naturalWidth,
    naturalHeight: probe.naturalHeight, width: img.getAttribute('width'), height: img.getAttribute('height')});
  probe.onload = done; probe.onerror = done; probe.src = img.src;
})))
"""

# The phone check, for any page: it is laid out at the screen's width (a viewport meta tag), nothing
# reaches past the right edge except inside a box that scrolls, and no text is clipped by its box.
LAYOUT_CHECK = """
(() => {
  const problems = [];
  const screen = document.documentElement.clientWidth;
  const describe = el => '<' + el.tagName.toLowerCase() + '> '
    + (el.textContent || el.getAttribute('src') || '').trim().slice(0, 60);
  const meta = document.querySelector('meta[name="viewport"]');
  if (!meta || !/width=device-width/.test(meta.content))
    problems.push('no <meta name="viewport" content="width=device-width, ...">');
  if (window.innerWidth > screen + 1)
    problems.push('laid out ' + window.innerWidth + ' px wide on a ' + screen + ' px screen');
  const pageWidth = document.documentElement.scrollWidth;
  if (pageWidth > screen + 1)
    problems.push('the page scrolls sideways: ' + pageWidth + ' px wide on a ' + screen + ' px screen');
  const scrollsInside = el => {
    for (let box = el.parentElement; box; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowX;
      if (overflow === 'auto' || overflow === 'scroll') return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;  // not shown (inside a folded <details>)
    if (rect.right > screen + 1 && !scrollsInside(el)) problems.push('reaches past the screen: ' + describe(el));
    if (el.tagName === 'IMG' && rect.width > screen + 1) problems.push('image wider than the screen: ' + describe(el));
    const style = getComputedStyle(el);
    const clips = style.overflowX === 'hidden' || style.overflowX === 'clip' || style.textOverflow === 'ellipsis';
    if (clips && el.scrollWidth > el.clientWidth + 1) problems.push('text cut by its box: ' + describe(el));
  }
  return problems;
})()
"""

# The gallery's own rules on top (pages made by hand): every image is a lazy link to its own
# full-size file with its size given, and no lesson heading is cut (it ends its sentence and fits).
GALLERY_CHECK = """
(() => {
  const problems = [];
  const source = img => (img.getAttribute('src') || '').slice(0, 80);
  for (const img of document.images) {
    const link = img.closest('a');
    if (!link) problems.push('image not inside a link: ' + source(img));
    else if (link.href !== img.src) problems.push('image links elsewhere than its own file: ' + source(img));
    if (img.loading !== 'lazy') problems.push('image not loading="lazy": ' + source(img));
    if (!img.getAttribute('width') || !img.getAttribute('height'))
      problems.push('image without width and height: ' + source(img));
  }
  for (const heading of document.querySelectorAll('section h2')) {
    const text = heading.textContent.trim();
    if (!/[.!?]$/.test(text)) problems.push('heading cut mid-sentence: ' + text);
    if (heading.scrollWidth > heading.clientWidth + 1) problems.push('heading wider than its box: ' + text);
  }
  return problems;
})()
"""

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")


def find_chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    def __init__(self, executable: str, timeout: float = 60):
        self.timeout = timeout
        self.user_data_dir = tempfile.mkdtemp(prefix="chromium-")
        command_read, command_write = os.pipe()
        reply_read, reply_write = os.pipe()
        child_read = fcntl.fcntl(command_read, fcntl.F_DUPFD, HIGH_FD)
        child_write = fcntl.fcntl(reply_write, fcntl.F_DUPFD, HIGH_FD)
        for fd in (command_read, reply_write):
            os.close(fd)
        # bash puts our pipe ends on 3 and 4, closes the originals, then becomes Chromium
        # (dash, Debian's sh, cannot name file descriptors above 9).
        wiring = f'exec "$0" "$@" 3<&{child_read} 4>&{child_write} {child_read}<&- {child_write}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", wiring, executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.user_data_dir}",
             "about:blank"],
            pass_fds=(child_read, child_write), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(child_read)
        os.close(child_write)
        self._commands = command_write
        self._replies = reply_read
        self._buffer = b""
        self._next_id = 0
        self.events = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._replies], [], [], remaining)
            if ready:
                chunk = os.read(self._replies, 1 << 16)
                if not chunk:
                    raise ConnectionError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict = None, session_id: str = None) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method: str, session_id: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session_id:
                    return event
            self.events.append(self._read_message(deadline))

    def open_page(self, url: str, width: int = None, height: int = 900) -> str:
        """Open `url` in a new tab, wait for its load event, and return the tab's session id.

        With `width`, the tab is a phone's screen of that many CSS pixels (mobile emulation: a page
        without a viewport meta tag is laid out 980 px wide and shrunk, as a phone does).
        """
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network", "DOM", "CSS"):
            self.send(f"{domain}.enable", session_id=session)
        if width is not None:
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
                      session_id=session)
        self.send("Page.navigate", {"url": url}, session_id=session)
        self.wait_for_event("Page.loadEventFired", session)
        return session

    def evaluate(self, expression: str, session_id: str, await_promise: bool = False):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise}, session_id=session_id)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load_images(self, session_id: str) -> list:
        """Fetch every <img> of the page, lazy ones included (a headless tab never scrolls to
        them): [{"src", "naturalWidth", "naturalHeight", "width", "height"}], naturalWidth 0 if it
        did not load. width and height are the tag's attributes (None where missing)."""
        return self.evaluate(LOAD_IMAGES, session_id, await_promise=True)

    def layout_problems(self, session_id: str, gallery_rules: bool = True) -> list:
        """What breaks the page on the tab's screen, one line each (LAYOUT_CHECK; with
        gallery_rules, GALLERY_CHECK's rules for hand-made pages too)."""
        problems = self.evaluate(LAYOUT_CHECK, session_id)
        return problems + (self.evaluate(GALLERY_CHECK, session_id) if gallery_rules else [])

    def requests(self, session_id: str) -> list:
        """Every URL the tab asked for (the page itself, images, styles, scripts, fonts...)."""
        return [event["params"]["request"]["url"] for event in self.events
                if event.get("sessionId") == session_id and event.get("method") == "Network.requestWillBeSent"]

    def foreign_requests(self, session_id: str) -> list:
        """The URLs the tab asked another host for (anything not file:, data:, about: or blob:)."""
        return [url[:120] for url in self.requests(session_id) if not url.startswith(LOCAL_SCHEMES)]

    def fonts_for(self, selector: str, session_id: str) -> list:
        """[{"familyName", "glyphCount", ...}]: the fonts the browser drew the first element
        matching `selector` with (CSS.getPlatformFontsForNode), [] if nothing matches."""
        root = self.send("DOM.getDocument", session_id=session_id)["root"]["nodeId"]
        node = self.send("DOM.querySelector", {"nodeId": root, "selector": selector}, session_id=session_id)["nodeId"]
        if not node:
            return []
        return self.send("CSS.getPlatformFontsForNode", {"nodeId": node}, session_id=session_id)["fonts"]

    def console_errors(self, session_id: str) -> list:
        """Uncaught exceptions, console.error calls and browser-logged errors (failed loads)."""
        errors = []
        for event in self.events:
            if event.get("sessionId") != session_id:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(arg.get("value")) for arg in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return errors

    def close(self):
        try:
            self.send("Browser.close")
        except (OSError, TimeoutError, ConnectionError, RuntimeError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._commands)
        os.close(self._replies)
        shutil.rmtree(self.user_data_dir, ignore_errors=True)
