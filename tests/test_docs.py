"""The documentation is true: every ```python block of docs/en, docs/ja, README.md and
README.ja.md runs, the two languages have the same chapters with the same code, and relative
links point to files that exist.

The blocks of one Markdown file run in order in one namespace (as a reader types them), in
a temporary working folder. A block preceded by ``<!-- skip-test -->`` is not run (downloads,
files from elsewhere, long training). Each program runs once: a Japanese page whose code
equals its English page's (which test_same_code_in_both_languages requires) is covered by
the English run.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGES = ("en", "ja")

# ```python ... ``` fences, optionally preceded by the opt-out comment on the line above.
CODE_BLOCK = re.compile(
    r"^(?P<skip><!-- skip-test -->[ \t]*\n)?```python[ \t]*\n(?P<code>.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
# [text](target) — excluding images' and links' absolute URLs, handled below.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _chapters(language):
    return sorted(path.name for path in (DOCS / language).glob("*.md"))


def _code_blocks(path):
    """``[(code, skipped)]`` of the ```python blocks of a Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    return [(m.group("code"), m.group("skip") is not None) for m in CODE_BLOCK.finditer(text)]


def _markdown_files():
    files = [ROOT / "README.md", ROOT / "README.ja.md", DOCS / "README.md"]
    for language in LANGUAGES:
        files += sorted((DOCS / language).glob("*.md"))
    return files


def _programs():
    """The Markdown files whose code runs: every English chapter, both READMEs, and a
    Japanese chapter only where its code differs from the English one."""
    programs = [f"docs/en/{name}" for name in _chapters("en")]
    for name in _chapters("ja"):
        english = DOCS / "en" / name
        if not english.exists() or _code_blocks(english) != _code_blocks(DOCS / "ja" / name):
            programs.append(f"docs/ja/{name}")
    return programs + ["README.md", "README.ja.md"]


def test_both_languages_have_the_same_chapters():
    assert _chapters("en"), "docs/en holds no chapters"
    assert _chapters("en") == _chapters("ja")


@pytest.mark.parametrize("name", _chapters("en"))
def test_same_code_in_both_languages(name):
    english = _code_blocks(DOCS / "en" / name)
    japanese = _code_blocks(DOCS / "ja" / name)
    assert len(english) == len(japanese), f"{name}: number of ```python blocks differs"
    for index, (ours, theirs) in enumerate(zip(english, japanese)):
        assert ours == theirs, f"{name}: ```python block {index + 1} differs between en and ja"


def test_readmes_have_the_same_code():
    assert _code_blocks(ROOT / "README.md") == _code_blocks(ROOT / "README.ja.md")


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(path):
    text = path.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http(s):, mailto: and in-page anchors
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links to missing files {broken}"


@pytest.mark.parametrize("relative", _programs())
def test_code_blocks_run(relative, tmp_path, monkeypatch):
    pytest.importorskip("sklearn", reason="the examples use the embedded digits ([all] extra)")
    blocks = [code for code, skipped in _code_blocks(ROOT / relative) if not skipped]
    if not blocks:
        pytest.skip(f"{relative} has no Python block to run")
    monkeypatch.chdir(tmp_path)  # files the examples save land here
    monkeypatch.setenv("SHINSOU_HOME", str(tmp_path / "shinsou-home"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": f"docs_{pathlib.Path(relative).stem.replace('-', '_')}"}
    for index, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"{relative} (python block {index})", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{relative}: python block {index} failed: {error!r}") from error
