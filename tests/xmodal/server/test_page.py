"""The page at `/` in a real headless Chromium (Selenium) over a real server: the footer and the categories from
/metadata, a picture and a mesh searched through the file input, k changed, an API error shown plainly, and no
request outside the server's origin."""
import json
import math
import shutil
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from tests.xmodal.server.http import upload as post_file
from tfrecords_tools.dataset.read import dataset

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()),
                                reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 60  # seconds: generous, the machine may be busy
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
                "--hide-scrollbars")


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[WebDriver]:
    """One headless Chromium for the module, with a fresh profile and a 1280x900 viewport."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def render_png(tiny_data, tmp_path_factory) -> Path:
    """A PNG file of one test render of the tiny dataset."""
    row = next(dataset(tiny_data, "test").as_numpy_iterator())
    path = tmp_path_factory.mktemp("query") / "render.png"
    Image.fromarray(row["images"][1]).save(path)
    return path


@pytest.fixture(scope="module")
def mesh_file(tiny_meshes) -> Path:
    """The OBJ file of one of the tiny cars (all of them are in the tiny index)."""
    return sorted(path for path in Path(tiny_meshes).glob("*/model.obj") if path.parent.name != "broken")[0]


def api_search(url: str, path: Path, **fields: str) -> tuple[int, dict]:
    """(status, JSON answer) of POST /search of this file as multipart/form-data, over plain HTTP."""
    return post_file(f"{url}/search", path.name, path.read_bytes(), **fields)


def open_page(driver: WebDriver, url: str) -> None:
    """Load the page afresh and wait until /metadata has filled the footer."""
    driver.get(f"{url}/")
    WebDriverWait(driver, WAIT).until(lambda d: "shapes" in d.find_element(By.ID, "about").text)


def searches(driver: WebDriver) -> int:
    """How many POST /search the page has made since it loaded."""
    return driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === '/search').length")


def settled(driver: WebDriver, before: int) -> str:
    """Wait until a search after the first `before` ones has answered; the status's state (done or error)."""
    def answered(d: WebDriver) -> str | None:
        state = d.find_element(By.ID, "status").get_attribute("data-state")
        return state if searches(d) > before and state in ("done", "error") else None
    return WebDriverWait(driver, WAIT).until(answered)


def upload(driver: WebDriver, path: Path) -> str:
    """Choose this file in the page's file input; the status's state once the search has answered."""
    before = searches(driver)
    driver.find_element(By.ID, "file").send_keys(str(path))
    return settled(driver, before)


def cards(driver: WebDriver, count: int) -> list[dict]:
    """The grid's cards once it holds `count` of them and every thumbnail has loaded: their data attributes."""
    WebDriverWait(driver, WAIT).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results .result")) == count)
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#results img')].every(i => i.complete)"))
    return driver.execute_script("""
        return [...document.querySelectorAll('#results .result')].map(card => ({
            id: card.dataset.id, rank: Number(card.dataset.rank), distance: Number(card.dataset.distance),
            category: card.dataset.category, shown: card.querySelector('.distance').textContent,
            confidence: card.querySelector('.confidence')?.textContent ?? null,
            text: card.innerText,
            images: [...card.querySelectorAll('img')].map(i => ({src: i.src, width: i.naturalWidth, alt: i.alt}))}));
    """)


