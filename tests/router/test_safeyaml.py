"""router/safeyaml.py: YAML people write, read without surprises. Duplicate keys, aliases, deep nesting, big
files and bytes that are not UTF-8 are refused with where and why; nothing ends in a traceback, an alias
bomb is refused before it expands, and a deeply nested file before Python's recursion limit."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from router import safeyaml
from router.safeyaml import YamlRefused

ROOT = Path(__file__).resolve().parents[2]


def refused(text: str, **limits: int) -> YamlRefused:
    with pytest.raises(YamlRefused) as caught:
        safeyaml.loads(text, **limits)
    return caught.value


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level a list of nine aliases of the level below (9**9 strings if expanded)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_plain_yaml_loads_as_the_safe_loader_would() -> None:
    text = "name: catalog\nsteps: [provision, {canary: {percent: 10}}]\n'1': one\n1: number one\nflag: true\n"
    assert safeyaml.loads(text) == {"name": "catalog", "steps": ["provision", {"canary": {"percent": 10}}],
                                    "1": "one", 1: "number one", "flag": True}


def test_a_duplicate_key_names_the_key_and_both_lines() -> None:
    error = refused("name: catalog\nservice:\n  name: catalog\nname: catalog2\n")
    assert (str(error), error.line, error.column) == ("line 4, column 1: duplicate key 'name' (first at line 1)", 4, 1)


def test_a_duplicate_key_in_a_nested_flow_mapping_is_refused_too() -> None:
    error = refused("steps:\n  - canary: {percent: 10, min_requests: 5, percent: 50}\n")
    assert str(error) == "line 2, column 44: duplicate key 'percent' (first at line 2)"


def test_an_alias_bomb_is_refused_in_milliseconds() -> None:
    started = time.perf_counter()
    error = refused(alias_bomb())
    elapsed = time.perf_counter() - started
    assert str(error).startswith("line 2, column 10: alias *l0: aliases are not allowed in this file")
    assert elapsed < 0.1, f"took {elapsed:.3f}s"


def test_merge_keys_need_aliases_so_they_are_refused_as_well() -> None:
    error = refused("base: &base {a: 1}\nother:\n  <<: *base\n  b: 2\n")
    assert (error.line, error.message.split(":")[0]) == (3, "alias *base")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000,
                                  "".join(f"{' ' * i}k{i}:\n" for i in range(200)),
                                  "a: " + "{b: " * 70 + "1" + "}" * 70])
def test_deep_nesting_is_refused_with_a_message(text: str) -> None:
    error = refused(text)
    assert error.message == "nested deeper than 64 levels" and error.line is not None


def test_the_depth_limit_is_a_parameter() -> None:
    assert safeyaml.loads("[[[1]]]", max_depth=4) == [[[1]]]
    assert refused("[[[[1]]]]", max_depth=4).message == "nested deeper than 4 levels"


def test_a_200_kb_nested_file_fails_cleanly_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """Without the limit this is a RecursionError traceback (the composer recurses per level)."""
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert path.stat().st_size > 200_000 - 10
    code = ("import sys; from router import safeyaml\n"
            "try:\n    safeyaml.load_file(sys.argv[1])\n"
            "except safeyaml.YamlRefused as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "line 1, column 67: nested deeper than 64 levels\n"


def test_bytes_that_are_not_utf8_are_named_by_offset_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: catalog\nservice: {name: caf\u00e9}\n".encode("latin-1"))
    with pytest.raises(YamlRefused) as caught:
        safeyaml.load_file(path)
    assert str(caught.value) == "not UTF-8: byte 0xe9 at offset 33 (line 2); save the file as UTF-8"


def test_a_utf8_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: caf\xc3\xa9\n")
    assert safeyaml.load_file(path) == {"name": "café"}


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * 100_001)  # 1,000,010 bytes of comments: valid YAML, but too big
    with pytest.raises(YamlRefused) as caught:
        safeyaml.load_file(path)
    assert str(caught.value) == "larger than 1,000,000 bytes; a config file this big is a mistake"
    path.write_text("# padding\n" * 99_999)
    assert safeyaml.load_file(path) is None


def test_control_characters_are_refused_with_the_line() -> None:
    assert str(refused("a: 1\nb: x\x00y\n")) == ("line 2: character #x0000 is not allowed in YAML "
                                                "(control characters are not)")


def test_syntax_errors_name_line_and_column() -> None:
    assert str(refused("name: x\nsteps: [\n  - provision\n")) == (
        "line 3, column 3: not valid YAML: expected the node content, but found '-' (while parsing a flow node)")


def test_a_second_document_is_refused() -> None:
    assert refused("a: 1\n---\nb: 2\n").line == 2


def test_python_tags_are_refused_as_by_the_safe_loader() -> None:
    error = refused("a: !!python/object/apply:os.system ['true']\n")
    assert error.line == 1 and "could not determine a constructor" in error.message


@pytest.mark.parametrize(("text", "message"), [
    ("", "the file is empty; expected a mapping at the top"),
    ("# only a comment\n", "the file is empty; expected a mapping at the top"),
    ("- a\n- b\n", "expected a mapping at the top, got a list"),
    ("just text\n", "expected a mapping at the top, got str 'just text'"),
])
def test_load_mapping_refuses_other_top_levels(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "top.yaml"
    path.write_text(text)
    with pytest.raises(YamlRefused) as caught:
        safeyaml.load_mapping(path)
    assert str(caught.value) == message


def test_an_unreadable_file_is_a_refusal_too(tmp_path: Path) -> None:
    with pytest.raises(YamlRefused) as caught:
        safeyaml.load_file(tmp_path / "missing.yaml")
    assert str(caught.value) == "cannot read: No such file or directory"
    with pytest.raises(YamlRefused) as caught:
        safeyaml.load_file(tmp_path)
    assert str(caught.value) == "cannot read: Is a directory"


def test_the_module_stands_alone() -> None:
    """Both the router and the toolkit use it: it may import neither (nor anything else of the project)."""
    source = (ROOT / "router" / "safeyaml.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from __future__ import annotations", "from pathlib import Path", "from typing import Any",
                       "import yaml", "from yaml.nodes import MappingNode, ScalarNode"]
