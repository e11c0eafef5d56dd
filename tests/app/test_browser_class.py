"""A class round in the real app (`streamlit run`, headless Chromium): one teacher and three students, each in a
browser context of their own, join by code, vote (one twice), and the teacher reveals and downloads the summary.

Screenshots (artifacts/screenshots/): the presenter view at 1920x1080 and a student's phone at 390 px.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from tests.helpers import UI_MS, full_screenshot

pytestmark = pytest.mark.browser

ROUND_MS = 60_000  # the first reveal loads the model


def open_class_page(browser, url: str, **options):
    context = browser.new_context(**options)
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    page.goto(url)
    page.get_by_role("heading", name="Class round").wait_for()
    return page


def test_a_round_with_a_teacher_and_three_students(browser, server, screenshots):
    teacher = open_class_page(browser, f"{server.url}/class_round", viewport={"width": 1920, "height": 1080})
    students = []
    try:
        teacher.get_by_role("button", name="Start a class round").click()
        code_text = teacher.get_by_text(re.compile(r"^Code [A-Z2-9]{6}$")).inner_text()
        code = code_text.split()[1]
        teacher.get_by_role("button", name=re.compile("^Add the sample faces")).click()
        expect(teacher.get_by_text("Faces of this round (5)")).to_be_visible()  # with the sample deepfake's face

        for n, nickname in enumerate(["Ada", "<b>Bob</b>", "Cy"]):
            phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True} if n == 0 else {}
            page = open_class_page(browser, f"{server.url}/class_round?code={code.lower()}", **phone)
            expect(page.get_by_label("Code", exact=True)).to_have_value(code.lower())
            page.get_by_label("Nickname").fill(nickname)
            page.get_by_role("button", name="Join").click()
            expect(page.get_by_text("Waiting for the first face")).to_be_visible()
            students.append(page)
        expect(students[1].get_by_text("You are <b>Bob</b>")).to_be_visible()  # markup shown as text
        expect(teacher.get_by_text("3 student(s) have joined.")).to_be_visible()

        teacher.get_by_role("button", name="Show the next face").click()
        for page, answer in zip(students, ["fake", "real", "fake"], strict=True):
            page.get_by_role("button", name=f"It's {answer}").click()
            expect(page.get_by_text(f"You voted {answer}. Only your first vote counts.")).to_be_visible()
        students[2].get_by_role("button", name="It's real").click()  # a second vote: ignored, and counted
        expect(teacher.get_by_text("3 of 3 voted")).to_be_visible()
        expect(teacher.get_by_text("Ignored: 0 late, 1 repeated.")).to_be_visible()
        full_screenshot(teacher, screenshots / "class_presenter_voting.png")

        teacher.get_by_role("button", name="Reveal").click()
        expect(teacher.get_by_text("Truth: FAKE")).to_be_visible(timeout=ROUND_MS)
        expect(teacher.get_by_text(re.compile(r"^MesoNet: FAKE \(\d+% fake\)$"))).to_be_visible()
        expect(students[0].get_by_text("You said FAKE; it is FAKE.")).to_be_visible()
        expect(students[1].get_by_text("You said REAL; it is FAKE.")).to_be_visible()
        full_screenshot(teacher, screenshots / "class_presenter_revealed.png")
        students[0].screenshot(path=str(screenshots / "class_student_phone.png"), full_page=True)

        teacher.get_by_role("button", name="End the round").click()
        expect(teacher.get_by_text("The class against MesoNet")).to_be_visible()
        expect(students[0].get_by_text("Your score: 1 right of 1 votes")).to_be_visible()
        with teacher.expect_download() as download:
            teacher.get_by_role("button", name="Summary (CSV)").click()
        text = download.value.path().read_text()
        faces_part, students_part = text.strip().split("\n\n")
        face = next(csv.DictReader(io.StringIO(faces_part)))
        assert (face["truth"], face["votes_real"], face["votes_fake"]) == ("fake", "1", "2")
        assert (face["ignored_late"], face["ignored_repeat"], face["mesonet_verdict"]) == ("0", "1", "fake")
        scores = {row["nickname"]: row["right"] for row in csv.DictReader(io.StringIO(students_part))}
        assert scores == {"Ada": "1", "<b>Bob</b>": "0", "Cy": "1"}
        full_screenshot(teacher, screenshots / "class_summary.png")

        teacher.get_by_role("button", name="Close the round and forget it").click()
        expect(students[0].get_by_text("This round is over and its results are gone")).to_be_visible()
    finally:
        for page in [teacher, *students]:
            page.context.close()
        server.check_alive()