def javascript_errors(driver: WebDriver) -> list[dict]:
    """Errors the page's scripts raised (the console's network lines about 4xx answers are expected)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and entry["source"] != "network"]


def test_page_shows_the_model_the_index_and_its_categories(browser, server):
    open_page(browser, server.url)
    with urllib.request.urlopen(f"{server.url}/metadata", timeout=WAIT) as answer:
        meta = json.loads(answer.read())
    footer = browser.find_element(By.ID, "footer").text
    assert meta["model"]["name"] in footer and f"version {meta['model']['version']}" in footer
    assert f"{meta['index']['size']} shapes" in footer and meta["index"]["parameters"] in footer
    options = Select(browser.find_element(By.ID, "category")).options
    assert [o.get_attribute("value") for o in options] == ["", "car"]
    assert options[1].text == f"car ({meta['index']['categories']['car']})"
    k = browser.find_element(By.ID, "k")
    assert k.get_attribute("value") == "8" and k.get_attribute("max") == str(meta["limits"]["max_k"])
    accept = browser.find_element(By.ID, "file").get_attribute("accept")
    assert "image/*" in accept and all(suffix in accept for suffix in meta["limits"]["mesh_formats"])
    assert browser.find_element(By.ID, "status").get_attribute("data-state") == "info"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=k]") and browser.find_element(By.CSS_SELECTOR,
                                                                                          "label[for=category]")
    assert not javascript_errors(browser)


def test_a_picture_finds_what_the_api_finds_and_k_reruns_it(browser, server, render_png, tmp_path):
    open_page(browser, server.url)
    assert upload(browser, render_png) == "done"
    WebDriverWait(browser, WAIT).until(  # the picture itself is shown as the query
        lambda d: d.find_element(By.ID, "query-image").get_attribute("naturalWidth") == "64")
    assert browser.find_element(By.ID, "query-image").is_displayed()
    assert render_png.name in browser.find_element(By.ID, "query-name").text
    shown = cards(browser, 8)
    status, answer = api_search(server.url, render_png, k="8")
    assert status == 200 and answer["query"] == "image"
    assert [c["rank"] for c in shown] == list(range(1, 9))
    assert [c["id"] for c in shown] == [r["id"] for r in answer["results"]]
    assert [c["distance"] for c in shown] == pytest.approx([r["distance"] for r in answer["results"]], abs=1e-5)
    assert [c["distance"] for c in shown] == sorted(c["distance"] for c in shown)
    for card, result in zip(shown, answer["results"]):
        assert card["shown"] == f"{result['distance']:.4f}" and card["id"] in card["text"] and "car" in card["text"]
        assert card["confidence"] == f"confidence {math.floor(100 * result['confidence'] + 0.5)}%"
        sources = {image["src"].removeprefix(server.url) for image in card["images"]}
        assert sources == {result["thumbnail"], result["voxel_thumbnail"]}
        assert all(image["width"] > 0 for image in card["images"]), card  # every thumbnail really loaded
        assert any(card["id"] in image["alt"] for image in card["images"])
    note = browser.find_element(By.ID, "note")
    assert note.is_displayed() == (answer["note"] is not None) and note.text == (answer["note"] or "")
    browser.save_screenshot(str(tmp_path / "page.png"))  # what a user sees, to look at when the test fails

    before = searches(browser)  # a new k re-runs the search for the same picture
    k = browser.find_element(By.ID, "k")
    k.clear()
    k.send_keys("3", Keys.TAB)
    assert settled(browser, before) == "done"
    fewer = cards(browser, 3)
    assert [c["id"] for c in fewer] == [r["id"] for r in answer["results"][:3]]

    before = searches(browser)  # so does a category
    Select(browser.find_element(By.ID, "category")).select_by_value("car")
    assert settled(browser, before) == "done"
    assert [c["category"] for c in cards(browser, 3)] == ["car"] * 3
    assert not javascript_errors(browser)


def test_a_picture_unlike_the_catalogue_shows_the_note(browser, unlike_server, render_png):
    status, answer = api_search(unlike_server.url, render_png, k="8")
    assert status == 200 and answer["unlike_catalogue"] is True
    open_page(browser, unlike_server.url)
    assert upload(browser, render_png) == "done"
    assert [c["confidence"] for c in cards(browser, 8)] == ["confidence 0%"] * 8
    note = browser.find_element(By.ID, "note")
    assert note.is_displayed() and note.text == answer["note"] and "looks unlike the catalogue" in note.text
    assert not javascript_errors(browser)


def test_a_mesh_finds_itself_first(browser, server, mesh_file):
    open_page(browser, server.url)
    assert upload(browser, mesh_file) == "done"
    query = browser.find_element(By.ID, "query").text
    assert "model.obj" in query and "OBJ mesh" in query and "KB" in query
    assert not browser.find_element(By.ID, "query-image").is_displayed()  # a mesh has an icon, not a preview
    assert browser.find_element(By.ID, "query-mesh").is_displayed()
    shown = cards(browser, 8)
    assert shown[0]["id"] == mesh_file.parent.name and shown[0]["distance"] < 1e-3, shown[0]
    assert "mesh" in browser.find_element(By.ID, "summary").text
    assert not javascript_errors(browser)


def test_a_file_that_is_no_picture_shows_the_api_error(browser, server, render_png, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture, just notes\n")
    status, answer = api_search(server.url, notes, k="8")
    assert status == 400 and "error" in answer
    open_page(browser, server.url)
    assert upload(browser, render_png) == "done"  # results of an earlier query are cleared by the error
    cards(browser, 8)
    assert upload(browser, notes) == "error"
    message = browser.find_element(By.ID, "status").text
    assert message == answer["error"]
    assert browser.find_elements(By.CSS_SELECTOR, "#results .result") == []
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in page and "internal error" not in page
    assert not javascript_errors(browser)


def test_the_page_fetches_nothing_outside_the_server(browser, server, render_png, mesh_file):
    open_page(browser, server.url)
    upload(browser, render_png)
    cards(browser, 8)
    upload(browser, mesh_file)
    cards(browser, 8)
    names = browser.execute_script(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".map(e => e.name)")
    assert any(name.endswith("/static/app.js") for name in names) and any("/thumbnails/" in n for n in names)
    outside = [name for name in names if not name.startswith(f"{server.url}/")]
    assert not outside, outside
    web = Path(__file__).resolve().parents[3] / "xmodal" / "web"
    for path in web.iterdir():  # nor could it: no absolute URL, import or font in the page's files
        text = path.read_text()
        assert "http://" not in text and "https://" not in text and "@import" not in text and "@font-face" not in text
