"""`charnn inspect`'s page, in a real browser: headless Chromium from the Debian packages, driven
by Selenium through the Debian chromedriver (`.ci/run` installs both when missing). The page
must load from disk with no console error and no network request, show a character's
predictions on hover, draw its unit lanes and a classifier's strips, and not be blank."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from charnn.artifacts.inspect_page import render_page
from charnn.cli import app

from ..waiting import wait_until

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
TEXT = "the quick brown fox.\nto be or not to be.\nthe lazy dog saves nine.\n"


def inspect(*args: str) -> str:
    result = CliRunner().invoke(app, ["inspect", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_page_embeds_its_numbers_and_asks_for_nothing(trained_run: Path) -> None:
    report = json.loads(inspect(str(trained_run), "--text", TEXT, "--json", "--lines"))
    page = render_page(report, title="t")
    for needle in ("<script src", "<link", "url(", "@import", "https://"):
        assert needle not in page  # everything inline: nothing to fetch
    assert json.dumps(report["bits_per_char"]) in page


def test_a_capped_text_says_how_much_is_shown() -> None:
    report = {"kind": "lm", "shown_chars": 20_000, "total_chars": 50_000}
    assert "Showing the first 20,000 of 50,000 characters." in render_page(report, title="t")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def requests_made(driver: Any) -> list[str]:
    """The URLs the browser asked a network for since the log was last read (its own chrome://
    pages, and the file itself, are not the network)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return [url for url in urls if url.startswith(("http:", "https:", "ws:", "wss:", "ftp:"))]


@needs_browser
def test_a_language_models_page_in_a_browser(
    browser: Any, trained_run: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    page = tmp_path / "lm.html"
    inspect(str(trained_run), "--text", TEXT, "--out", str(page), "--lines", "--units", "0,3")
    requests_made(browser)  # what the browser loaded before the page does not count
    browser.get(page.as_uri())
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#text .c"), "the text drawn")
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    assert requests_made(browser) == []
    character = browser.find_element(By.CSS_SELECTOR, '#text .c[data-i="5"]')
    ActionChains(browser).move_to_element(character).perform()
    tip = browser.find_element(By.ID, "tip")
    wait_until(tip.is_displayed, "the predictions shown on hover")
    assert "bits, rank" in tip.text and "%" in tip.text
    lanes = browser.find_elements(By.CSS_SELECTOR, ".lane")
    assert [lane.get_attribute("data-unit") for lane in lanes] == ["0", "3"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#lines tr")) > 1
    assert_not_blank(browser.get_screenshot_as_png())


@needs_browser
def test_a_classifiers_page_in_a_browser(
    browser: Any, trained_classifier: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "classify.html"
    inspect(str(trained_classifier), "--text", "1101011", "--out", str(page))
    requests_made(browser)  # what the browser loaded before the page does not count
    browser.get(page.as_uri())
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, ".strip polyline"), "the strips")
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    assert requests_made(browser) == []
    legend = browser.find_element(By.CSS_SELECTOR, ".strip .legend").text
    assert "ones" in legend and "decided after" in legend
    assert_not_blank(browser.get_screenshot_as_png())


def assert_not_blank(png: bytes) -> None:
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")
    assert pixels.std() > 0.02, "the screenshot is blank"
