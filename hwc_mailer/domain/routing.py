"""Which school gets which child: exact code or exact name, never a guess.

A wrong school is a data breach, so every doubt becomes a held outcome and a person
decides. Siblings at different schools give one Delivery per school, in the order the
schools first appear in the signal. The rules reach this module only through the
`Directory` Protocol, so routing stays pure and knows nothing of YAML.

`Gemeente:` is where the child lives (Leerplicht works by residence): it must lie in
the sub-region, and a school found by its name alone must lie in that municipality or
serve it, since a school of the same name may stand elsewhere.
"""

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from .outcomes import Held
from .reasons import Reason
from .signal import Child, Signal
from .text import SCHOOL_CODE, normalise_code


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


def route(signal: Signal, directory: Directory[SchoolT]) -> tuple[Delivery[SchoolT], ...] | Held:
    by_code: dict[str, list[Child]] = {}
    schools: dict[str, SchoolT] = {}
    for number, child in enumerate(signal.children, start=1):
        if child.municipality and not directory.in_region(child.municipality):
            return Held(Reason.OTHER_REGION, child=number)
        if not child.school:
            return Held(Reason.NO_SCHOOL, child=number)
        found = find_school(child.school, directory)
        if isinstance(found, Reason):
            return Held(found, child=number)
        named = SCHOOL_CODE.match(normalise_code(child.school)) is None
        if child.municipality and named and not found.serves_municipality(child.municipality):
            return Held(Reason.MUNICIPALITY_MISMATCH, child=number)
        schools.setdefault(found.code, found)
        by_code.setdefault(found.code, []).append(child)
    return tuple(Delivery(schools[code], tuple(children)) for code, children in by_code.items())
