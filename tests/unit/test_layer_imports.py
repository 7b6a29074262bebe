"""Imports in the shared layer point down: every module of layers/shared/damdrift sits in one layer, and
imports only from its own layer or the layers below it. The order is declared here, once
(docs/development.md draws it). An import that runs back up widens what a handler loads at its cold
start and ties a lower concept to a higher one's meaning (the store to what a summary is).

Every import counts: at the top of a module, inside a function, under ``TYPE_CHECKING``.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "layers" / "shared"
PACKAGE = "damdrift"

#: Bottom to top: each layer's modules, as dotted names under ``damdrift``. A module belongs to the
#: layer of its longest matching name (``report.html`` is itself; ``dx`` takes ``dx.client``...).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # errors, logging and metrics, untrusted text made safe to show, the bucket's key layout, what every
    # stored page shares: no I/O of ours
    (
        "foundation",
        (
            "errors",
            "model_base",
            "clock",
            "validation",
            "observability",
            "notice_text",
            "report_layout",
            "report_page",
        ),
    ),
    # DX's HTTP API: its vocabulary (models, connection, trigger requests) and its client; no check
    ("dx", ("dx",)),
    # pydantic, no I/O: a check's outcome, remediation, the state machine's input and states; the
    # poll schedule, a pure function of the input's policy
    ("models", ("models", "execution_input", "state", "poll_schedule")),
    # each function's environment, validated at its cold start
    ("settings", ("settings",)),
    # I/O that knows nothing of a report's meaning: the S3 client and objects, secrets, the check's
    # logged-in DX clients
    ("adapters", ("s3_client", "store", "workdir", "credentials", "subscriber_dam", "check_clients")),
    # typed storage: the stored checks and their summaries, each subscriber's latest pointer
    ("repositories", ("report_history", "latest_pointer")),
    # signed links to the stored pages, and serving them: keys and bytes, no rendering
    ("viewer", ("viewer",)),
    # a report's records and their identities, the ignore rules: what ingest and analysis share
    ("records", ("report.records",)),
    # DX's mismatch log into local files and the bucket
    ("ingest", ("report.ingest",)),
    # pure: the diff against the previous check, drift ages, baselines
    ("analysis", ("report.analysis",)),
    # a finished download compared with the previous check: its keys, diff and drift ages stored
    ("comparison", ("report.analysis.comparison",)),
    # text and HTML: the report page, the overview, the notices, chat, the next steps
    ("rendering", ("report.rendering",)),
    # a check's pages stored in order: page, summary, latest pointer (last), overview row
    ("filing", ("report.filing",)),
    # the run as a whole: run records read once, run.json, the run's notices, pricing (issue 24)
    ("fleet", ("fleet",)),
    ("remediation", ("remediation",)),
    ("doctor", ("doctor",)),
    # the subscriber check's tail, one module per stage: fetch -> analyse -> announce (issue 24)
    ("stages", ("stages",)),
    # one module per Task state: the only place that wires the rest together
    ("steps", ("steps",)),
)
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}
RULE = "imports point down: a module imports only from its own layer or the ones below it (" + (
    " < ".join(name for name, _ in LAYERS) + ")"
)


@dataclass(frozen=True)
class Import:
    source: Path
    line: int
    importer: str
    imported: str


def _module_of(path: Path) -> str:
    """``report.html`` for damdrift/report/rendering/html.py, ``dx`` for damdrift/dx/__init__.py."""
    parts = path.relative_to(SHARED / PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = SHARED / PACKAGE / Path(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _is_face(path: Path) -> bool:
    """A package's ``__init__.py`` that holds only its docstring: it is no module of any layer."""
    body = ast.parse(path.read_text()).body
    return path.name == "__init__.py" and all(
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body
    )


def _imports(path: Path) -> list[Import]:
    """Every import of a ``damdrift`` module in ``path``, named by the module it reaches."""
    importer = _module_of(path)
    package = importer.split(".") if path.name == "__init__.py" else importer.split(".")[:-1]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(
                    [PACKAGE, *package[: len(package) - node.level + 1], *filter(None, [node.module])]
                )
            else:
                base = node.module or ""
            names = [f"{base}.{alias.name}" for alias in node.names]  # a name, or a module of ``base``
        else:
            continue
        for name in names:
            if name == PACKAGE or not name.startswith(PACKAGE + "."):
                continue
            module = name.removeprefix(PACKAGE + ".")
            while module and not _is_module(module):  # from damdrift.store import ReportStore: store
                module = module.rpartition(".")[0]
            found.append(Import(path, node.lineno, importer, module))
    return sorted(set(found), key=lambda i: (i.line, i.imported))  # from x import A, B: once


def _layer_of(module: str) -> str | None:
    matches = [
        (len(prefix), name)
        for name, prefixes in LAYERS
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1] if matches else None


def _modules() -> list[Path]:
    return sorted(p for p in (SHARED / PACKAGE).rglob("*.py") if not _is_face(p))


def test_every_module_of_the_shared_layer_has_a_layer() -> None:
    unplaced = [
        f"{p.relative_to(ROOT)}: {_module_of(p)}" for p in _modules() if _layer_of(_module_of(p)) is None
    ]
    assert not unplaced, (
        "name these modules' layer in LAYERS (tests/unit/test_layer_imports.py):\n" + "\n".join(unplaced)
    )


def test_no_import_in_the_shared_layer_runs_back_up() -> None:
    upward = []
    for path in _modules():
        for found in _imports(path):
            low, high = _layer_of(found.importer), _layer_of(found.imported)
            if low is not None and high is not None and RANK[high] > RANK[low]:
                upward.append(
                    f"{found.source.relative_to(ROOT)}:{found.line}: {found.importer} ({low}) imports "
                    f"{found.imported} ({high})"
                )
    assert not upward, f"{len(upward)} imports run back up; {RULE}:\n" + "\n".join(upward)


def test_the_checker_reads_every_kind_of_import() -> None:
    """The rule can fail: relative, deferred and ``TYPE_CHECKING`` imports are all seen, by module."""
    found = {(i.importer, i.imported) for i in _imports(SHARED / PACKAGE / "report_history.py")}
    assert ("report_history", "store") in found  # under TYPE_CHECKING
    assert ("report_history", "report_layout") in found
    assert _layer_of("report.rendering.html") == "rendering" and _layer_of("dx.client") == "dx"
    assert RANK["steps"] > RANK["models"] > RANK["foundation"]
