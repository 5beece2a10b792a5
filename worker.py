"""The RQ worker of the project's queues, with the Flask app context around every job, and RQ's cron
scheduler of the periodic jobs declared in app/tasks/schedule.py.

    python worker.py                  worker and scheduler: run exactly one of these per deployment
    python worker.py --no-scheduler   one more worker, for more throughput
    python worker.py --burst          run what is queued, then exit
"""
import argparse
import multiprocessing
import sys

from rq import Worker
from rq.cron import CronScheduler

from app import create_app
from app.services.connections import redis_client
from app.tasks.runner import register_cron_jobs
from app.tasks.schedule import QUEUES
from config import Config, load_config_or_exit


class AppWorker(Worker):
    """An RQ worker whose jobs run inside the app context (database, settings, connections)."""

    def __init__(self, *args, app, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def perform_job(self, *args, **kwargs):
        with self.app.app_context():
            return super().perform_job(*args, **kwargs)


def run_scheduler(config: Config) -> None:
    app = create_app(config)
    scheduler = CronScheduler(connection=redis_client(app), logging_level=config.LOG_LEVEL)
    register_cron_jobs(scheduler, app.config)
    scheduler.start()


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
        scheduler = multiprocessing.Process(target=run_scheduler, args=(config,), name="rq-cron-scheduler")
        scheduler.start()
    app = create_app(config)
    try:
        worker = AppWorker(list(QUEUES), connection=redis_client(app), app=app)
        worker.work(burst=options.burst, logging_level=config.LOG_LEVEL)
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.join(10)


if __name__ == "__main__":
    main()
