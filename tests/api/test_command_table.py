"""One table of commands (app/command_table.py) for the API and the console: each row is an API route with
the row's body schema, and the console has forms only for rows of the table."""
from app.command_table import COMMANDS
from app.console.charge_points import FORMS, SHAPES


def test_every_command_of_the_table_is_routed_by_the_api(app):
    posted = {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert {f"/api/commands/{name}" for name in COMMANDS} <= posted


def test_the_api_documents_each_command_with_the_tables_schemas(app):
    with app.test_client() as client:
        document = client.get("/api/openapi.json").get_json()
    for name, command in COMMANDS.items():
        operation = document["paths"][f"/api/commands/{name}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert body.endswith("/" + command.body_schema.__name__.removesuffix("Schema")), name
        assert answer.endswith("/" + command.result_schema.__name__.removesuffix("Schema")), name


def test_the_console_has_forms_only_for_commands_of_the_table():
    assert set(FORMS) <= set(COMMANDS)
    assert set(SHAPES) <= set(FORMS)
