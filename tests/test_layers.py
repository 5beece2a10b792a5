"""The layers of app/ as the README's Architecture section draws them: the contracts in .importlinter
(checked by import-linter's own command), and no import circle anywhere, a package's __init__ included."""
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_module_imports_itself_back():
    graph = grimp.build_graph("app", cache_dir=None)
    circles = [(module, imported, graph.find_shortest_chain(importer=imported, imported=module))
               for module in sorted(graph.modules) for imported in graph.find_modules_directly_imported_by(module)
               if graph.chain_exists(importer=imported, imported=module)]
    assert circles == []
