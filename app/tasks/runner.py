"""The two ways to run the periodic jobs of schedule.py: RQ's cron scheduler (with Redis), or
greenlets in the server process (without)."""
import gevent
from flask import Flask
from rq.cron import CronScheduler

from app import metrics
from app.extensions import db
from app.services import system_log
from app.tasks.heartbeats import close_silent_connections
from app.tasks.schedule import PERIODIC_JOBS


def register_cron_jobs(scheduler: CronScheduler, config) -> None:
    for periodic in PERIODIC_JOBS:
        scheduler.register(periodic.function, periodic.queue, interval=max(1, round(config[periodic.interval_setting])),
                           job_timeout=periodic.timeout)


def start_in_process(app: Flask) -> list[gevent.Greenlet]:
    """Run each periodic job now and then every interval, in this (gevent) process."""
    return [gevent.spawn(_every, app, periodic) for periodic in PERIODIC_JOBS]


def watch_held_connections(app: Flask) -> gevent.Greenlet | None:
    """With Redis the jobs run in the RQ worker, but only this process knows whether the charge points it
    holds still answer: it closes its own silent connections every HEARTBEAT_CHECK_INTERVAL."""
    if app.extensions["ocpp_connections"].relay is None or not app.config["BACKGROUND_JOBS"]:
        return None  # without Redis, check_heartbeats (in this process) does it

    def watch():
        while True:
            gevent.sleep(app.config["HEARTBEAT_CHECK_INTERVAL"])
            with app.app_context():
                try:
                    close_silent_connections()
                except Exception as error:
                    db.session.rollback()  # what the failed run left is void; the log line commits alone
                    system_log.error("job_failed", f"close_silent_connections failed: {error!r}")
                finally:
                    db.session.remove()
    return gevent.spawn(watch)


def _every(app: Flask, periodic) -> None:
    interval = app.config[periodic.interval_setting]
    while True:
        with app.app_context():
            try:
                with gevent.Timeout(periodic.timeout):
                    periodic.function()
            except gevent.Timeout:
                db.session.rollback()
                metrics.JOB_RUNS.labels(periodic.function.__name__, "timed_out").inc()
                system_log.error("job_failed", f"{periodic.function.__name__} took longer than {periodic.timeout} s "
                                 "and was stopped", details={"job": periodic.function.__name__})
            except Exception:
                pass  # in the system log already (app.tasks.job); the next run still happens
        gevent.sleep(interval)
