"""Ignore rules: known, accepted drift that should not raise an alarm — counted, shown, never dropped.

The rules file (JSON, in the report bucket at ``IGNORE_RULES_KEY``; ``damdrift check --ignore-file``
locally)::

    {"version": 1, "rules": [
      {"recordType": "RENDITION", "comment": "renditions are regenerated on the subscriber"},
      {"recordType": "MEDIA_ITEM", "recordAction": "UPDATE", "recordId": "tmp-*",
       "expires": "2026-12-31", "comment": "migration, ticket DAM-123"},
      {"subscriberId": "8c72ef60-*", "recordType": "COLLECTION", "recordAction": "CREATE",
       "recordIds": ["4f1c...", "9a0e..."], "comment": "baseline of run manual-2026..."}]}

``recordType``, ``recordAction``, ``recordId``, ``subscriberId`` and ``publisher`` are glob patterns
(``*``, ``?``, ``[...]``; case-sensitive; absent = any); ``recordIds`` is a list of exact ids (what a
baseline writes: a set look-up, however long). A rule must name a record type, action or id, so that
no rule ignores everything by accident. ``expires`` (a date: through that day, UTC; or a timestamp)
retires a rule: an expired rule is reported in the summary and the notice, and no longer applied.
The check reads its rules once, before the download (:func:`load_ignore_rules`), and matches them while
the report is written.

A record is ignored when any active rule matches it; a check is DRIFT only if records remain that no
rule ignores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import translate
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from damdrift.errors import ReportStorageError
from damdrift.models.summary import ExpiredRule, IgnoreSummary
from damdrift.observability import logger
from damdrift.settings.report import DEFAULT_RULES_KEY as DEFAULT_RULES_KEY  # noqa: PLC0414 - re-exported

if TYPE_CHECKING:
    from damdrift.settings import ReportSettings
    from damdrift.store import ReportStore

_MAX_PATTERN = 1024
_EXPIRED_SHOWN = 50


_MAX_PROBLEMS = 20


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    if "expires" in loc:  # one problem, not one per member of the date | datetime union
        loc = loc[: loc.index("expires") + 1]
        message = "expected a date YYYY-MM-DD (the last day it applies) or a time like 2026-12-31T18:00:00Z"
    where = ".".join(str(part) for part in loc) or "file"
    return f"{where}: {message.removeprefix('Value error, ')}"


class IgnoreRulesError(ValueError):
    """The rules file is not valid; the message says where."""


class IgnoreRule(BaseModel):
    """One rule. Unknown fields are errors: a misspelt ``recordTyp`` must not widen a rule."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    record_type: str | None = Field(None, max_length=_MAX_PATTERN)
    record_action: str | None = Field(None, max_length=_MAX_PATTERN)
    record_id: str | None = Field(None, max_length=_MAX_PATTERN)
    record_ids: tuple[str, ...] | None = None
    subscriber_id: str | None = Field(None, max_length=_MAX_PATTERN)
    publisher: str | None = Field(None, max_length=_MAX_PATTERN)
    expires: date | datetime | None = None
    comment: str | None = Field(None, max_length=2000)

    @field_validator("expires")
    @classmethod
    def _utc(cls, value: date | datetime | None) -> date | datetime | None:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    @model_validator(mode="after")
    def _narrow(self) -> IgnoreRule:
        named = (self.record_type, self.record_action, self.record_id, self.record_ids)
        if all(value is None for value in named):
            raise ValueError("name at least one of recordType, recordAction, recordId, recordIds")
        if self.record_id is not None and self.record_ids is not None:
            raise ValueError("use recordId (a pattern) or recordIds (exact ids), not both")
        return self

    def expires_at(self) -> datetime | None:
        """The first instant the rule no longer applies (a date covers that whole UTC day)."""
        if self.expires is None or isinstance(self.expires, datetime):
            return self.expires
        return datetime.combine(self.expires + timedelta(days=1), time(), tzinfo=UTC)

    def expired(self, now: datetime) -> bool:
        end = self.expires_at()
        return end is not None and now >= end

    def describe(self) -> str:
        """A one-line description, e.g. ``MEDIA_ITEM UPDATE tmp-*``, for reports."""
        ids = f"{len(self.record_ids)} ids" if self.record_ids is not None else self.record_id or "*"
        scope = f" on {self.subscriber_id}" if self.subscriber_id else ""
        return f"{self.record_type or '*'} {self.record_action or '*'} {ids}{scope}"


class IgnoreRules(BaseModel):
    """A rules file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    rules: list[IgnoreRule] = Field(default_factory=list)

    @classmethod
    def parse(cls, text: str | bytes) -> IgnoreRules:
        """Parse a rules file; :class:`IgnoreRulesError` names every problem (``rules.3.expires: ...``), so
        a file with several mistakes is fixed in one go."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            problems = list(dict.fromkeys(_problem(error["loc"], error["msg"]) for error in errors))
            more = f"; and {len(problems) - _MAX_PROBLEMS} more" if len(problems) > _MAX_PROBLEMS else ""
            count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
            shown = "; ".join(problems[:_MAX_PROBLEMS])
            raise IgnoreRulesError(f"invalid ignore rules ({count}): {shown}{more}") from None

    def dumps(self) -> str:
        return json.dumps(
            self.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2, ensure_ascii=False
        )

    def strangers(self, publisher: str, subscriber_ids: list[str]) -> list[str]:
        """Rules scoped to a publisher or subscriber this check does not have, described: a rule that
        names ``dx.example.com_443`` or a deregistered subscriber silently ignores nothing."""
        found = []
        for index, rule in enumerate(self.rules):
            if not _glob(rule.publisher)(publisher):
                found.append(
                    f"rules.{index} names publisher {rule.publisher!r}; this check's is {publisher!r}"
                )
            elif rule.subscriber_id is not None and not any(map(_glob(rule.subscriber_id), subscriber_ids)):
                found.append(
                    f"rules.{index} names subscriber {rule.subscriber_id!r}, which is not registered"
                )
        return found

    def matcher(self, publisher: str, subscriber_id: str, now: datetime) -> IgnoreMatcher:
        """The rules that apply to one subscriber's check at ``now``, ready to match records."""
        active: list[tuple[int, IgnoreRule]] = []
        expired: list[tuple[int, IgnoreRule]] = []
        for index, rule in enumerate(self.rules):
            if not (_glob(rule.publisher)(publisher) and _glob(rule.subscriber_id)(subscriber_id)):
                continue
            (expired if rule.expired(now) else active).append((index, rule))
        return IgnoreMatcher(active, expired)


