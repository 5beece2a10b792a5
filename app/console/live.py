"""Live updates: one Server-Sent Events stream per open page, fed by app/events.py (no database)."""
from flask import Response
from gevent.queue import Empty

from app import events
from app.console.blueprint import bp
from app.extensions import db

KEEP_ALIVE = 15  # seconds: a comment line that keeps proxies from closing an idle stream


@bp.get("/live")
def live():
    # The stream outlives the request's use of the database: give its connection back now (SQLite has
    # one per process).
    db.session.close()
    hub = events.hub()
    queue = hub.subscribe()

    def stream():
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    message = queue.get(timeout=KEEP_ALIVE)
                except Empty:
                    yield ": keep-alive\n\n"
                    continue
                if message is None:  # the server is shutting down
                    return
                yield f"data: {message}\n\n"
        finally:
            hub.unsubscribe(queue)

    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
