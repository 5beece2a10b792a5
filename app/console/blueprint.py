"""The console's blueprint: its security headers and its error pages (the routes are in the modules
beside it, which app/console/__init__.py registers)."""
from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException

from app.errors import failure_answer
from app.services.errors import NotFound, ServiceError
from app.spec.failures import CommandFailed

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console-static")

# No inline script or style, no other origin: what a page shows can never run as code.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@bp.after_request
def add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(NotFound)
@bp.errorhandler(404)
def not_found(error):
    message = getattr(error, "message", None) or "There is no such page."  # a ServiceError says what
    return render_template("error.html", title="Not found", message=message), 404


@bp.errorhandler(HTTPException)
def http_error(error):
    if error.code == 404:
        return not_found(error)
    return render_template("error.html", title=error.name, message=error.description), error.code


@bp.errorhandler(ServiceError)
@bp.errorhandler(CommandFailed)
def refused(error):
    """What a service refused, with the status the API would answer (a 409 conflict, a 400 ...)."""
    body, status = failure_answer(error)
    return render_template("error.html", title=body["error"].replace("_", " ").capitalize(),
                           message=body["message"]), status
