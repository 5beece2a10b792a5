"""The RQ worker of the project's queues, with the Flask app context around every job, and RQ's cron
scheduler of the periodic jobs declared in app/tasks/schedule.py.

    python worker.py                  worker and scheduler: run exactly one of these per deployment
    python worker.py --no-scheduler   one more worker, for more throughput
    python worker.py --burst          run what is queued, then exit

Both live through a Redis outage: RQ's worker quits on an error it does not expect and RQ's cron
scheduler dies of any Redis error, so each is started again (with a pause, and a line in the log once
per interval) until Redis answers.

A job that was running when the worker was killed is not run again by RQ; the next worker's scheduler
enqueues every job at once and then on schedule, and every job may run twice without harm. RQ finds
the killed run abandoned once its heartbeat has lapsed (within a few minutes, at its next cleanup of
the queues' registries) and the system log says so. A scheduler whose worker was killed stops by
itself, so that it does not enqueue beside the next worker's.
"""
import argparse
import multiprocessing
import os
import signal
import sys
import threading
import time

from redis.exceptions import RedisError
from rq import Worker
from rq.cron import CronScheduler
from rq.exceptions import AbandonedJobError, StopRequested

from app import create_app
from app.extensions import new_redis_client
from app.outages import FailureLog
from app.services import system_log
from app.tasks.runner import register_cron_jobs
from app.tasks.schedule import QUEUES
from config import Config, load_config_or_exit

RESTART_PAUSE_SECONDS = 2
ORPHAN_CHECK_SECONDS = 1


class AppWorker(Worker):
    """An RQ worker whose jobs run inside the app context (database, settings, connections)."""

    def __init__(self, *args, app, **kwargs):
        super().__init__(*args, exception_handlers=[self.record_abandoned], **kwargs)
        self.app = app

    def perform_job(self, *args, **kwargs):
        with self.app.app_context():
            return super().perform_job(*args, **kwargs)

    def record_abandoned(self, job, exc_type, exc_value, traceback) -> None:
        """A run whose worker died in the middle (killed, out of memory) logs nothing itself: RQ's cleanup
        finds it, and the system log says so. Other failures the job logged itself (app.tasks.job)."""
        if exc_type is not AbandonedJobError:
            return
        name = job.func_name.rsplit(".", 1)[-1]
        with self.app.app_context():
            system_log.error("job_abandoned", f"{name} was abandoned: the worker running it stopped in the middle "
                                              "(killed?); its next run carries on", details={"job": name})


def stop_when_orphaned(parent: int) -> None:
    """SIGTERM to this process once `parent` is gone: a scheduler whose worker was killed (SIGKILL leaves
    no chance to stop it) would go on enqueueing beside the next worker's scheduler."""
    def watch():
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def run_scheduler(config: Config, parent: int) -> None:
    stop_when_orphaned(parent)
    app = create_app(config)
    failures = FailureLog("the RQ cron scheduler cannot reach Redis; it starts again")
    while True:
        try:
            scheduler = CronScheduler(connection=new_redis_client(app, socket_timeout=30),
                                      logging_level=config.LOG_LEVEL)
            register_cron_jobs(scheduler, app.config)
            scheduler.start()
            return  # stopped (SIGTERM, SIGINT)
        except RedisError as error:
            failures.failed(error)
        try:
            time.sleep(RESTART_PAUSE_SECONDS)
        except StopRequested:  # (the scheduler's signal handler, still installed)
            return


def run_worker(app, burst: bool, logging_level: str) -> None:
    failures = FailureLog("the RQ worker lost Redis; it starts again")
    while True:
        worker = None
        try:
            # No socket timeout: RQ's worker waits for jobs in reads that block for minutes.
            worker = AppWorker(list(QUEUES), connection=new_redis_client(app, socket_timeout=None), app=app)
            worker.work(burst=burst, logging_level=logging_level)
        except RedisError as error:
            failures.failed(error)
        stopped = worker is not None and worker._shutdown_requested_date is not None  # (RQ's: by a signal)
        if burst or stopped:
            return
        # The old worker's signal handlers ask Redis for its state: while none runs, a signal just stops.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        time.sleep(RESTART_PAUSE_SECONDS)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", action="store_true", help="run the queued jobs, then exit")
    parser.add_argument("--no-scheduler", dest="scheduler", action="store_false",
                        help="do not run the cron scheduler (another process does)")
    options = parser.parse_args(argv)
    config = load_config_or_exit()
    if not config.REDIS_URL:
        sys.exit("configuration error: worker.py needs REDIS_URL (without Redis, the server runs the jobs itself)")
    scheduler = None
    if options.scheduler and not options.burst and config.BACKGROUND_JOBS:
        scheduler = multiprocessing.Process(target=run_scheduler, args=(config, os.getpid()), name="rq-cron-scheduler")
        scheduler.start()
    app = create_app(config)
    try:
        run_worker(app, options.burst, config.LOG_LEVEL)
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.join(10)


if __name__ == "__main__":
    main()
