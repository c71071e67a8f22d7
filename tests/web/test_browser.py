"""The whole product in a real browser: Debian's Chromium driven by Playwright against the
real server (a subprocess on a loopback port, media processed by real workers).

Two people sign up in two browser contexts (one phone-sized); Alice shares a photo with
a hostile caption and a story; Bob follows her, sees the post in his feed, likes and
comments; Alice's notification badge moves without a reload; they exchange direct
messages that appear live; Bob watches her story; the /system page shows the traffic.
Every screen is saved as a screenshot under test-artifacts/screenshots/, and the console
must stay free of errors on every page.

Controls are found by role and accessible name, as a person using a screen reader
would find them: the names are part of the web app's contract.

Chromium comes from Debian (`apt-get install chromium`; `.ci/run` installs it when it is
missing): Playwright's own browser download is not used. Without it this test fails
with that instruction rather than skip.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect, sync_playwright

from instamini.bench.server import ServerProcess

CHROMIUM = "/usr/bin/chromium"
# --no-sandbox: tests run as root in CI. The rest keep Chromium from calling home: this
# machine reaches no network, and each refused connection would be noise (or a slow start).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
HOSTILE = "<img src=x onerror=alert(1)> sunset at the pier #sunset"
WAIT_MS = 20_000  # the longest any one step may take (media processing by a worker included)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    config = root / "config.toml"
    config.write_text('[server]\ndebug = true\n[plugins]\ndirs = []\n')
    with ServerProcess(config, root / "data") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`; .ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Person:
    """One browser context (its own cookies) with one page, and the console errors it saw."""

    def __init__(self, browser, server, name: str, viewport: dict) -> None:
        self.name = name
        self.context = browser.new_context(viewport=viewport, base_url=server.url)
        self.context.set_default_timeout(WAIT_MS)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", lambda dialog: self.errors.append(f"dialog opened: {dialog.message}"))

    def go(self, path: str) -> None:
        self.page.goto(path)

    def shot(self, name: str) -> None:
        """Save the screen as it is now, after checking that each of its controls has a name."""
        unlabelled = self.page.evaluate(UNLABELLED_CONTROLS)
        assert unlabelled == [], f"controls without an accessible name on {name}: {unlabelled}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))


# Every visible control has a name a screen reader can say, and is a real control (so
# the keyboard reaches it): a button or link with text or aria-label, a form field with
# a <label>, aria-label or aria-labelledby; nothing else takes clicks.
UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('button, a[href], input, select, textarea, [onclick]')]
  .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
  .filter((el) => {
    if (el.hasAttribute('onclick') && !['BUTTON', 'A', 'INPUT'].includes(el.tagName)) return true;
    const named = (el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby');
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) return !(named || (el.labels && el.labels.length));
    return !(named || el.textContent.trim() || el.querySelector('img[alt]:not([alt=""])'));
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def photo(path: Path, colour: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (900, 700), colour)
    draw = ImageDraw.Draw(image)
    for i in range(0, 900, 60):
        draw.ellipse((i, 200 + (i % 180), i + 120, 320 + (i % 180)), fill=(255, 220 - i // 6, 90))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return path


def sign_up(person: Person, display_name: str) -> None:
    person.go("/#/signup")
    page = person.page
    page.get_by_label("Username").fill(person.name)
    page.get_by_label("Display name").fill(display_name)
    page.get_by_label("Password").fill("correct horse battery")
    person.shot(f"signup-{person.name}")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_two_people_use_the_whole_product(server, browser, tmp_path):
    alice = Person(browser, server, "alice", {"width": 390, "height": 844})  # a phone
    bob = Person(browser, server, "bob", {"width": 1280, "height": 900})  # a desktop
    sign_up(alice, "Alice Liddell")
    sign_up(bob, "Bob Builder")

    # Alice shares a photo; its caption is shown as text, never run.
    page = alice.page
    alice.go("/#/new")
    page.get_by_label("Photos or video").set_input_files(str(photo(tmp_path / "pier.jpg", (30, 90, 160))))
    page.get_by_label("Alt text for item 1").fill("A pier at sunset")
    page.get_by_label("Caption").fill(HOSTILE)
    alice.shot("upload")
    page.get_by_role("button", name="Share").click()
    expect(page).to_have_url(re.compile(r"#/p/\d+$"))
    expect(page.get_by_text(HOSTILE.split(" #")[0], exact=False)).to_be_visible()
    expect(page.get_by_role("img", name="A pier at sunset").first).to_be_visible()
    alice.shot("post")

    # ... and a story.
    alice.go("/#/new")
    page.get_by_label("Photos or video").set_input_files(str(photo(tmp_path / "story.jpg", (150, 40, 90))))
    page.get_by_role("button", name="Add to your story").click()
    expect(page.locator("main .status-line")).to_have_text("Added to your story")

    # Alice looks at her own profile, nothing unread yet.
    alice.go("/#/me")
    expect(alice.page.locator("#badge")).to_be_hidden()

    # Bob finds Alice, follows her, and sees her post in his feed.
    page = bob.page
    bob.go("/#/search")
    page.get_by_label("Search people and hashtags").fill("ali")
    page.get_by_role("link", name=re.compile("alice", re.I)).first.click()
    expect(page).to_have_url(re.compile(r"#/u/alice$"))
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    bob.shot("profile")
    bob.go("/#/")
    card = page.get_by_role("article", name="Post by alice").first
    expect(card).to_be_visible()
    expect(card.get_by_text(HOSTILE.split(" #")[0], exact=False)).to_be_visible()
    bob.shot("feed")
    like = card.get_by_role("button", name=re.compile("^Like"))
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")

    # Alice's badge moved while she looked at her own profile: pushed, not reloaded
    # (a hash route change does not reload the page): the follow and the like.
    expect(alice.page.locator("#badge")).to_have_text("2")

    # Bob comments on the post page.
    card.get_by_role("link", name=re.compile("comment", re.I)).first.click()
    expect(page).to_have_url(re.compile(r"#/p/\d+$"))
    page.get_by_label("Add a comment").fill("What a view!")
    page.get_by_role("button", name="Post comment").click()
    expect(page.get_by_text("What a view!")).to_be_visible()

    # Bob watches Alice's story from the tray.
    bob.go("/#/")
    page.get_by_role("button", name="alice's story").click()
    expect(page.get_by_role("dialog", name="Story by alice")).to_be_visible()
    bob.shot("story")
    page.keyboard.press("Escape")

    # A direct message, live both ways.
    bob.go("/#/u/alice")
    page.get_by_role("button", name="Message").click()
    expect(page).to_have_url(re.compile(r"#/messages/\d+$"))
    thread_path = "/#" + page.url.split("#", 1)[1]
    alice.go(thread_path)
    # Alice does not follow Bob, so his first message waits in her requests until she accepts.
    accept = alice.page.get_by_role("button", name="Accept")
    expect(accept).to_be_visible()
    accept.click()
    expect(accept).to_be_hidden()
    page.get_by_label("Message").fill("Hi Alice, lovely photo")
    page.get_by_role("button", name="Send").click()
    expect(alice.page.get_by_text("Hi Alice, lovely photo")).to_be_visible()
    alice.page.get_by_label("Message").fill("Thanks Bob!")
    alice.page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thanks Bob!")).to_be_visible()
    alice.shot("thread")

    # Alice's notifications list the like, the comment and the follow.
    alice.go("/#/notifications")
    expect(alice.page.get_by_text(re.compile("liked your post"))).to_be_visible()
    alice.shot("notifications")

    # The other screens render without errors.
    for path, name in (("/#/explore", "explore"), ("/#/reels", "reels"), ("/#/tags/sunset", "tag"),
                       ("/#/messages", "messages"), ("/#/settings", "settings")):
        bob.go(path)
        expect(page.locator("main")).not_to_be_empty()
        bob.shot(name)

    # The system page shows the traffic we made.
    bob.go("/system")
    # requests_per_second is the difference of two polls a second apart: it shows on the second.
    for metric in ("posts_total", "users_total", "sockets_open", "requests_per_second"):
        expect(page.locator(f'[data-metric="{metric}"]').first).to_have_text(re.compile(r"[1-9]"))
    bob.shot("system")

    # In development mode the page switches the feed strategy, and the diagram follows.
    page.get_by_label("Feed strategy").select_option("push")
    expect(page.locator('[data-metric="feed_strategy"]').first).to_have_text("push")
    bob.go("/#/")  # and Bob's feed is the same under push
    expect(page.get_by_role("article", name="Post by alice").first).to_be_visible()

    for person in (alice, bob):
        assert person.errors == [], f"console errors on {person.name}'s pages: {person.errors}"
        person.context.close()



def test_private_account_carousel_reel_replies_typing_and_log_out(server, browser, tmp_path):
    """The rest of the product: a private account and its follow request, a carousel,
    save, the chronological feed, replies, a reel that plays, stories that advance by
    themselves, typing and read receipts, and logging out."""
    from tests.media.samples import mp4

    carol = Person(browser, server, "carol", {"width": 1280, "height": 900})
    dave = Person(browser, server, "dave", {"width": 390, "height": 844})
    sign_up(carol, "Carol Danvers")
    sign_up(dave, "Dave Lister")

    # Carol makes her account private.
    page = carol.page
    carol.go("/#/settings")
    page.get_by_label("Private account").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Changes saved")).to_be_visible()
    # ... and gives herself an avatar and a bio.
    page.get_by_label("New avatar").set_input_files(str(photo(tmp_path / "me.jpg", (240, 200, 40))))
    expect(page.get_by_text("Avatar updated")).to_be_visible()
    page.get_by_label("Bio").fill("Pilot. Gardens on weekends.")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Changes saved")).to_be_visible()
    carol.shot("settings-private")
    carol.go("/#/me")
    expect(page.get_by_text("Pilot. Gardens on weekends.")).to_be_visible()
    expect(page.locator("img.avatar-img").first).to_have_attribute("src", re.compile(r"^/media/[0-9a-f]{64}\."))

    # A carousel of two photos, then a reel.
    carol.go("/#/new")
    page.get_by_label("Photos or video").set_input_files(
        [str(photo(tmp_path / "a.jpg", (20, 120, 60))), str(photo(tmp_path / "b.jpg", (200, 120, 20)))]
    )
    page.get_by_label("Alt text for item 1").fill("The garden in spring")
    page.get_by_label("Alt text for item 2").fill("The garden in autumn")
    page.get_by_label("Caption").fill("Two seasons #garden")
    page.get_by_role("button", name="Share").click()
    expect(page).to_have_url(re.compile(r"#/p/\d+$"))
    carousel_path = "/#" + page.url.split("#", 1)[1]
    carol.go("/#/new")
    page.get_by_label("Photos or video").set_input_files(str(mp4(tmp_path / "reel.mp4", seconds=2.0, size=(320, 568))))
    page.get_by_label("Reel").check()
    page.get_by_label("Caption").fill("A short reel")
    page.get_by_role("button", name="Share").click()
    expect(page).to_have_url(re.compile(r"#/p/\d+$"))

    # Two stories, for the auto-advance.
    for n, colour in enumerate(((90, 30, 150), (10, 140, 140))):
        carol.go("/#/new")
        page.get_by_label("Photos or video").set_input_files(str(photo(tmp_path / f"story{n}.jpg", colour)))
        page.get_by_role("button", name="Add to your story").click()
        expect(page.locator("main .status-line")).to_have_text("Added to your story")

    # Dave sees a private profile with no grid, and asks to follow.
    page = dave.page
    dave.go("/#/u/carol")
    expect(page.get_by_text(re.compile("private", re.I)).first).to_be_visible()
    expect(page.get_by_role("list", name="Posts by carol")).to_have_count(0)
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name="Requested")).to_be_visible()
    dave.shot("profile-requested")

    # Carol approves the request.
    carol.go("/#/requests")
    carol.page.get_by_role("button", name="Approve dave").click()
    expect(carol.page.get_by_text("No requests waiting.")).to_be_visible()
    carol.shot("requests")

    # Now Dave sees her grid, and the carousel in his chronological feed.
    dave.page.reload()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    expect(page.get_by_role("list", name="Posts by carol")).to_be_visible()
    expect(page.locator("img.avatar-img").first).to_have_attribute("src", re.compile(r"^/media/[0-9a-f]{64}\.webp$"))
    dave.go("/#/")
    page.get_by_role("button", name="Chronological").click()
    expect(page.get_by_role("button", name="Chronological")).to_have_attribute("aria-pressed", "true")
    card = page.get_by_role("article", name="Post by carol").filter(has_text="Two seasons")
    expect(card).to_be_visible()
    expect(card.get_by_role("img", name="The garden in spring")).to_be_visible()
    card.get_by_role("button", name="Next photo").click()
    expect(card.get_by_role("img", name="The garden in autumn")).to_be_in_viewport()
    save = card.get_by_role("button", name="Save")
    save.click()
    expect(save).to_have_attribute("aria-pressed", "true")
    dave.shot("feed-carousel")

    # Dave comments; Carol replies to him on her post page.
    dave.go(carousel_path)
    page.get_by_label("Add a comment").fill("Which season is your favourite?")
    page.get_by_role("button", name="Post comment").click()
    expect(page.get_by_text("Which season is your favourite?")).to_be_visible()
    carol.go(carousel_path)
    carol.page.get_by_role("button", name="Reply").first.click()
    carol.page.get_by_label("Add a comment").fill("Autumn, always")
    carol.page.get_by_role("button", name="Post comment").click()
    expect(carol.page.get_by_role("list", name="Replies to dave").get_by_text("Autumn, always")).to_be_visible()
    carol.shot("replies")

    # The reel plays by itself in the vertical viewer.
    dave.go("/#/reels")
    expect(page.locator(".reels video").first).to_be_visible()
    page.wait_for_function(
        "() => { const v = document.querySelector('.reels video'); return v && !v.paused && v.currentTime > 0; }"
    )
    dave.shot("reels-playing")

    # Carol's stories: the first gives way to the second on its own.
    dave.go("/#/")
    page.get_by_role("button", name="carol's story").click()
    viewer = page.get_by_role("dialog", name="Story by carol")
    expect(viewer.get_by_text("Story 1 of 2")).to_be_visible()
    expect(viewer.get_by_text("Story 2 of 2")).to_be_visible(timeout=12_000)  # a photo shows for 5 s
    page.keyboard.press("Escape")

    # Typing and read receipts: Carol follows Dave back, so his message is not a request.
    carol.go("/#/u/dave")
    carol.page.get_by_role("button", name="Follow").click()
    expect(carol.page.get_by_role("button", name="Unfollow")).to_be_visible()
    dave.go("/#/u/carol")
    page.get_by_role("button", name="Message").click()
    expect(page).to_have_url(re.compile(r"#/messages/\d+$"))
    carol.go("/#" + page.url.split("#", 1)[1])
    expect(carol.page.get_by_label("Message")).to_be_visible()
    page.get_by_label("Message").press_sequentially("Hello Car")
    expect(carol.page.get_by_text("dave is typing…")).to_be_visible()
    page.get_by_label("Message").press_sequentially("ol")
    page.get_by_role("button", name="Send").click()
    expect(carol.page.get_by_text("Hello Carol")).to_be_visible()
    expect(page.get_by_text("Seen")).to_be_visible()  # Carol's page has the thread open: she read it
    dave.shot("thread-seen")

    # Dave logs out: the app asks him to log in, and the API no longer knows him.
    dave.go("/#/settings")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert page.request.get("/api/v1/me").status == 401
    dave.go("/#/")
    expect(page).to_have_url(re.compile(r"#/login$"))
    dave.shot("logged-out")

    for person in (carol, dave):
        assert person.errors == [], f"console errors on {person.name}'s pages: {person.errors}"
        person.context.close()
