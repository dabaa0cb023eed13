"""Analysis text in the reader's language: finding messages, evidence descriptions, chain steps,
blind-spot details and SMS-trigger reasons, which the analysis writes in English.

Each shape of sentence the analysis writes is a template here, with its parameters: code (class
and method names, descriptors, permissions, URIs) stays as it is and is shown as code, numbers
stay numbers, nested steps are translated in turn. A sentence no template matches is shown
as it is, inside a ``<code>`` element marked ``lang="en"`` (the reader sees it is the analysis's
own text, not prose of the report). English reports show every text unchanged.

Templates are data (``phrases.toml``); the test suite renders every fixture in zh-CN and lists the
sentences that fell back, so a new shape of message is noticed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from markupsafe import Markup, escape

from apkaudit.cache import cached_toml


@cache
def phrases(lang: str) -> tuple[tuple[str, str], ...]:
    """(pattern, template) pairs of a language (``phrases.toml``), in file order."""
    text = files(__package__).joinpath("phrases.toml").read_text(encoding="utf-8")
    return tuple((p["pattern"], p[lang]) for p in cached_toml(text)["phrase"] if lang in p)


ENTRIES_ZH = {
    "a broadcast receiver": "广播接收器",
    "a background service": "后台服务",
    "the app's start-up": "应用启动时",
    "a content provider": "内容提供者",
    "a screen opening": "打开界面时",
    "the platform": "系统",
}
NOUNS_ZH = {
    "the contact list": "通讯录",
    "SMS messages": "短信",
    "the call log": "通话记录",
    "data from the network": "网络数据",
    "a server": "服务器",
    "local data": "本地数据",
}
PROVIDERS_ZH = {
    "contacts": "通讯录",
    "sms": "短信",
    "SMS": "短信",
    "call-log": "通话记录",
    "calendar": "日历",
}
ROLES_ZH = {"source": "来源", "transform": "变换", "call": "调用", "sink": "去向"}
LOOPS_ZH = {
    "cursor": "（在对查询结果的循环中）",
    "iterator": "（在对列表的循环中）",
    "index": "（在按下标的循环中）",
    "json_array": "（在对 JSON 数组的循环中）",
}


class Translator:
    """``say(text)``: the text in the reader's language, as markup (every part escaped)."""

    def __init__(self, phrases: Sequence[tuple[str, str]]) -> None:
        self._phrases = tuple((re.compile(p + r"\Z"), zh) for p, zh in phrases)
        self.missed: set[str] = set()

    def __call__(self, text: object) -> Markup:
        s = str(text)
        clauses = s.split("; ")
        done = [self._one(c) for c in clauses]
        if all(d is not None for d in done):
            return Markup("；").join(d for d in done if d is not None)
        whole = self._one(s)
        if whole is not None:
            return whole
        self.missed.add(s)
        return Markup('<code class="untranslated" lang="en">{}</code>').format(s)

    def loop(self, text: object) -> Markup:
        """What drives a loop ("a cursor over the contact list, an index bounded by ...")."""
        s = str(text)
        parts = [self._one(x) for x in s.split(", ")]
        if all(x is not None for x in parts):
            return Markup("、").join(x for x in parts if x is not None)
        return self(s)

    def _one(self, text: str) -> Markup | None:
        for pattern, template in self._phrases:
            m = pattern.match(text)
            if m is None:
                continue
            values = {}
            for name, value in m.groupdict().items():
                part = self._part(name, value)
                if part is None:
                    break
                values[name] = part
            else:
                return escape(template).format(**values)
        return None

    def _part(self, name: str, value: str | None) -> Markup | None:
        if value is None:
            return Markup("")
        kind = name[:2]
        if kind == "c_":
            return Markup("<code>{}</code>").format(value)
        if kind == "n_":
            return Markup(escape(value))
        if kind == "p_":
            return Markup(escape(PROVIDERS_ZH.get(value, value)))
        if kind == "r_":
            return Markup(escape(ROLES_ZH.get(value, value)))
        if kind == "h_":
            return self._one(value)
        if kind == "s_":
            steps = [self._one(h) for h in value.split(" → ")]
            if any(x is None for x in steps):
                return None
            return Markup(" → ").join(x for x in steps if x is not None)
        if kind == "o_":
            nouns = [NOUNS_ZH.get(x) for x in value.split(" and ")]
            if any(x is None for x in nouns):
                return None
            return Markup(escape("和".join(x for x in nouns if x)))
        if kind == "w_":
            word = ENTRIES_ZH.get(value)
            return Markup(escape(word)) if word else None
        if kind == "l_":
            word = LOOPS_ZH.get(value)
            return (
                Markup(escape(word))
                if word
                else Markup("（在由{}驱动的循环中）").format(self.loop(value))
            )
        if name == "x_r":
            return Markup("反射调用 ")
        return Markup(escape(value))


class Same:
    """English: every text as it is (escaped)."""

    def __call__(self, text: object) -> Markup:
        return Markup(escape(str(text)))

    def loop(self, text: object) -> Markup:
        return self(text)


@cache
def _zh() -> Translator:
    return Translator(phrases("zh-CN"))


def translator(lang: str) -> Translator | Same:
    """The ``say`` function of a report language (English: the text as it is)."""
    return _zh() if lang == "zh-CN" else Same()
