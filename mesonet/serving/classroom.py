"""Class rounds: a teacher shows faces, students vote real or fake, then the class meets MesoNet's verdict.

All state is here, on the server, shared by every browser session: `Classrooms` holds the open
rounds behind one lock, and each `ClassRound` guards its own faces, students and votes with its
own lock. Nothing is written to disk, and a round is forgotten when the teacher ends it or when
nobody has touched it for `ROUND_IDLE_S` (the teacher's CSV download is all that remains).

Rules (issue 22):
- a join code is `CODE_LENGTH` characters drawn by `secrets` from an alphabet without look-alikes
  (32^6, about a billion codes), and expires with its round;
- at most `MAX_STUDENTS` students per round and `MAX_ROUNDS` rounds at once;
- a nickname is stripped of control characters and cut to `NICKNAME_MAX` characters (the page
  escapes it as well); a taken nickname gets a number;
- one vote per student per face: a vote after the countdown or a second vote is ignored, and
  counted as ignored, so the teacher sees how many there were;
- a teacher whose page reloaded takes the round back with its code and its teacher key
  (`TEACHER_KEY_LENGTH` characters, shown to the teacher only); after `MAX_TAKE_BACK_TRIES` wrong
  keys the round refuses every key, so guessing it is hopeless.
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mesonet.analysis.results import csv_safe_rows
from mesonet.errors import MesonetError

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read off a projector
CODE_LENGTH = 6
MAX_STUDENTS = 60
MAX_ROUNDS = 20
MAX_FACES = 100
NICKNAME_MAX = 24
ROUND_IDLE_S = 3 * 3600
TEACHER_KEY_LENGTH = 8  # 32^8 = 2^40 keys
MAX_TAKE_BACK_TRIES = 10
Answer = Literal["real", "fake"]
Phase = Literal["lobby", "voting", "closed", "revealed", "ended"]
ANSWERS: tuple[Answer, ...] = ("real", "fake")


class ClassroomError(MesonetError):
    """A class round refused an action (full, unknown code, ended); the message says what to do."""


@dataclass
class RoundFace:
    """One face of a round.

    Attributes:
        crop: uint8 RGB face crop, as the students see it.
        truth: "real" or "fake" when known (a labelled dataset, the authors' crops), else None.
        source: where it comes from, for the teacher only (students never see file names).
        p_fake: MesoNet's P(fake), filled in when the teacher reveals the face.
        verdict: MesoNet's verdict at the weights' threshold ("fake", "real", "uncertain").
        weights: the weights that gave the verdict.
    """

    crop: np.ndarray
    truth: Answer | None
    source: str
    p_fake: float | None = None
    verdict: str | None = None
    weights: str | None = None


def clean_nickname(raw: str) -> str:
    """A nickname without control or format characters, spaces collapsed, at most `NICKNAME_MAX` characters."""
    kept = "".join(ch for ch in str(raw) if unicodedata.category(ch)[0] != "C")
    name = " ".join(kept.split())[:NICKNAME_MAX].strip()
    if not name:
        raise ClassroomError("Type a nickname (letters or digits), then join.")
    return name


def random_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalise_code(raw: str) -> str:
    """The code as stored: upper case, without spaces or dashes ("ab3-k7p" -> "AB3K7P")."""
    return "".join(ch for ch in str(raw).upper() if ch.isalnum())


@dataclass
class ClassRound:
    """One round: its faces, students and votes; every method takes the round's lock."""

    code: str
    teacher_token: str
    clock: Callable[[], float] = time.monotonic
    teacher_key: str = field(default_factory=lambda: random_code(TEACHER_KEY_LENGTH))
    wrong_keys: int = 0
    faces: list[RoundFace] = field(default_factory=list)
    students: dict[str, str] = field(default_factory=dict)  # student token -> nickname
    votes: dict[int, dict[str, Answer]] = field(default_factory=dict)  # face index -> student token -> vote
    ignored: dict[int, dict[str, int]] = field(default_factory=dict)  # face index -> {"late": n, "repeat": n}
    current: int = -1
    phase: Phase = "lobby"
    deadline: float = 0.0
    touched: float = 0.0
    version: int = 0  # bumped on every change: a polling page redraws only when it moved

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.touched = self.clock()

    def _changed(self) -> None:
        self.version += 1
        self.touched = self.clock()

    def check_teacher(self, token: str) -> None:
        if not secrets.compare_digest(token, self.teacher_token):
            raise ClassroomError("Only the teacher who started this round can do that.")

    def take_back(self, key: str) -> str:
        """The teacher token, for the teacher key (after a page reload lost the teacher's session)."""
        with self._lock:
            if self.wrong_keys >= MAX_TAKE_BACK_TRIES:
                raise ClassroomError(
                    "This round took too many wrong teacher keys and no longer takes any; start a new round."
                )
            if not secrets.compare_digest(normalise_code(key), self.teacher_key):
                self.wrong_keys += 1
                raise ClassroomError("That is not this round's teacher key. It is shown under the teacher's controls.")
            return self.teacher_token

    # The teacher's actions ------------------------------------------------------------------

    def add_face(self, teacher: str, crop: np.ndarray, truth: Answer | None, source: str) -> None:
        with self._lock:
            self.check_teacher(teacher)
            if len(self.faces) >= MAX_FACES:
                raise ClassroomError(f"A round holds at most {MAX_FACES} faces; end this one and start another.")
            self.faces.append(RoundFace(np.ascontiguousarray(crop, dtype=np.uint8), truth, source))
            self._changed()

    def show_next(self, teacher: str, countdown_s: float = 20.0) -> int:
        """Shows the next face and starts its countdown of `countdown_s` seconds; returns its index."""
        with self._lock:
            self.check_teacher(teacher)
            if self.phase == "ended":
                raise ClassroomError("This round has ended; start a new one.")
            if self.current + 1 >= len(self.faces):
                raise ClassroomError("There is no face left: add faces, or end the round.")
            self.current += 1
            self.phase = "voting"
            self.deadline = self.clock() + countdown_s
            self.votes[self.current] = {}
            self.ignored[self.current] = {"late": 0, "repeat": 0}
            self._changed()
            return self.current

    def close_voting(self, teacher: str) -> None:
        with self._lock:
            self.check_teacher(teacher)
            if self.phase == "voting":
                self.phase = "closed"
                self.deadline = min(self.deadline, self.clock())
                self._changed()

    def reveal(self, teacher: str, *, p_fake: float, verdict: str, weights: str) -> None:
        """Shows the votes, the truth and MesoNet's verdict of the current face (voting closes)."""
        with self._lock:
            self.check_teacher(teacher)
            if self.current < 0:
                raise ClassroomError("Show a face first.")
            face = self.faces[self.current]
            face.p_fake, face.verdict, face.weights = float(p_fake), verdict, weights
            self.phase = "revealed"
            self.deadline = min(self.deadline, self.clock())
            self._changed()

    def end(self, teacher: str) -> None:
        with self._lock:
            self.check_teacher(teacher)
            self.phase = "ended"
            self._changed()

    # The students' actions ------------------------------------------------------------------

    def join(self, nickname: str) -> str:
        """Adds a student; returns the student's token (kept in their session only)."""
        name = clean_nickname(nickname)
        with self._lock:
            if self.phase == "ended":
                raise ClassroomError("This round has ended. Ask your teacher for the new code.")
            if len(self.students) >= MAX_STUDENTS:
                raise ClassroomError(f"This class is full ({MAX_STUDENTS} students). Ask your teacher.")
            taken = set(self.students.values())
            unique, n = name, 2
            while unique in taken:
                unique, n = f"{name[: NICKNAME_MAX - 4]} ({n})", n + 1
            token = secrets.token_urlsafe(16)
            self.students[token] = unique
            self._changed()
            return token

    def vote(self, student: str, face_index: int, answer: Answer) -> Literal["counted", "late", "repeat"]:
        """Records one vote; a vote after the countdown, on another face, or a second one is ignored and counted."""
        if answer not in ANSWERS:
            raise ClassroomError("Vote real or fake.")
        with self._lock:
            if student not in self.students:
                raise ClassroomError("Join the round first.")
            if face_index not in self.votes:
                raise ClassroomError("That face is not in play.")
            ignored = self.ignored[face_index]
            if student in self.votes[face_index]:
                ignored["repeat"] += 1
                outcome = "repeat"
            elif face_index != self.current or self.phase != "voting" or self.clock() > self.deadline:
                ignored["late"] += 1
                outcome = "late"
            else:
                self.votes[face_index][student] = answer
                outcome = "counted"
            self._changed()
            return outcome

    # What the pages show ----------------------------------------------------------------------

    def seconds_left(self) -> float:
        with self._lock:
            return max(0.0, self.deadline - self.clock()) if self.phase == "voting" else 0.0

    def tally(self, face_index: int) -> dict[str, int]:
        """Votes for real and fake, and the ignored late and repeated votes, of one face."""
        with self._lock:
            votes = list(self.votes.get(face_index, {}).values())
            ignored = self.ignored.get(face_index, {"late": 0, "repeat": 0})
            return {"real": votes.count("real"), "fake": votes.count("fake"), **ignored}

    def nickname_of(self, student: str) -> str:
        with self._lock:
            return self.students.get(student, "")

    def vote_of(self, student: str, face_index: int) -> Answer | None:
        with self._lock:
            return self.votes.get(face_index, {}).get(student)

    def face_rows(self) -> list[dict]:
        """Per face shown: the truth, the class's votes, the share right, and MesoNet's verdict."""
        with self._lock:
            rows = []
            for index in sorted(self.votes):
                face, votes = self.faces[index], list(self.votes[index].values())
                right = votes.count(face.truth) if face.truth else None
                rows.append(
                    {
                        "face": index + 1,
                        "truth": face.truth or "unknown",
                        "votes_real": votes.count("real"),
                        "votes_fake": votes.count("fake"),
                        "ignored_late": self.ignored[index]["late"],
                        "ignored_repeat": self.ignored[index]["repeat"],
                        "class_right": None if right is None or not votes else right / len(votes),
                        "mesonet_p_fake": face.p_fake,
                        "mesonet_verdict": face.verdict or "not revealed",
                        "weights": face.weights or "",
                        "source": face.source,
                    }
                )
            return rows

    def student_rows(self) -> list[dict]:
        """Per student: the faces voted on and the votes that matched a known truth."""
        with self._lock:
            rows = []
            for token, nickname in self.students.items():
                voted = [(i, v[token]) for i, v in self.votes.items() if token in v]
                right = sum(answer == self.faces[i].truth for i, answer in voted if self.faces[i].truth)
                rows.append({"nickname": nickname, "votes": len(voted), "right": right})
            return sorted(rows, key=lambda r: (-r["right"], r["nickname"]))

    def summary_csv(self) -> str:
        """The round's summary for the teacher: one row per face, then one per student."""
        out = io.StringIO()
        for rows in (self.face_rows(), self.student_rows()):
            if rows:
                writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(csv_safe_rows(rows))
                out.write("\n")
        return out.getvalue()


class Classrooms:
    """The server's open rounds, by join code; thread-safe."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._rounds: dict[str, ClassRound] = {}
        self._lock = threading.Lock()

    def _sweep(self) -> None:
        now = self.clock()
        for code in [c for c, r in self._rounds.items() if now - r.touched > ROUND_IDLE_S]:
            del self._rounds[code]

    def start(self) -> ClassRound:
        """A new round with a fresh code; its `teacher_token` is the teacher's alone."""
        with self._lock:
            self._sweep()
            if len(self._rounds) >= MAX_ROUNDS:
                raise ClassroomError(f"{MAX_ROUNDS} class rounds are open on this server; end one first.")
            code = random_code(CODE_LENGTH)
            while code in self._rounds:
                code = random_code(CODE_LENGTH)
            round_ = ClassRound(code, secrets.token_urlsafe(24), self.clock)
            self._rounds[code] = round_
            return round_

    def get(self, code: str) -> ClassRound:
        """The open round of a code, or a ClassroomError that says what to do."""
        with self._lock:
            self._sweep()
            found = self._rounds.get(normalise_code(code))
        if found is None:
            raise ClassroomError("No class round has that code. Check the code on the screen, or ask your teacher.")
        return found

    def close(self, code: str, teacher: str) -> None:
        """Forgets a round (the teacher's last step, after the download)."""
        found = self.get(code)
        found.check_teacher(teacher)
        with self._lock:
            self._rounds.pop(found.code, None)
