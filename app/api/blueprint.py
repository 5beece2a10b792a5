"""The API's request plumbing: flask-smorest's Api and Blueprint, with webargs answering 400 with the
field errors. Every view takes its Blueprint from here; the error shape is app/errors.py's."""
import flask_smorest
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from app.errors import ErrorSchema, http_error_answer
from app.spec.values import contains_nul


class Parser(FlaskParser):
    """webargs, answering 400 (not 422) with the field errors, and reading a JSON body whatever its
    Content-Type says (curl sends form encoding unless told otherwise)."""
    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        body = core.parse_json(data)
        if contains_nul(body):
            abort(400, message="the request body contains a NUL character")
        return body


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        # flask-smorest registers this for the whole app: the one shape of every HTTP error
        return http_error_answer(error)
