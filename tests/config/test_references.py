"""Pure tier: ``${services.X.url}`` references and ``depends_on``: parsing, substitution, the graph, its order, and
the loader refusing a bad graph with exit 2 before anything is sent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deployer.config import load_config
from deployer.config.references import Reference, Target, dependencies, references_in, substitute, waves
from deployer.errors import BadInput, ExitCode


def test_references_are_parsed_and_literal_dollars_kept() -> None:
    text = "${services.generate.url}/v1?p=${project}&r=${region}&j=${jobs.etl.name}&ip=${vms.box.ip}&lit=$${x}"
    assert references_in(text) == [
        Reference("services", "generate", "url"),
        Reference(None, "", "project"),
        Reference(None, "", "region"),
        Reference("jobs", "etl", "name"),
        Reference("vms", "box", "ip"),
    ]
    values = {"url": "https://g.run.app", "project": "p", "region": "r", "name": "etl", "ip": "10.0.0.2"}
    assert substitute(text, lambda ref: values[ref.attribute]) == (
        "https://g.run.app/v1?p=p&r=r&j=etl&ip=10.0.0.2&lit=${x}"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${services.a}", "is not a reference deployer knows"),
        ("${jobs.etl.url}", "a target in [jobs] has name, not url"),
        ("${vms.box.url}", "has ip or name, not url"),
        ("${secrets.k.value}", "is not a reference"),
        ("${}", "is not a reference"),
    ],
)
def test_malformed_references_say_what_is_allowed(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        references_in(text)


def _pipeline() -> list[Target]:
    return [
        Target("services", "gateway", {"env.NEXT": "${services.generate.url}"}),
        Target("services", "generate", {"env.NEXT": "${services.transcribe.url}"}),
        Target("services", "transcribe", {}),
        Target("jobs", "report", {}, depends_on=("gateway",)),
        Target("services", "lone", {"env.P": "${project}"}),
    ]


def test_the_graph_orders_a_pipeline_into_waves() -> None:
    needs = dependencies(_pipeline())
    assert (needs["gateway"], needs["report"], needs["lone"]) == ({"generate"}, {"gateway"}, set())
    assert waves(needs, needs) == [["lone", "transcribe"], ["generate"], ["gateway"], ["report"]]
    # A dependency that is not chosen is taken as deployed already: it does not hold the chosen ones back.
    assert waves(needs, ["gateway", "report"]) == [["gateway"], ["report"]]


def test_a_cycle_unknown_or_wrong_kind_reference_is_named() -> None:
    targets = [
        Target("services", "a", {"env.X": "${services.b.url}", "env.Y": "${jobs.b.name}"}),
        Target("services", "b", {}, depends_on=("a", "ghost")),
    ]
    with pytest.raises(ValueError, match="names no") as caught:
        dependencies(targets)
    lines = str(caught.value).splitlines()
    assert "services.a.env.Y: ${jobs.b.name} names no [jobs.b] in the file (it is in [services])" in lines
    assert "services.b.depends_on: 'ghost' is not a target in the file" in lines
    with pytest.raises(ValueError, match=r"in a circle: a -> b -> a"):
        dependencies([Target("services", "a", {}, ("b",)), Target("services", "b", {"args[0]": "${services.a.url}"})])


def test_the_loader_refuses_a_circle_with_exit_2(project: Path) -> None:
    (project / "deployer.toml").write_text(
        '[services.gateway]\nenv = { NEXT = "${services.generate.url}" }\n'
        '[services.generate]\nargs = ["--next", "${services.gateway.url}"]\n',
        encoding="utf-8",
    )
    with pytest.raises(BadInput) as caught:
        load_config(project)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.message == (
        "deployer.toml: the targets depend on each other in a circle: gateway -> generate -> gateway"
    )


def test_the_loader_accepts_a_wired_pipeline(project: Path) -> None:
    (project / "deployer.toml").write_text(
        '[services.gateway]\nenv = { NEXT_URL = "${services.generate.url}" }\n'
        "[services.generate]\n"
        '[jobs.report]\ndepends_on = ["gateway"]\nenv = { GW = "${services.gateway.url}", P = "${project}" }\n',
        encoding="utf-8",
    )
    config = load_config(project)
    assert config.jobs["report"].depends_on == ("gateway",)
    assert config.services["gateway"].env["NEXT_URL"] == "${services.generate.url}"
