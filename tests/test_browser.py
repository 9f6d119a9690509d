"""The site as a reader sees it: the built book, served on localhost, read in Debian's Chromium.

The book is built once per session from the notebooks' stored outputs (nbval, in the
same test command, proves that re-running them reproduces those outputs), served by
a local HTTP server, and every page is opened in headless Chromium through Playwright
(using the system browser: Playwright's own browser download needs a network CI does
not have). A screenshot of every page is kept in ``_build/screenshots/``.

Without Chromium these tests are skipped; ``apt-get install chromium`` (Debian/Ubuntu)
enables them. ``.ci/run`` installs it, so in CI they always run.
"""
from __future__ import annotations

import functools
import html.parser
import http.server
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from booktools.course.pages import toc_names

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_FLAGS = [  # no sandbox as root in CI; no background connections on a closed network
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]

NO_CHROMIUM = ("browser tests need Chromium: install it with `apt-get install chromium` "
               "(Debian/Ubuntu; .ci/run does this in CI)")
PAGE_WEIGHT_LIMIT = 2_000_000  # bytes: a page with its images


PAGES = toc_names(ROOT)  # every page in reading order, as paths without suffix (chapters/adam)


def build_site(dest: Path) -> Path:
    """Build the book into ``dest`` from the stored notebook outputs and return the HTML folder."""
    src = dest / "book"
    src.mkdir(parents=True)
    for name in ["_config.yml", "_toc.yml", "references.bib"]:
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "chapters", src / "chapters",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    config = (src / "_config.yml").read_text()
    config = re.sub(r"execute_notebooks:.*", 'execute_notebooks: "off"', config)
    (src / "_config.yml").write_text(config)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(src), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True)
    assert result.returncode == 0, "the book did not build:\n" + result.stdout[-3000:] + result.stderr[-3000:]
    return src / "_build" / "html"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The browser drops requests it no longer needs (a page left while an image was still
        # loading); the closed connection is not a fault of the site, so no traceback for it.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class Reader:
    """One browser tab that records every console error and failed request."""

    def __init__(self, browser, base: str):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed request: {r.url}"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))

    def open(self, path: str):
        self.page.goto(f"{self.base}/{path}", wait_until="load")
        if self.page.evaluate("() => !!(window.MathJax && MathJax.startup)"):
            self.page.evaluate("() => MathJax.startup.promise")
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def reader(browser, server):
    r = Reader(browser, server)
    yield r
    r.close()


def _html(page: str) -> str:
    return page + ".html"


# Text outside code blocks that still looks like TeX: MathJax left it unrendered.
RAW_TEX = re.compile(r"\$\$|\\\(|\\\[|\\begin\{|\\frac|\\mathcal|\{eq\}|\{glue|\{cite")
TEXT_OUTSIDE_CODE = """() => {
    const main = document.querySelector('main') || document.body;
    const copy = main.cloneNode(true);
    copy.querySelectorAll('pre, code, .highlight, script, style, mjx-container, .MathJax')
        .forEach(e => e.remove());
    return copy.innerText;
}"""


@pytest.mark.parametrize("page", PAGES)
def test_page_reads_cleanly(reader, page):
    """No console errors or failed requests, all math rendered, every image loaded."""
    p = reader.open(_html(page))
    assert p.title(), f"{page} has no title"
    errors = p.evaluate("() => document.querySelectorAll('mjx-merror').length")
    assert errors == 0, f"{page}: {errors} formulas failed to render in MathJax"
    leftover = RAW_TEX.findall(p.evaluate(TEXT_OUTSIDE_CODE))
    assert not leftover, f"{page}: raw TeX or MyST markup left on the page: {leftover[:5]}"
    broken = p.evaluate("""() => [...document.images]
        .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)""")
    assert not broken, f"{page}: images that did not load: {broken}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SCREENSHOTS / (page.replace("/", "__") + ".png")))
    assert not reader.errors, f"{page}: console errors: {reader.errors}"


@pytest.mark.parametrize("page", [p for p in PAGES if p.endswith(("chapters/recipe", "chapters/adam"))])
def test_math_is_typeset_by_the_sites_own_mathjax(reader, page):
    p = reader.open(_html(page))
    assert p.evaluate("() => document.querySelectorAll('mjx-container').length") > 10
    scripts = p.evaluate("() => [...document.scripts].map(s => s.src).filter(s => s.includes('mathjax'))")
    assert scripts and all(s.startswith(reader.base) for s in scripts), scripts


def _pages_with_solutions(site_dir: Path | None = None):
    return [p for p in PAGES if "{solution" in _source_text(p)]


def _source_text(page: str) -> str:
    for ext in (".ipynb", ".md"):
        path = ROOT / (page + ext)
        if path.exists():
            return path.read_text(encoding="utf-8")
    return ""


@pytest.mark.parametrize("page", _pages_with_solutions())
def test_solutions_start_collapsed_and_open_on_click(reader, page):
    p = reader.open(_html(page))
    solutions = p.locator("div.solution")
    count = solutions.count()
    assert count > 0, f"{page} has solutions in its source but none on the page"
    for i in range(count):
        body = solutions.nth(i).locator(".solution-content, section").first
        assert not body.is_visible(), f"{page}: solution {i + 1} is open before any click"
    first = solutions.first
    first.locator(".toggle-button, summary, .solution-title").first.click()
    p.wait_for_timeout(400)  # the toggle animates
    assert first.locator(".solution-content, section").first.is_visible(), \
        f"{page}: the first solution did not open on click"


def test_previous_and_next_follow_the_table_of_contents(reader):
    """Clicking "next" from the first page walks every page in order, and "previous" walks back."""
    p = reader.open(_html(PAGES[0]))
    for expected in PAGES[1:]:
        p.locator("a.right-next").first.click()
        p.wait_for_load_state("load")
        assert p.url.endswith(_html(expected)), f"next led to {p.url}, expected {expected}"
    assert p.locator("a.right-next").count() == 0, "the last page should have no next link"
    for expected in reversed(PAGES[:-1]):
        p.locator("a.left-prev").first.click()
        p.wait_for_load_state("load")
        assert p.url.endswith(_html(expected)) or (expected == PAGES[0] and p.url.endswith("index.html")), \
            f"previous led to {p.url}, expected {expected}"
    assert not reader.errors, reader.errors


@pytest.mark.parametrize("term, page", [("Nesterov", "chapters/nesterov"),
                                        ("bias correction", "chapters/adam")])
def test_search_works_offline(reader, term, page):
    p = reader.open("search.html?q=" + urllib.parse.quote(term))
    results = p.locator("#search-results li")
    results.first.wait_for(timeout=15000)
    links = [results.nth(i).locator("a").first.get_attribute("href") for i in range(results.count())]
    assert any(_html(page) in (href or "") for href in links), f"searching {term!r} found {links}"
    assert not reader.errors, reader.errors


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def test_every_internal_link_and_anchor_resolves(site):
    parsed: dict[Path, _Anchors] = {}

    def parse(path: Path) -> _Anchors:
        if path not in parsed:
            parser = _Anchors()
            parser.feed(path.read_text(encoding="utf-8"))
            parsed[path] = parser
        return parsed[path]

    broken = []
    pages = [site / _html(p) for p in PAGES] + [site / "index.html"]
    for page in pages:
        for href in parse(page).links:
            url = urllib.parse.urlparse(href)
            if url.scheme or href.startswith(("mailto:", "javascript:")):
                continue  # external: the reader's network, not the book
            target = (page.parent / urllib.parse.unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href} (no such file)")
            elif url.fragment and target.suffix == ".html" and url.fragment not in parse(target).ids:
                broken.append(f"{page.relative_to(site)}: {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_chapters_link_the_names_they_use_to_the_api_page(site):
    page = (site / "chapters" / "adam.html").read_text(encoding="utf-8")
    assert 'href="api.html#codebase.optim.Adam"' in page
    api = (site / "chapters" / "api.html").read_text(encoding="utf-8")
    assert 'id="codebase.optim.Adam"' in api and 'id="codebase.train.fit"' in api


@pytest.mark.parametrize("page", [p for p in PAGES if "cb-slider" in _source_text(p)])
def test_sliders_change_the_figure_without_a_kernel(reader, page):
    p = reader.open(_html(page))
    sliders = p.locator("div.cb-slider")
    assert sliders.count() > 0, f"{page}: no interactive figure on the page"
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        image = slider.locator("img")
        inputs = slider.locator("input[type=range]")
        lefts = {round(inputs.nth(k).bounding_box()["x"]) for k in range(inputs.count())}
        assert len(lefts) == 1, f"{page}: the sliders of figure {i + 1} do not line up (x = {sorted(lefts)})"
        for k in range(inputs.count()):
            control = inputs.nth(k)
            before_src = image.get_attribute("src")
            before_label = control.locator("xpath=..").locator("output").inner_text()
            current, top = int(control.input_value()), int(control.get_attribute("max"))
            control.fill(str(top if current != top else 0))
            assert image.get_attribute("src") != before_src, f"{page}: slider {k + 1} did not change the figure"
            assert control.locator("xpath=..").locator("output").inner_text() != before_label
    assert not reader.errors, reader.errors


def test_every_page_with_its_images_weighs_under_2_mb(site):
    """Report the weight of each page (HTML plus the images it shows) and keep it under 2 MB."""
    report, heavy = [], []
    for page in PAGES:
        path = site / _html(page)
        parser = _Images()
        parser.feed(path.read_text(encoding="utf-8"))
        images = sum((path.parent / urllib.parse.unquote(src)).stat().st_size
                     for src in set(parser.sources) if not src.startswith(("data:", "http")))
        total = path.stat().st_size + images
        report.append(f"{page:40s} {path.stat().st_size / 1e6:7.2f} MB html  {images / 1e6:7.2f} MB images"
                      f"  {total / 1e6:7.2f} MB")
        if total > PAGE_WEIGHT_LIMIT:
            heavy.append(report[-1])
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "page_weight.txt").write_text("\n".join(report) + "\n")
    print("\n".join(report))
    assert not heavy, "pages over 2 MB:\n" + "\n".join(heavy)


class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.sources.append(src)
