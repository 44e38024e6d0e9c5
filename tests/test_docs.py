"""The README and the docs/ pages stay true: links resolve, code fences close, the landing page
stays small, and the generated tables equal what they are generated from."""

import re
from pathlib import Path

import pytest
import yaml

from scoring.config import ScoringConfig
from scoring.schema import readme_tables
from tasks.extract.sources.config import sources_from_document

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_BYTES = 15 * 1024
README_MAX_HEADINGS = 15
"""Sections of the README (## and ###): its table of contents must fit on a screen."""

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else page.name


def fence_error(text: str) -> str | None:
    """What is wrong with the page's code fences, or None.

    A fence closes on a line of the same character, at least as long, and nothing after it
    (CommonMark). Such a line *with* an info string (```yaml) inside an open fence is an
    opener where a closer was forgotten: CommonMark renders it as code, and the prose after it
    with it."""
    opened: tuple[str, int, int] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if match is None:
            continue
        marks, rest = match.groups()
        if opened is None:
            opened = (marks[0], len(marks), number)
        elif marks[0] == opened[0] and len(marks) >= opened[1]:
            if rest.strip():
                return f"the code fence of line {opened[2]} is still open at line {number}"
            opened = None
    return None if opened is None else f"the code fence of line {opened[2]} is never closed"


def outside_fences(text: str) -> list[str]:
    """The lines of a page outside its code fences."""
    lines, fenced = [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if match is None:
            if fenced is None:
                lines.append(line)
            continue
        marks, rest = match.groups()
        if fenced is None:
            fenced = marks
        elif marks[0] == fenced[0] and len(marks) >= len(fenced) and not rest.strip():
            fenced = None
    return lines


def prose_lines(text: str) -> list[str]:
    """The lines outside code fences, inline code removed (links there are not links)."""
    return [INLINE_CODE.sub("", line) for line in outside_fences(text)]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text lower-cased, punctuation dropped, spaces as -."""
    text = INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = LINK.sub(lambda m: m.group(1), text)
    text = re.sub(r"<[^>]+>", "", text).replace("*", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor of a page: its headings' slugs (repeats numbered -1, -2…) and HTML anchors."""
    text = page.read_text(encoding="utf-8")
    found: set[str] = set(HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for line in outside_fences(text):
        heading = HEADING.match(line)
        if heading is not None:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(page: Path) -> list[str]:
    """The link targets of a page that point into the repository."""
    targets = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        targets += [m.group(2) for m in LINK.finditer(line)]
        reference = REFERENCE.match(line)
        if reference is not None:
            targets.append(reference.group(1))
    return [t for t in targets if t and not EXTERNAL.match(t)]


def broken_links(page: Path) -> list[str]:
    """The relative links of `page` whose file, or heading anchor, does not exist."""
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {page_id(resolved)}")
    return broken


def yaml_examples() -> list[tuple[str, str]]:
    """(page and line, text) of every ```yaml block of the pages."""
    examples = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in re.finditer(r"^```yaml\n(.*?)^```$", text, re.S | re.M):
            line = text.count("\n", 0, block.start()) + 1
            examples.append((f"{page_id(page)}:{line}", block.group(1)))
    return examples


def marked_block(page: Path, name: str) -> str:
    """The text between `<!-- name:start -->` and `<!-- name:end -->` lines of a page."""
    text = page.read_text(encoding="utf-8")
    block = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert block is not None, f"{page_id(page)} has no {name}:start / {name}:end markers"
    return block.group(1)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_code_fence_is_closed(page: Path) -> None:
    assert fence_error(page.read_text(encoding="utf-8")) is None, page_id(page)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize(("where", "example"), yaml_examples(), ids=[w for w, _ in yaml_examples()])
def test_every_yaml_example_is_a_valid_configuration(where: str, example: str) -> None:
    document = yaml.safe_load(example)
    ScoringConfig.model_validate({k: v for k, v in document.items() if k != "sources"})
    sources_from_document(document)


def test_the_readme_is_a_landing_page() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size:,} bytes: move detail to docs/"
    text = README.read_text(encoding="utf-8")
    headings = [line for line in prose_lines(text) if re.match(r"#{2,3} ", line)]
    assert len(headings) <= README_MAX_HEADINGS, headings


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(README)}
    unlinked = [page_id(p) for p in PAGES[1:] if p.resolve() not in linked]
    assert unlinked == []


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"


def test_schema_tables_are_generated_from_the_contract() -> None:
    assert marked_block(DOCS / "outputs.md", "schema") == readme_tables(), (
        "regenerate: python -m scoring.schema, between the schema markers of docs/outputs.md"
    )


def test_the_benchmark_tables_are_the_latest_results() -> None:
    latest = (ROOT / "benchmarks" / "results" / "latest.md").read_text(encoding="utf-8")
    assert marked_block(DOCS / "performance.md", "bench") == latest.strip(), (
        "copy benchmarks/results/latest.md between the bench markers of docs/performance.md"
    )


def test_the_fixed_cost_table_is_the_latest_result() -> None:
    latest = (ROOT / "benchmarks" / "results" / "fixed_cost.md").read_text(encoding="utf-8")
    assert marked_block(DOCS / "performance.md", "fixed-cost") == latest.strip(), (
        "copy benchmarks/results/fixed_cost.md between the fixed-cost markers of "
        "docs/performance.md"
    )


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "Deployments, schedules, reruns and backfills",
            "deployments-schedules-reruns-and-backfills",
        ),
        ("`scores/run_date=YYYY-MM-DD/part-0.parquet`", "scoresrun_dateyyyy-mm-ddpart-0parquet"),
        ("A local server to click: `make server`", "a-local-server-to-click-make-server"),
        ("Tiers — and the *index*", "tiers--and-the-index"),
        ("[Outputs](docs/outputs.md) at a glance", "outputs-at-a-glance"),
    ],
)
def test_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_an_unclosed_fence_is_found() -> None:
    closed = "text\n```yaml\na: 1\n```\n\n````md\n```yaml\nb: 2\n```\n````\n"
    assert fence_error(closed) is None
    at_the_end = "text\n```yaml\na: 1\n```\n\n```yaml\nb: 2\nmore text\n"
    assert fence_error(at_the_end) == "the code fence of line 6 is never closed"
    forgotten = "```yaml\na: 1\nprose\n\n```yaml\nb: 2\n```\n"
    assert fence_error(forgotten) == "the code fence of line 1 is still open at line 5"


def test_links_in_code_are_not_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[here](#title) `[not](missing.md)`\n\n```\n[no](gone.md)\n```\n"
        "[bad](#nowhere) [gone](gone.md) ![img](pic.png) [web](https://example.com)\n"
    )
    assert relative_links(page) == ["#title", "#nowhere", "gone.md", "pic.png"]
    assert len(broken_links(page)) == 3


def test_repeated_headings_are_numbered_and_fenced_ones_ignored(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('# Setup\n\n## Setup\n\n```\n# Not a heading\n```\n<a id="here"></a>\n')
    assert anchors(page) == {"setup", "setup-1", "here"}
