"""Background jobs: module-level functions that take no objects, commit their own work, and may run
twice at once without harm. schedule.py declares when each runs; worker.py (RQ) or the server process
(runner.py, without Redis) runs them."""
import functools
import logging
import time

from app import metrics
from app.extensions import db
from app.services import system_log

logger = logging.getLogger(__name__)


def job(function):
    """Each run, its outcome and its duration go to the system log; a failure is an ERROR, and raised."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        began = time.monotonic()
        try:
            outcome = function(*args, **kwargs) or {}
        except Exception as error:
            db.session.rollback()
            seconds = round(time.monotonic() - began, 3)
            logger.exception("job %s failed", function.__name__)
            metrics.JOB_RUNS.labels(function.__name__, "failed").inc()
            system_log.error("job_failed", f"{function.__name__} failed after {seconds} s: {error!r}",
                             details={"job": function.__name__, "seconds": seconds})
            raise
        finally:
            db.session.remove()
        seconds = round(time.monotonic() - began, 3)
        metrics.JOB_RUNS.labels(function.__name__, "done").inc()
        summary = ", ".join(f"{key} {value}" for key, value in outcome.items()) or "nothing to do"
        system_log.info("job", f"{function.__name__}: {summary} ({seconds} s)",
                        details={"job": function.__name__, "seconds": seconds, **outcome})
        db.session.remove()
        return outcome
    return run
