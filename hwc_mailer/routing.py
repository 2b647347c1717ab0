"""Which school gets which child: exact code or exact name, never a guess.

A wrong school is a data breach, so every doubt becomes Unroutable and a person
decides. Siblings at different schools give one Delivery per school, in the
order the schools first appear in the signal.
"""

from dataclasses import dataclass

from .rules import SCHOOL_CODE, Rules, School, normalise_code
from .signal import Child, Signal


@dataclass(frozen=True)
class Delivery:
    school: School
    children: tuple[Child, ...]


@dataclass(frozen=True)
class Unroutable:
    reason: str          # no-school | unknown-school | ambiguous-school
    child_number: int    # 1-based position in the signal


def find_school(written: str, rules: Rules) -> School | Unroutable:
    """The one school a signal's `School:` value names, or why there is none (child_number 0)."""
    code = normalise_code(written)
    if SCHOOL_CODE.match(code):
        school = rules.school_by_code(code)
        if school is not None:
            return school
        return Unroutable("ambiguous-school" if _near_miss(code, rules) else "unknown-school", 0)
    school = rules.school_by_name(written)
    return school if school is not None else Unroutable("unknown-school", 0)


def _near_miss(code: str, rules: Rules) -> bool:
    """A bare BRIN with locations in the rules, or a location of a BRIN the rules know only as a whole."""
    if len(code) == 4:
        return bool(rules.schools_of_brin(code))
    return rules.school_by_code(code[:4]) is not None


def route(signal: Signal, rules: Rules) -> tuple[Delivery, ...] | Unroutable:
    by_code: dict[str, list[Child]] = {}
    schools: dict[str, School] = {}
    for number, child in enumerate(signal.children, start=1):
        if not child.school:
            return Unroutable("no-school", number)
        found = find_school(child.school, rules)
        if isinstance(found, Unroutable):
            return Unroutable(found.reason, number)
        schools.setdefault(found.code, found)
        by_code.setdefault(found.code, []).append(child)
    return tuple(Delivery(schools[code], tuple(children)) for code, children in by_code.items())
