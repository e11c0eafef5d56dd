"""Errors the user can act on: every error class of the core lives here.

Every message says what went wrong and what to do about it, in one line, so that the
command line can print it as is and the app can show it in `st.error`.
(`mesonet.training.train.TrainingError` is the one exception still defined in its own module.)
"""

from __future__ import annotations

import signal


class MesonetError(Exception):
    """Base class: a problem the user can act on; str() is a one-line message."""


class WeightsError(MesonetError):
    """Weights that cannot be found, downloaded, verified or loaded."""


class ArchitectureMismatch(WeightsError):
    """A sound weight file of another network than the one it was checked against."""


class MediaError(MesonetError):
    """A file that cannot be read as an image or a video."""


class InvalidSamplingError(MesonetError, ValueError):
    """Frame-sampling options that make no sense, or select no frame of this video."""


class NoFaceError(MesonetError):
    """No face was found where one is needed."""


class CancelledError(MesonetError):
    """Work stopped because the caller asked for it."""


class DownloadError(MesonetError):
    """The server could not be reached or the transfer failed."""


class ChecksumError(MesonetError):
    """A file's SHA-256 is not the published one."""


class SampleError(MesonetError):
    """A sample that cannot be found, downloaded or made."""


class DatasetError(MesonetError):
    """A dataset folder or archive whose layout cannot be read as labelled classes."""


class TrainingError(MesonetError):
    """Training options or files that cannot be used."""


class ConfigError(MesonetError):
    """An environment variable whose value cannot be used (see `mesonet.config`)."""


class WorkerError(MesonetError):
    """A worker process died while it worked on a file (see `mesonet.analysis.workers`)."""


class AnnotateError(MesonetError):
    """An annotated video that cannot be made: a wrong output path, or the encoder failed (`analysis.annotate`)."""


class FaceSwapError(MesonetError):
    """A face swap that cannot be made: no single frontal face in a photo, a wrong output path, or the
    encoder failed (see `mesonet.faces.swap`)."""


class EngineError(MesonetError):
    """The distributed engine cannot run: Ray is not installed, the cluster cannot be reached, or a
    Ray task failed (see `mesonet.serving.ray_engine`)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when empty), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def exit_reason(exitcode: int | None) -> str:
    """How a child process ended, for a message: "was ended by SIGKILL (...)" or "exited with code 1".

    Args:
        exitcode: `multiprocessing.Process.exitcode` (minus the signal number when a signal ended it).
    """
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was ended by {name}" + (" (the system may have run out of memory)" if name == "SIGKILL" else "")
    return f"exited with code {exitcode}"
