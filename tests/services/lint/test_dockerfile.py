"""Pure tier: the Dockerfile parser (services/lint/dockerfile.py): continuations, heredocs, directives, exec and
shell forms."""

from __future__ import annotations

from pathlib import Path

from deployer.services.lint import parse_dockerfile
from tests.services.lint.samples import write_dockerfile


def test_the_parser_reads_continuations_heredocs_directives_and_forms(tmp_path: Path) -> None:
    text = """\
# escape=`
ARG TAG=3.12-slim
ARG REGISTRY
FROM python:${TAG} AS base
RUN echo one `
    # a comment inside a continuation is dropped
    two
RUN <<EOF
pip install -r requirements.txt
echo done
EOF
COPY ["a b.txt", "/app/"]
FROM base
CMD ["python", "-V"]
ENTRYPOINT exec python
FROM ${REGISTRY}/tools:1
FROM ${UNDECLARED}/tools:1
"""
    parsed = parse_dockerfile(write_dockerfile(tmp_path, text))
    # A declared ARG without a value is empty, as Docker expands it; an undeclared one is unknown ("").
    assert [s.image for s in parsed.stages] == ["python:3.12-slim", "base", "/tools:1", ""]
    assert [s.name for s in parsed.stages] == ["base", None, None, None]
    first = parsed.stages[0].instructions
    assert (first[0].keyword, first[0].text, first[0].line, first[0].end_line) == ("RUN", "echo one two", 5, 7)
    assert first[1].keyword == "RUN"
    assert first[1].line == 8
    assert first[1].end_line == 11
    assert "pip install -r requirements.txt" in first[1].body()
    assert first[2].exec_form() == ["a b.txt", "/app/"]
    second = parsed.stages[1].instructions
    assert second[0].exec_form() == ["python", "-V"]
    assert second[1].exec_form() is None
    assert parsed.lineage(parsed.stages[1]) == [parsed.stages[1], parsed.stages[0]]