@dataclass
class _PairRules:
    """The active rules that can match one (type, action) pair, split by how they test the id."""

    any_id: int | None = None  # the first rule matching every id of the pair
    exact: dict[str, int] = field(default_factory=dict)  # id -> first rule listing it
    patterns: list[tuple[Callable[[str], object], int]] = field(default_factory=list)


class IgnoreMatcher:
    """Answers "is this record ignored, and by which rule?" — cheaply, once per record.

    Rules are resolved per distinct (type, action) pair on first sight, so a record costs a dict
    look-up, plus one regex per id pattern of its pair.
    """

    def __init__(self, active: list[tuple[int, IgnoreRule]], expired: list[tuple[int, IgnoreRule]]) -> None:
        self.active = active
        self.expired = expired
        self._pairs: dict[tuple[str, str], _PairRules | None] = {}

    def __bool__(self) -> bool:
        return bool(self.active)

    def match(self, record_type: str, record_action: str, record_id: object) -> int | None:
        """The index (in the rules file) of the first rule ignoring the record, or None."""
        rules = self._pairs.get((record_type, record_action), _UNRESOLVED)
        if rules is _UNRESOLVED:
            rules = self._pairs[record_type, record_action] = self._resolve(record_type, record_action)
        if rules is None:
            return None
        found = rules.any_id
        if isinstance(record_id, str):
            exact = rules.exact.get(record_id)
            if exact is not None and (found is None or exact < found):
                found = exact
            for test, index in rules.patterns:
                if found is not None and index > found:
                    break  # patterns are in file order: none later can be the first match
                if test(record_id):
                    found = index
                    break
        return found

    def _resolve(self, record_type: str, record_action: str) -> _PairRules | None:
        rules = _PairRules()
        for index, rule in self.active:
            if not (_glob(rule.record_type)(record_type) and _glob(rule.record_action)(record_action)):
                continue
            if rule.record_ids is not None:
                for record_id in rule.record_ids:
                    rules.exact.setdefault(record_id, index)
            elif rule.record_id is None or rule.record_id == "*":
                if rules.any_id is None:
                    rules.any_id = index
            else:
                rules.patterns.append((_glob(rule.record_id), index))
        if rules.any_id is None and not rules.exact and not rules.patterns:
            return None
        return rules


_UNRESOLVED = _PairRules()
_ANY: Callable[[str], bool] = lambda _value: True  # noqa: E731


def _glob(pattern: str | None) -> Callable[[str], object]:
    """A test for ``pattern`` (fnmatch syntax, case-sensitive); absent or ``*`` matches anything."""
    if pattern is None or pattern == "*":
        return _ANY
    if not any(char in pattern for char in "*?["):
        return pattern.__eq__
    return re.compile(translate(pattern), re.DOTALL).match


def load_rules(text: str | bytes | None) -> IgnoreRules:
    """The rules in ``text``; no file means no rules."""
    return IgnoreRules() if text is None else IgnoreRules.parse(text)


# -- the check's rules -------------------------------------------------------------------------------------


class RuleHits(Protocol):
    """What counted the rules' matches while the report was written (a RecordTracker)."""

    hits: dict[int, int]


@dataclass
class IgnoreSetup:
    """The check's ignore rules, ready to match, and what the summary says about them."""

    matcher: IgnoreMatcher | None = None
    summary: IgnoreSummary | None = None

    def summary_with(self, tracker: RuleHits | None) -> IgnoreSummary | None:
        if self.summary is None:
            return None
        hits = {str(index): n for index, n in sorted((tracker.hits if tracker else {}).items())}
        return self.summary.model_copy(update={"hits": hits})


def load_ignore_rules(
    store: ReportStore, settings: ReportSettings, publisher: str, subscriber_id: str, now: datetime
) -> IgnoreSetup:
    """The rules at ``IGNORE_RULES_KEY`` for this subscriber. No file: no rules. A file that cannot be
    read or parsed: no rules either — nothing is hidden by a broken file — and the summary says why."""
    key = settings.ignore_rules_key
    try:
        rules = load_rules(store.get_bytes(key))
    except (ReportStorageError, IgnoreRulesError) as exc:
        logger.error("ignore rules not applied", extra={"key": key, "error": str(exc)})
        return IgnoreSetup(None, IgnoreSummary(rules_key=key, error=str(exc)))
    if not rules.rules:
        return IgnoreSetup()
    matcher = rules.matcher(publisher, subscriber_id, now)
    expired = [
        ExpiredRule(index=index, rule=rule.describe(), expires=str(rule.expires), comment=rule.comment)
        for index, rule in matcher.expired[:_EXPIRED_SHOWN]
    ]
    return IgnoreSetup(matcher, IgnoreSummary(rules_key=key, active=len(matcher.active), expired=expired))
