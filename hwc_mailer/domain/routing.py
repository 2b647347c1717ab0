"""Which school gets which child: exact code or exact name, never a guess.

A wrong school is a data breach, so every doubt becomes a held outcome and a person
decides. Siblings at different schools give one Delivery per school, in the order the
schools first appear in the signal. The rules reach this module only through the
`Directory` Protocol, so routing stays pure and knows nothing of YAML.

The school is found the way a Leerplicht officer finds it: in the education register
by name and date of birth, with a `School:` line, when there is one, as a cross-check
that must agree. Without a register the `School:` line alone decides.

`Gemeente:` is where the child lives (Leerplicht works by residence): it must lie in
the sub-region, and a school found by its name alone (no code, no register) must lie
in that municipality or serve it, since a school of the same name may stand elsewhere.
"""

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from .outcomes import Held
from .reasons import Reason
from .register import NO_SCHOOL, Register
from .signal import Child, Signal
from .text import SCHOOL_CODE, normalise_code, normalise_name


class School(Protocol):
    @property
    def code(self) -> str: ...

    def serves_municipality(self, municipality: str) -> bool: ...


SchoolT = TypeVar("SchoolT", bound=School)
SchoolT_co = TypeVar("SchoolT_co", bound=School, covariant=True)


class Directory(Protocol[SchoolT_co]):
    """The schools the rules know, looked up exactly."""

    def school_by_code(self, code: str) -> SchoolT_co | None: ...

    def schools_of_brin(self, brin: str) -> tuple[SchoolT_co, ...]: ...

    def school_by_name(self, name: str) -> SchoolT_co | None: ...

    def in_region(self, municipality: str) -> bool: ...


@dataclass(frozen=True)
class Delivery(Generic[SchoolT]):
    school: SchoolT
    children: tuple[Child, ...]


@dataclass(frozen=True)
class Routed(Generic[SchoolT]):
    deliveries: tuple[Delivery[SchoolT], ...]
    register_gaps: int = 0      # children sent by their School: line whom the register does not know


def find_school(written: str, directory: Directory[SchoolT]) -> SchoolT | Reason:
    """The one school a signal's `School:` value names, or why there is none."""
    code = normalise_code(written)
    if SCHOOL_CODE.match(code):
        school = directory.school_by_code(code)
        if school is not None:
            return school
        return Reason.AMBIGUOUS_SCHOOL if _near_miss(code, directory) else Reason.UNKNOWN_SCHOOL
    school = directory.school_by_name(written)
    return school if school is not None else Reason.UNKNOWN_SCHOOL


def _near_miss(code: str, directory: Directory[SchoolT]) -> bool:
    """A bare BRIN with locations in the rules, or a location of a BRIN the rules know only as a whole."""
    if len(code) == 4:
        return bool(directory.schools_of_brin(code))
    return directory.school_by_code(code[:4]) is not None


def route(signal: Signal, directory: Directory[SchoolT], register: Register | None = None,
          decided: Mapping[int, SchoolT] | None = None) -> Routed[SchoolT] | Held:
    """One delivery per school, or the first child a person must look at. A child an officer `decided` (by their
    1-based number) goes to that school: the officer looked the child up, so neither the signal's School: line, the
    register nor the child's municipality is asked again."""
    by_code: dict[str, list[Child]] = {}
    schools: dict[str, SchoolT] = {}
    gaps = 0
    for number, child in enumerate(signal.children, start=1):
        if decided and number in decided:
            found: tuple[SchoolT, bool] | Held = (decided[number], False)
        elif child.municipality and not directory.in_region(child.municipality):
            return Held(Reason.OTHER_REGION, child=number)
        else:
            found = _school_of(child, number, directory, register)
        if isinstance(found, Held):
            return found
        school, gap = found
        gaps += gap
        schools.setdefault(school.code, school)
        by_code.setdefault(school.code, []).append(child)
    return Routed(tuple(Delivery(schools[code], tuple(children)) for code, children in by_code.items()), gaps)


def _school_of(child: Child, number: int, directory: Directory[SchoolT],
               register: Register | None) -> tuple[SchoolT, bool] | Held:
    """The child's school, and whether it came from a School: line the register does not confirm."""
    listed = register.schools_of(child.name, child.birth_date) if register is not None else None
    named = f"het register noemt {', '.join(sorted(listed))}" if listed else ""
    if not child.school:
        if listed is None:
            return Held(Reason.NO_SCHOOL, child=number)
        if not listed:
            return Held(Reason.NOT_IN_REGISTER, child=number)
        if len(listed) > 1:
            return Held(Reason.AMBIGUOUS_REGISTER, named, child=number)
        (code,) = listed
        if code == NO_SCHOOL:
            return Held(Reason.SCHOOL_NOT_PARTICIPATING, "het register noemt geen school met een BRIN-code",
                        child=number)
        school = _school_for(code, directory)
        if school is None:
            locations = ", ".join(sorted(found.code for found in directory.schools_of_brin(code)))
            if len(code) == 4 and locations:
                return Held(Reason.AMBIGUOUS_REGISTER, f"het register noemt {code} zonder vestiging; de regels "
                                                       f"kennen {locations}", child=number)
            return Held(Reason.SCHOOL_NOT_PARTICIPATING, f"school {code}", child=number)
        return school, False
    written = find_school(child.school, directory)
    if isinstance(written, Reason):
        return Held(written, child=number)
    if listed:
        if not any(_same_school(code, written.code) for code in listed):
            return Held(Reason.REGISTER_MISMATCH, named, child=number)
        return written, False
    by_name = SCHOOL_CODE.match(normalise_code(child.school)) is None
    if child.municipality and by_name and not written.serves_municipality(child.municipality):
        return Held(Reason.MUNICIPALITY_MISMATCH, child=number)
    return written, listed is not None


def _school_for(code: str, directory: Directory[SchoolT]) -> SchoolT | None:
    """The school of the rules a register code names: the location itself, or the whole BRIN when the rules list
    it as a whole. A bare BRIN never picks one of the rules' locations: that would be a guess."""
    school = directory.school_by_code(code)
    if school is not None or len(code) <= 4:
        return school
    return directory.school_by_code(code[:4])


def _same_school(listed: str, written: str) -> bool:
    """A register code and a rules code name the same school when equal or when one is the other's whole BRIN."""
    return listed == written or listed[:4] == written or written[:4] == listed


def suggestions(written: str, schools: Sequence[tuple[str, str, tuple[str, ...]]], limit: int = 3) -> list[str]:
    """Up to `limit` schools (code and name) whose code, name or alias is close to what the signal wrote: shown to
    an officer as a hint, never used to send. `schools` are (code, name, aliases)."""
    wanted_name, wanted_code = normalise_name(written), normalise_code(written)
    scored = []
    for code, name, aliases in schools:
        names = [normalise_name(other) for other in (name, *aliases)]
        score = max([difflib.SequenceMatcher(None, wanted_name, other).ratio() for other in names]
                    + [difflib.SequenceMatcher(None, wanted_code, normalise_code(code)).ratio()]
                    + [0.9 for other in names if len(wanted_name) >= 4 and wanted_name in other])
        if score >= 0.75:
            scored.append((-score, code, name))
    return [f"{code} {name}" for _, code, name in sorted(scored)[:limit]]
