"""Crash containment and signals for the App: a UI fault never takes the cockpit (or what it runs) down.

An exception escaping a handler of the App or of one of our screens is caught where Textual dispatches
the message (:class:`Contained`), written with its traceback to ``crash.log`` in the config's state
directory (``[cockpit] state_dir``), and shown on screen until the operator quits; the cockpit keeps
running and running actions are not touched. What Textual itself routes to ``App._handle_exception``
(a Textual widget's handler, a callback, a worker) is logged and shown the same way; only the engine's
worker failing (:meth:`Safety.monitor_died`) makes the App exit, because the screens would then show stale state as if it were live:
actions are cancelled and journaled, the lease released, exit status 70 (EX_SOFTWARE), never 0.

TERM, HUP and INT go through :class:`cockpit.shutdown.SignalStop` (exit 128+signal, terminal restored).
"""

from __future__ import annotations

import os
import sys
import tempfile
import termios
import time
import traceback
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.worker import WorkerFailed

from cockpit.shutdown import SignalStop

EXIT_SOFTWARE = 70
FAULT_LOG = "crash.log"
#: what leaves the alternate screen, mouse and paste modes, and shows the cursor, for an exit at once
_RESTORE = b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[?7h\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1004l"


class Contained:
    """Mixed into the App and our screens: a handler's exception is contained, the pump goes on."""

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 (that is the point: log it, show it, keep running)
            self.app.contain_fault(exc)  # type: ignore[attr-defined]


class Safety:
    """The App's side: the fault log, the persistent notice, the exit on a fatal fault, the signals."""

    faults: int = 0
    fault_log: Path | None = None
    _signal_stop: SignalStop | None = None

    def state_dir(self) -> Path:
        configured = self.engine.config.cockpit.state_dir  # type: ignore[attr-defined]
        return configured or Path(tempfile.gettempdir()) / f"cockpit-{os.getuid()}.state"

    def log_fault(self, exc: BaseException) -> Path | None:
        """Append the traceback (redacted) to crash.log in the state directory; None if it cannot be written."""
        path = self.state_dir() / FAULT_LOG
        text = "".join(traceback.format_exception(exc))
        entry = f"--- {time.strftime('%Y-%m-%d %H:%M:%S %z')} pid {os.getpid()} UI fault\n{text}"
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(self.engine.redactor.redact(entry))  # type: ignore[attr-defined]  # text-safe: a log file
        except OSError:
            return None
        self.fault_log = path
        return path

    def contain_fault(self, exc: BaseException) -> None:
        """Log and show a UI fault; the cockpit goes on, and so does everything it runs."""
        self.faults += 1
        path = self.log_fault(exc)
        where = f"traceback in {path}" if path is not None else "the traceback could not be written to the state dir"
        what = self.engine.redactor.redact(f"{type(exc).__name__}: {exc}")  # type: ignore[attr-defined]
        try:
            self.notify(f"UI fault #{self.faults} (the cockpit keeps running; actions were not touched): {what}; "
                        f"{where}", title="UI FAULT", severity="error", timeout=10**9, markup=False)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 (no screen yet: the log has it, and stderr)
            print(f"cockpit: UI fault: {what}; {where}", file=sys.stderr)

    def _handle_exception(self, error: Exception) -> None:
        """Textual's last resort (it would exit and leave the actions to be cancelled): contained.

        The return code says 70 should the App end because of it (a fault while starting); a later
        quit sets its own.
        """
        self._return_code = EXIT_SOFTWARE
        self.contain_fault(error.error if isinstance(error, WorkerFailed) else error)

    def monitor_died(self, exc: BaseException) -> None:
        """The engine's worker failed: the screens would show stale state as live. Exit 70, cleanly."""
        path = self.log_fault(exc)
        session = getattr(self, "session", None)
        if session is not None:
            session.interrupt(f"cancelled: the cockpit stopped on a fault (exit {EXIT_SOFTWARE}); see {path}")
        self.exit(EXIT_SOFTWARE, return_code=EXIT_SOFTWARE,  # type: ignore[attr-defined]
                  message=Text(f"cockpit: the monitoring stopped on a fault: {type(exc).__name__}: {exc}; traceback in "
                          f"{path}; running actions were cancelled and journaled"))  # Text: never markup

    # -- signals -------------------------------------------------------------------------

    def install_signal_stop(self) -> None:
        self._signal_stop = SignalStop(self._stop_on_signal, session=getattr(self, "session", None),
                                       restore=self._restore_terminal, announce=False)
        self._signal_stop.install()

    def uninstall_signal_stop(self) -> None:
        if self._signal_stop is not None:
            self._signal_stop.uninstall()

    def _stop_on_signal(self, signum: int) -> None:
        self.exit(128 + signum, return_code=128 + signum)  # type: ignore[attr-defined]

    def _restore_terminal(self) -> None:
        """Only for an exit at once: Textual's own clean-up does not run then."""
        driver: Any = getattr(self, "_driver", None)
        attrs, fileno = getattr(driver, "attrs_before", None), getattr(driver, "fileno", None)
        if attrs is not None and fileno is not None:
            try:
                termios.tcsetattr(fileno, termios.TCSANOW, attrs)
            except (termios.error, OSError):
                pass
        try:
            os.write(sys.__stderr__.fileno(), _RESTORE)  # type: ignore[union-attr]  # text-safe: our escapes
        except (OSError, AttributeError, ValueError):
            pass
