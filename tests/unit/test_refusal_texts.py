"""A refusal's text: English as written for the API, in the catalogue's language for the back office;
every text a service refuses with is marked for the catalogues, none formatted beforehand."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from ticketflow.lib.errors import ConflictError, EventNotFound, Phrase, RuleViolation, refusal_text
from ticketflow.lib.i18n import N_

SOURCE = Path(__file__).resolve().parents[2] / "src" / "ticketflow"


def test_the_api_text_is_the_english_one_with_its_values() -> None:
    refused = ConflictError(
        N_("this ticket type is still named by %(names)s: take it off them first"),
        values={
            "names": [
                Phrase(N_("gate %(name)s"), {"name": "Norte"}),
                Phrase(N_("voucher %(code)s"), {"code": "V1"}),
            ]
        },
        gates=[{"id": 3, "name": "Norte"}],
    )
    assert (
        refused.detail == "this ticket type is still named by gate Norte, voucher V1: take it off them first"
    )
    assert str(refused) == refused.detail
    assert refused.extra == {"gates": [{"id": 3, "name": "Norte"}]}  # the values are not the API's extra
    assert refusal_text(refused, "en") == refused.detail
    assert refusal_text(refused, "es") == (
        "este tipo de entrada aún figura en la puerta Norte, el vale V1: quítalo de ahí primero"
    )


def test_a_class_default_and_an_untranslated_text() -> None:
    assert refusal_text(EventNotFound(), "es") == "evento no encontrado"
    assert EventNotFound().detail == "event not found"
    assert refusal_text(RuleViolation("no catalogue has this"), "es") == "no catalogue has this"
    assert refusal_text(ValueError("name: Campo obligatorio."), "es") == "name: Campo obligatorio."


def test_a_value_is_never_read_as_a_placeholder() -> None:
    refused = RuleViolation(
        N_("%(field)s must be a date before the year %(year)s"), values={"field": "%(x)s", "year": 10000}
    )
    assert refused.detail == "%(x)s must be a date before the year 10000"
    assert refusal_text(refused, "es") == "%(x)s debe ser una fecha anterior al año 10000"


@functools.cache
def domain_error_names() -> frozenset[str]:
    """Every class in src/ that derives, by name, from a DomainError family."""
    families = {"DomainError"}
    classes = []
    for module in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ClassDef):
                classes.append((node.name, [b.id for b in node.bases if isinstance(b, ast.Name)]))
    grew = True
    while grew:
        grew = False
        for name, bases in classes:
            if name not in families and families.intersection(bases):
                families.add(name)
                grew = True
    return frozenset(families)


@pytest.mark.parametrize(
    "module",
    sorted(
        str(path.relative_to(SOURCE)) for path in [*SOURCE.glob("domain/*/*.py"), *SOURCE.glob("lib/*.py")]
    ),
)
def test_refusals_are_marked_where_they_are_written(module: str) -> None:
    """`raise SomeRefusal("text")` or an f-string would reach the back office in English only."""
    refusals = domain_error_names()
    unmarked = []
    for node in ast.walk(ast.parse((SOURCE / module).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in refusals:
            marked = any(isinstance(a, ast.Call) and getattr(a.func, "id", "") == "N_" for a in node.args)
            written = [a for a in node.args if isinstance(a, ast.Constant | ast.JoinedStr)]
            if written and not marked:
                unmarked.append(node.lineno)
        if isinstance(node, ast.ClassDef) and node.name in refusals:
            for item in node.body:
                if (
                    isinstance(item, ast.Assign | ast.AnnAssign)
                    and isinstance(
                        target := item.targets[0] if isinstance(item, ast.Assign) else item.target, ast.Name
                    )
                    and target.id == "detail"
                    and isinstance(item.value, ast.Constant)
                ):
                    unmarked.append(item.lineno)
    assert not unmarked, f"{module}: mark these refusal texts with N_ (lines {unmarked})"
