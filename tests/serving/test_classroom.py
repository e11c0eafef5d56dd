"""mesonet.serving.classroom: codes, joins, one vote per student per face, reveals and the summary."""

from __future__ import annotations

import csv
import io
import threading

import numpy as np
import pytest

from mesonet.serving.classroom import (
    CODE_ALPHABET,
    CODE_LENGTH,
    MAX_STUDENTS,
    MAX_TAKE_BACK_TRIES,
    NICKNAME_MAX,
    ROUND_IDLE_S,
    TEACHER_KEY_LENGTH,
    ClassroomError,
    Classrooms,
    clean_nickname,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FACE = np.zeros((256, 256, 3), np.uint8)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rooms(clock) -> Classrooms:
    return Classrooms(clock=clock)


def test_codes_are_random_readable_and_case_insensitive(rooms):
    first, second = rooms.start(), rooms.start()
    assert first.code != second.code and len(first.code) == CODE_LENGTH
    assert set(first.code) <= set(CODE_ALPHABET) and not set("01OI") & set(CODE_ALPHABET)
    assert rooms.get(f" {first.code[:3].lower()}-{first.code[3:].lower()} ") is first
    with pytest.raises(ClassroomError, match="No class round has that code"):
        rooms.get("ZZZZZZ" if first.code != "ZZZZZZ" else "YYYYYY")


def test_a_round_expires_when_idle_and_is_forgotten_when_closed(rooms, clock):
    idle, used = rooms.start(), rooms.start()
    clock.now += ROUND_IDLE_S - 10
    used.join("Ada")
    clock.now += 20
    with pytest.raises(ClassroomError):
        rooms.get(idle.code)
    assert rooms.get(used.code) is used
    with pytest.raises(ClassroomError, match="Only the teacher"):
        rooms.close(used.code, "not-the-token")
    rooms.close(used.code, used.teacher_token)
    with pytest.raises(ClassroomError):
        rooms.get(used.code)


def test_the_teacher_takes_a_round_back_with_its_key_and_guessing_is_shut_off(rooms):
    round_, other = rooms.start(), rooms.start()
    key = round_.teacher_key
    assert len(key) == TEACHER_KEY_LENGTH and set(key) <= set(CODE_ALPHABET) and key != other.teacher_key
    assert round_.take_back(f" {key[:4].lower()}-{key[4:]} ") == round_.teacher_token  # as a person types it
    with pytest.raises(ClassroomError, match="not this round's teacher key"):
        round_.take_back(other.teacher_key)
    for _ in range(MAX_TAKE_BACK_TRIES - 1):
        with pytest.raises(ClassroomError, match="not this round's teacher key"):
            round_.take_back("WRONGKEY")
    with pytest.raises(ClassroomError, match="no longer takes any"):
        round_.take_back(key)  # the right key, too late: the round is closed to guessing
    assert other.take_back(other.teacher_key) == other.teacher_token  # other rounds are not affected


def test_nicknames_are_cleaned_bounded_and_unique(rooms):
    assert clean_nickname("  <b>Bob</b>\x00\u202e  x ") == "<b>Bob</b> x"  # the page escapes the markup
    assert len(clean_nickname("A" * 500)) == NICKNAME_MAX
    with pytest.raises(ClassroomError, match="Type a nickname"):
        clean_nickname("\x07 \t")
    round_ = rooms.start()
    round_.join("Sam")
    round_.join("Sam")
    assert sorted(round_.students.values()) == ["Sam", "Sam (2)"]


def test_the_class_is_full_at_sixty(rooms):
    round_ = rooms.start()
    for n in range(MAX_STUDENTS):
        round_.join(f"s{n}")
    with pytest.raises(ClassroomError, match="full"):
        round_.join("one more")


def test_one_vote_per_student_per_face_late_and_repeated_votes_are_counted_apart(rooms, clock):
    round_ = rooms.start()
    teacher = round_.teacher_token
    round_.add_face(teacher, FACE, "fake", "authors df00204")
    round_.add_face(teacher, FACE, None, "an upload")
    ada, bob, cy = (round_.join(name) for name in ("Ada", "Bob", "Cy"))
    with pytest.raises(ClassroomError, match="not in play"):
        round_.vote(ada, 0, "fake")
    with pytest.raises(ClassroomError, match="Only the teacher"):
        round_.show_next(ada)
    assert round_.show_next(teacher) == 0
    assert round_.vote(ada, 0, "fake") == "counted"
    assert round_.vote(ada, 0, "real") == "repeat"
    assert round_.vote(bob, 0, "real") == "counted"
    clock.now += 21
    assert round_.vote(cy, 0, "fake") == "late"
    assert round_.tally(0) == {"real": 1, "fake": 1, "late": 1, "repeat": 1}
    round_.reveal(teacher, p_fake=0.93, verdict="fake", weights="meso4-df")
    round_.show_next(teacher)
    assert round_.vote(cy, 0, "fake") == "late"  # the previous face is closed
    assert round_.vote(cy, 1, "real") == "counted"
    with pytest.raises(ClassroomError, match="no face left"):
        round_.show_next(teacher)
    round_.end(teacher)

    faces = round_.face_rows()
    assert faces[0] | {"source": ""} == {
        "face": 1,
        "truth": "fake",
        "votes_real": 1,
        "votes_fake": 1,
        "ignored_late": 2,
        "ignored_repeat": 1,
        "class_right": 0.5,
        "mesonet_p_fake": 0.93,
        "mesonet_verdict": "fake",
        "weights": "meso4-df",
        "source": "",
    }
    assert faces[1]["truth"] == "unknown" and faces[1]["class_right"] is None
    assert round_.student_rows() == [
        {"nickname": "Ada", "votes": 1, "right": 1},
        {"nickname": "Bob", "votes": 1, "right": 0},
        {"nickname": "Cy", "votes": 1, "right": 0},
    ]
    table = list(csv.reader(io.StringIO(round_.summary_csv())))
    assert table[0][:3] == ["face", "truth", "votes_real"] and table[1][:4] == ["1", "fake", "1", "1"]
    with pytest.raises(ClassroomError, match="ended"):
        round_.join("Late Larry")


def test_sixty_students_voting_at_once_lose_and_double_no_vote(rooms):
    """60 clients, each voting from its own thread, half of them twice: every first vote counts once."""
    round_ = rooms.start()
    teacher = round_.teacher_token
    round_.add_face(teacher, FACE, "real", "authors real00240")
    students = [round_.join(f"student {n}") for n in range(MAX_STUDENTS)]
    round_.show_next(teacher)
    start = threading.Barrier(len(students))
    outcomes: list[str] = []
    outcomes_lock = threading.Lock()

    def student(n: int, token: str) -> None:
        start.wait()
        votes = ["fake" if n % 3 == 0 else "real"] * (2 if n % 2 == 0 else 1)
        for answer in votes:
            outcome = round_.vote(token, 0, answer)
            with outcomes_lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=student, args=(n, t)) for n, t in enumerate(students)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("counted") == 60 and outcomes.count("repeat") == 30
    assert round_.tally(0) == {"real": 40, "fake": 20, "late": 0, "repeat": 30}
