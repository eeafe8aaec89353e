"""Tests that keep the documentation honest.

They check the docs against the code, not the other way round: every command has help
and a section in docs/cli.md, every finding code is documented, ``__all__`` is sorted
and complete, links point at files that exist, the bundled schemas match the JSON
Schema that docs/schema-format.md describes, and the README's test command is the one
CI runs.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import click
import jsonschema
import pytest
import yaml

import bulkprep
import bulkprep._exceptions
from bulkprep.cli import cli
from bulkprep.findings import CATALOG, catalog_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CLI_MD = DOCS / "cli.md"
MARKDOWN = sorted([README, *DOCS.glob("*.md")])


def _markdown_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


# -- the command tree -------------------------------------------------------------------


def _walk(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    """Every command below ``group`` as ``("schema pull", command)``, groups included."""
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if command.hidden:
            continue
        path = (*prefix, name)
        found.append((" ".join(path), command))
        if isinstance(command, click.Group):
            found.extend(_walk(command, path))
    return found


COMMANDS = _walk(cli)
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not isinstance(cmd, click.Group)]
GROUPS = [(path, cmd) for path, cmd in COMMANDS if isinstance(cmd, click.Group)]


def _cli_sections() -> dict[str, str]:
    """``## bulkprep PATH`` sections of docs/cli.md: path → section text."""
    text = CLI_MD.read_text(encoding="utf-8")
    parts = re.split(r"^## bulkprep (.+?)\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_the_command_tree_is_what_the_docs_expect() -> None:
    # A guard for the walk itself: if it finds nothing, the tests below prove nothing.
    paths = {path for path, _ in LEAVES}
    assert {"clean", "validate", "upload", "schema list", "schema pull", "sandbox"} <= paths


def test_cli_md_root_help_lists_the_real_commands() -> None:
    """The command list of the `bulkprep --help` block in docs/cli.md: the same
    commands, each with the start of its real help text (the width cuts the rest)."""
    text = CLI_MD.read_text(encoding="utf-8")
    block = text.split("$ bulkprep --help\n", 1)[1].split("```", 1)[0]
    listed = dict(
        line.strip().split(None, 1) for line in block.split("Commands:\n", 1)[1].splitlines()
    )
    assert sorted(listed) == sorted(cli.commands)
    for name, shown in listed.items():
        real = " ".join((cli.commands[name].help or "").split())
        assert real.startswith(shown.removesuffix("...")), name


@pytest.mark.parametrize("path", [p for p, _ in LEAVES])
def test_every_command_has_a_section_in_cli_md(path: str) -> None:
    sections = _cli_sections()
    assert path in sections, f"docs/cli.md has no '## bulkprep {path}' section"
    assert sections[path].strip(), f"the section of bulkprep {path} in docs/cli.md is empty"


def test_cli_md_has_no_section_for_a_command_that_does_not_exist() -> None:
    existing = {path for path, _ in COMMANDS}
    unknown = sorted(set(_cli_sections()) - existing)
    assert not unknown, f"docs/cli.md documents commands that do not exist: {unknown}"


def test_cli_md_sections_are_unique() -> None:
    headings = re.findall(r"^## bulkprep (.+?)\s*$", CLI_MD.read_text(encoding="utf-8"), re.M)
    assert len(headings) == len(set(headings))


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[p for p, _ in LEAVES])
def test_every_option_is_documented_in_its_section(path: str, command: click.Command) -> None:
    section = _cli_sections().get(path, "")
    missing = [
        opt
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden
        for opt in param.opts
        if opt.startswith("--") and opt not in section
    ]
    assert not missing, f"docs/cli.md, bulkprep {path}: options not mentioned: {missing}"


def test_root_options_are_documented() -> None:
    text = CLI_MD.read_text(encoding="utf-8")
    for param in cli.params:
        if isinstance(param, click.Option) and not param.hidden:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in text, opt
            if param.envvar:
                assert str(param.envvar) in text


# -- finding codes ----------------------------------------------------------------------


def test_findings_md_is_generated_from_the_catalog() -> None:
    page = (DOCS / "findings.md").read_text(encoding="utf-8")
    assert page == catalog_markdown(), (
        "docs/findings.md is out of date: run python -m bulkprep.findings > docs/findings.md"
    )


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_every_code_is_documented(code: str) -> None:
    page = (DOCS / "findings.md").read_text(encoding="utf-8")
    assert f"\n## {code}\n" in page
    assert f"`{code}`" in page


def test_codes_are_kebab_case() -> None:
    for code, entry in CATALOG.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code), code
        assert entry.code == code


# -- the public API ---------------------------------------------------------------------


