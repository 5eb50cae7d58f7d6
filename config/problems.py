"""What `hoso check-config` finds: problems (errors and warnings), each naming the key and where
it was set, and the report of a whole file (`config.check`, `config.check_values`,
`config.check_station`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.loader import ConfigError


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    severity: Severity
    where: str  # the file, or "environment HOSO_..."
    key: str  # "modems[1].port"; empty for the file as a whole
    text: str  # the sentence, starting with the key when there is one

    def line(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{self.where}: {prefix}{self.text}"


@dataclass(frozen=True, slots=True)
class CheckReport:
    source: str
    problems: tuple[ConfigProblem, ...]
    summary: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)

    def errors(self) -> list[ConfigProblem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def warnings(self) -> list[ConfigProblem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]


def without_source(message: str, source: str) -> str:
    return message.removeprefix(f"{source}: ")


def error_at(where: str, key: str, text: str) -> ConfigProblem:
    return ConfigProblem(Severity.ERROR, where, key, text)


def warning_at(where: str, key: str, text: str) -> ConfigProblem:
    return ConfigProblem(Severity.WARNING, where, key, text)


def loader_problem(exc: ConfigError, where: str, key: str) -> ConfigProblem:
    return error_at(where, key, without_source(str(exc), where))