def _isort_key(name: str) -> tuple[int, list[object]]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then the rest; natural sort."""
    if name.isupper() and any(c.isalpha() for c in name):
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def test_all_is_sorted() -> None:
    assert bulkprep.__all__ == sorted(bulkprep.__all__, key=_isort_key)


def test_all_has_no_duplicates() -> None:
    assert len(bulkprep.__all__) == len(set(bulkprep.__all__))


@pytest.mark.parametrize("name", bulkprep.__all__)
def test_every_name_in_all_resolves(name: str) -> None:
    assert getattr(bulkprep, name) is not None


def _exception_classes() -> list[str]:
    module = bulkprep._exceptions
    return sorted(
        name
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    )


def _code_blocks(text: str) -> list[str]:
    """The Python code of the ```python and ```pycon blocks (prompts stripped, output dropped)."""
    blocks = []
    for lang, body in re.findall(r"```(python|pycon)\n(.*?)```", text, flags=re.S):
        if lang == "pycon":
            body = "\n".join(
                line[4:] for line in body.splitlines() if line.startswith((">>> ", "... "))
            )
        blocks.append(body)
    return blocks


def _names_used_in_docs() -> set[str]:
    """Names the README and docs take from bulkprep: ``from bulkprep import X``, ``bulkprep.X``."""
    modules = {p.stem for p in (ROOT / "bulkprep").glob("*.py")} | {"sandbox", "schemas"}
    names: set[str] = set()
    for path in MARKDOWN:
        text = path.read_text(encoding="utf-8")
        for code in _code_blocks(text):
            tree = ast.parse(code)
            submodules = {  # bulkprep.sandbox in bulkprep.sandbox.Sandbox
                id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "bulkprep":
                    names.update(alias.name for alias in node.names)
                elif (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "bulkprep"
                    and id(node) not in submodules
                ):
                    names.add(node.attr)
        # in prose: `bulkprep.NAME` or `bulkprep.NAME(...)`, but not bulkprep.module.NAME
        prose = re.findall(r"`bulkprep\.([A-Za-z_]\w*)\b(?![./])", text)
        names.update(n for n in prose if n not in modules)
    return {n for n in names if not n.startswith("_")}


EXPECTED_PUBLIC = [
    "clean",
    "validate",
    "load_schema",
    "upload",
    "Client",
    "Journal",
    "load_settings",
    "verify_signature",
    "Report",
    "Finding",
    "render",
    "Settings",
    "UploadResult",
    *_exception_classes(),
]


@pytest.mark.parametrize("name", EXPECTED_PUBLIC)
def test_all_exports_the_public_names(name: str) -> None:
    assert name in bulkprep.__all__, f"bulkprep.__all__ lacks {name}"


def test_the_exception_tree_is_found() -> None:
    assert {"BulkprepError", "AmbiguousUploadError", "WaitInterrupted"} <= set(_exception_classes())


def test_names_the_docs_use_are_exported() -> None:
    used = _names_used_in_docs()
    assert {"clean", "upload", "Client", "verify_signature"} <= used  # the scan works
    missing = sorted(used - set(bulkprep.__all__) - {"__version__"})
    assert not missing, f"README/docs use names that bulkprep does not export: {missing}"


def test_lazy_names_are_exported() -> None:
    assert set(bulkprep._LAZY) <= set(bulkprep.__all__)


# -- links ------------------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        match = re.match(r"#{1,6} (.+?)\s*#*\s*$", line)
        if match and not in_code:
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return _LINK.findall(text)


@pytest.mark.parametrize("doc", MARKDOWN, ids=_markdown_id)
def test_relative_links_point_at_existing_files(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        file_part = target.split("#", 1)[0]
        if not (doc.parent / file_part).exists():
            broken.append(target)
    assert not broken, f"{_markdown_id(doc)} links to files that do not exist: {broken}"


@pytest.mark.parametrize("doc", MARKDOWN, ids=_markdown_id)
def test_anchors_point_at_existing_headings(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or "#" not in target:
            continue
        file_part, anchor = target.split("#", 1)
        linked = (doc.parent / file_part) if file_part else doc
        if linked.suffix != ".md" or not linked.exists():
            continue
        if anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{_markdown_id(doc)} links to headings that do not exist: {broken}"


def test_slugs_match_github() -> None:
    assert _slug("bulkprep schema pull") == "bulkprep-schema-pull"
    assert _slug("Output formats: `--format`") == "output-formats---format"
    assert _slug("Reconciliation: which source line the server refused") == (
        "reconciliation-which-source-line-the-server-refused"
    )
    assert _slug("The `upload` block") == "the-upload-block"


# -- the schema format ------------------------------------------------------------------

SCHEMA_JSON = ROOT / "bulkprep" / "schema.json"
BUNDLED = sorted((ROOT / "schemas").glob("*.yaml"))


def _json_schema() -> dict:
    return json.loads(SCHEMA_JSON.read_text(encoding="utf-8"))


def test_the_json_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(_json_schema())


def test_there_are_bundled_schemas() -> None:
    assert BUNDLED


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_schemas_validate_against_the_json_schema(path: Path) -> None:
    validator = jsonschema.Draft202012Validator(_json_schema())
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(data)
    ]
    assert not errors, f"{path.name}: {errors}"


def test_schema_format_md_mentions_every_key() -> None:
    schema = _json_schema()
    page = (DOCS / "schema-format.md").read_text(encoding="utf-8")
    keys = set(schema["properties"]) | set(schema["$defs"]["column"]["properties"])
    missing = sorted(key for key in keys if f"`{key}`" not in page)
    assert not missing, f"docs/schema-format.md does not mention: {missing}"


# -- the README's commands --------------------------------------------------------------


def _readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert match, "README.md has no ```sh block"
    return [
        line.strip()
        for line in match.group(1).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_readme_starts_with_two_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2, commands
    assert commands[0].endswith("bulkprep upload contact sample_data/contacts.csv --sandbox")


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert _readme_commands()[1] == ci_commands[-1]
