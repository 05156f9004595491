"""Search and passages (the research views): first pages, coding hits, the CSV export.

    .venv/bin/python -m bench.bench_research [--reuse] [--documents 10000]
        [--annotations 1000000] [--repeat 30] [--explain] [--no-sqlite]

Builds the PostgreSQL database `bench_research` (kept for `--reuse`): 10,000 generated
documents of about 20 KB each (English, Russian and Chinese text from a vocabulary, words
drawn by Zipf's law so that common and rare terms exist, lines of 60-120 characters in
paragraphs), indexed for search with `research.index.index_documents`, a project with the
sample codebook, five coders, and 1,000,000 annotations with one or two codes each
(bulk_create). Serves the app with gunicorn on loopback and measures, logged in:

1. the search page's first page for several kinds of query (< 150 ms median);
2. the passages page's first page for combinations of filters (< 100 ms median), then
   (2b) the count that such a page loads after it is shown (reported, no target);
3. coding about 1,000 hits of a search in one request, every hit, confirmed (< 3 s);
4. the passages CSV export of all 1,000,000 passages: rows/s and the worker's peak RSS;
5. then, in a child process, the embedded default (SQLite, `load_sample_data`): every
   research page < 100 ms.

`--explain` prints PostgreSQL's EXPLAIN ANALYZE of the queries behind each page.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np

from bench import common

DATABASE = "bench_research"
#: The phrase planted in English documents for the coding target: PLANTED_DOCUMENTS
#: documents, PLANTED_PER_DOCUMENT times each.
PLANTED = ("rendition", "flights")
PLANTED_DOCUMENTS = 250
PLANTED_PER_DOCUMENT = 4
CODERS = ("coder1", "coder2", "coder3", "coder4", "coder5")
CODER_WEIGHTS = (40, 25, 15, 12, 8)

# ---------------------------------------------------------------------------------------
# The vocabulary


def _words(text: str) -> list[str]:
    return text.split()


ORGANISATIONS = (
    "Human Rights Watch",
    "Amnesty International",
    "SCO Secretariat",
    "SCO RATS",
    "FIDH",
    "Human Rights in China",
    "UN Human Rights Committee",
    "UN Committee against Torture",
    "UN Special Rapporteur on counter-terrorism",
    "OSCE ODIHR",
    "Council of Europe",
    "European Parliament",
    "US Department of State",
    "US Mission to the UN",
    "Ministry of Foreign Affairs of China",
    "Ministry of Foreign Affairs of Russia",
    "Kazakhstan Prosecutor General",
    "Kyrgyz Ombudsman",
    "Memorial",
    "Norwegian Helsinki Committee",
    "Freedom House",
    "International Crisis Group",
    "Uyghur Human Rights Project",
    "Radio Free Europe",
    "Xinhua",
    "TASS",
    "The Diplomat",
    "Eurasianet",
    "Central Asian Bureau",
    "Jamestown Foundation",
)

_EN_FUNCTION = _words(
    "the of and to in a is that for on with as by was were be are this which or from at "
    "it not have has been their its an these under shall would could may also such other "
    "all any between against without within into after before during"
)
# Word families whose forms share a Snowball stem ("protected" finds "protection").
_EN_FAMILIES = (
    ("protection", "protect", "protected", "protecting", "protects", "protections"),
    ("extradition", "extradite", "extradited", "extraditing", "extraditions"),
    ("cooperation", "cooperate", "cooperated", "cooperating"),
    ("deportation", "deport", "deported", "deporting", "deportations"),
    ("persecution", "persecute", "persecuted", "persecuting"),
    ("violation", "violate", "violated", "violations", "violating"),
    ("detention", "detentions"),
    ("detain", "detained", "detaining", "detains"),
    ("investigation", "investigate", "investigated", "investigations"),
    ("implementation", "implement", "implemented", "implementing"),
    ("declaration", "declare", "declared", "declarations"),
    ("surveillance",),
    ("torture", "tortured", "torturing"),
    ("terrorism", "terrorist", "terrorists"),
    ("extremism", "extremist", "extremists"),
    ("separatism", "separatist", "separatists"),
)
_EN_NOUNS = _words(
    "security state region border police database request evidence law treaty court "
    "council report government minority freedom expression assembly convention charter "
    "refugee asylum obligation risk return list group person citizen authority agency "
    "ministry official lawyer family prisoner prison camp trial judge charge crime offence "
    "threat document statement summit meeting framework agreement measure mechanism centre "
    "structure committee commission body office network content website account "
    "information record name case incident event year month country nation people "
    "community religion mosque school student teacher worker journalist activist defender "
    "party movement campaign leader union position policy practice standard principle norm "
    "value interest concern issue problem question answer response action step effort plan "
    "programme project system process procedure rule regulation provision article clause "
    "section paragraph text language term definition concept view opinion approach strategy "
    "exercise operation unit force service officer guard station city village province "
    "capital territory neighbour partner ally observer delegation envoy minister president "
    "parliament deputy member election decision resolution vote debate session secretary "
    "budget fund resource training seminar conference forum platform channel message "
    "publication book leaflet video recording broadcast detainee suspect victim witness "
    "relative child woman man colleague employer employee trader farmer"
)
_EN_VERBS = _words(
    "report request return arrest transfer sign adopt monitor charge sentence expel allow "
    "prevent require consider remain continue include provide ensure support call urge "
    "note express recall affect target ban block restrict limit respect establish "
    "strengthen combat counter share exchange list seize search question release hold "
    "accuse convict appeal refuse reject deny confirm claim state describe document visit "
    "meet discuss agree approve publish warn fear flee enter cross leave reach"
)
# Mid-frequency names (the OR query excludes one of them).
_EN_NAMES = _words(
    "Tashkent Bishkek Dushanbe Almaty Astana Urumqi Beijing Moscow Xinjiang Uyghur "
    "Kazakhstan Kyrgyzstan Tajikistan Uzbekistan Russia China India Pakistan"
)
_EN_PHRASES = ("human rights", "member states", "Central Asia", "due process", "rule of law")
#: Real words put at chosen places of the long tail: (word, place in the tail).
_EN_RARE = (("refoulement", 9000), ("Andijan", 3000), ("Shymkent", 15000), ("Khujand", 6000))

_RU_FUNCTION = _words(
    "и в на с по о не что для к от из как это также его их при а но или был были является "
    "между против без"
)
# Nouns by declension: stem, then the endings of nominative, genitive, dative,
# accusative, instrumental, prepositional (and a plural where it is common).
_RU_DECLENSIONS = {
    "a": ("а", "ы", "е", "у", "ой", "е"),
    "a_soft": ("а", "и", "е", "у", "ей", "е"),
    "ia": ("ия", "ии", "ии", "ию", "ией", "ии"),
    "hard": ("", "а", "у", "", "ом", "е", "ы"),
    "ie": ("ие", "ия", "ию", "ие", "ием", "ии", "ия"),
    "o": ("о", "а", "у", "о", "ом", "е"),
    "ost": ("ость", "ости", "ости", "ость", "остью", "ости"),
    "adj": ("ый", "ого", "ому", "ым", "ом", "ая", "ой", "ую", "ое", "ые", "ых"),
}
_RU_STEMS = {
    "a": "угроз борьб защит стран свобод полиц границ работ систем групп",
    "a_soft": "выдач задач практик политик",
    "ia": "организац конвенц комисс декларац информац миграц депортац экстрадиц",
    "hard": "договор терроризм экстремизм сепаратизм закон суд доклад орган режим запрос "
    "совет народ вопрос список",
    "ie": "заявлен соглашен задержан преследован положен решен обвинен",
    "o": "сотрудничеств государств правительств прав дел мест",
    "ost": "безопасн деятельн ответственн возможн законн",
    "adj": "международн государственн правов уголовн религиозн национальн региональн основн",
}
_RU_VERBS = _words(
    "выдать выдают выдал выданы задержать задержан задержали обвиняют обвинили "
    "преследуют требует требуют подписали подписал принять приняли обеспечить обеспечивает "
    "заявил заявили сообщает сообщил"
)
_RU_NAMES = _words("Ташкент Бишкек Душанбе Алматы Астана Урумчи Пекин Москва Синьцзян")

_ZH_FUNCTION = _words("的 了 和 在 是 对 与 等 中 为 将 也 及 并 由 其 这 各 以 于 不 有 被 所")
_ZH_WORDS = _words(
    "上海合作组织 成员国 反恐 恐怖主义 分裂主义 极端主义 三股势力 引渡 条约 引渡条约 人权 合作 "
    "安全 国家 政府 法律 保护 难民 庇护 宗教 自由 少数民族 中亚 地区 边境 警察 监控 数据库 报告 "
    "委员会 公约 打击 问题 发展 经济 社会 国际 组织 会议 决定 实施 措施 机制 加强 维护 稳定 "
    "和平 共同 原则 我们 他们 已经 进行 通过 根据 关于 联合国 宣言 声明 机构 部门 执法 司法 "
    "程序 权利 义务 公民 人员 活动 行为 信息 网络 互联网 内容 控制 审查 拘留 逮捕 遣返 驱逐 "
    "调查 证据 请求 名单 清单 协议 框架 文件 规定 条款 标准 领域 方面 情况 工作 领导人 外交部 "
    "部长 代表 主席 会晤 峰会 北京 莫斯科 塔什干 阿斯塔纳 比什凯克 杜尚别 新疆 乌鲁木齐 维吾尔 "
    "哈萨克斯坦 吉尔吉斯斯坦 塔吉克斯坦 乌兹别克斯坦 俄罗斯 中国 印度 巴基斯坦"
)
_ZH_CHARS = (
    "一二三四五六七八九十人大小中上下左右前后东西南北年月日时分天地山水火木金土国家民族法律"
    "政治经济文化社会安全合作组织会议决定实施措施机制加强维护稳定和平共同原则发展进步开放改革"
    "边境地区城市农村学校医院工厂公司银行市场交通通信网络信息数据技术科学教育卫生环境资源能源"
)
_EN_SYLLABLES = _words(
    "ka lo mer tan vis ro di nu be za ski ov ar el in ost ud re pa qui hal mon tor"
)
_RU_SYLLABLES = _words("ка ло мер тан вис ро ди ну бе жа ск ов ар ель ин ост уд ре па хал мон тор")


def _en_inflections(word: str, verb: bool) -> list[str]:
    if word.endswith(("s", "x", "ch", "sh")):
        plural = word + "es"
    elif word.endswith("y") and word[-2] not in "aeiou":
        plural = word[:-1] + "ies"
    else:
        plural = word + "s"
    forms = [word, plural]
    if verb:
        if word.endswith("e"):
            forms += [word + "d", word[:-1] + "ing"]
        elif word.endswith("y") and word[-2] not in "aeiou":
            forms += [word[:-1] + "ied", word + "ing"]
        else:
            forms += [word + "ed", word + "ing"]
    return forms


def _synthetic(rng: np.random.Generator, syllables: Sequence[str], count: int) -> list[str]:
    made: dict[str, None] = {}
    while len(made) < count:
        parts = rng.integers(0, len(syllables), size=int(rng.integers(2, 5)))
        made["".join(syllables[int(i)] for i in parts)] = None
    return list(made)


class Vocabulary:
    """Words of one language and the chance of each: function words make up
    `function_share` of the text, the others follow Zipf's law (a head of real words in
    their several forms, then a long tail of made-up and rare real words)."""

    def __init__(
        self,
        rng: np.random.Generator,
        function: Sequence[str],
        head: Sequence[str],
        tail: Sequence[str],
        function_share: float,
        tail_share: float,
    ) -> None:
        self.words = np.array([*function, *head, *tail], dtype=object)
        f = np.full(len(function), function_share / len(function))
        h = 1.0 / np.arange(1, len(head) + 1)
        h *= (1 - function_share - tail_share) / h.sum()
        t = 1.0 / (np.arange(1, len(tail) + 1) + 50.0)
        t *= tail_share / t.sum()
        self.cumulative = np.cumsum(np.concatenate([f, h, t]))
        self.cumulative /= self.cumulative[-1]
        self.rng = rng

    def draw(self, count: int) -> list[str]:
        found = np.searchsorted(self.cumulative, self.rng.random(count))
        return list(self.words[found])


def _english(rng: np.random.Generator) -> Vocabulary:
    head: list[str] = list(_EN_PHRASES[:2])
    head += ["security", "protection", "extradition", "state", "government", "report"]
    rest: list[str] = []
    for family in _EN_FAMILIES:
        rest += family
    for noun in _EN_NOUNS:
        rest += _en_inflections(noun, verb=False)
    for verb in _EN_VERBS:
        rest += _en_inflections(verb, verb=True)
    rest += _EN_NAMES[:-1] + list(_EN_PHRASES[2:])
    rest = [word for word in dict.fromkeys(rest) if word not in head]
    order = rng.permutation(len(rest))
    head += [rest[int(i)] for i in order]
    # Tashkent, for the query that excludes it, at a place where about a fifth of the
    # English documents hold it.
    head.insert(620, "Tashkent")
    tail = _synthetic(rng, _EN_SYLLABLES, 20_000)
    for word, place in _EN_RARE:
        tail.insert(place, word)
    return Vocabulary(rng, _EN_FUNCTION, head, tail, function_share=0.42, tail_share=0.12)


def _russian(rng: np.random.Generator) -> Vocabulary:
    rest: list[str] = []
    for kind, stems in _RU_STEMS.items():
        for stem in stems.split():
            rest += [stem + ending for ending in _RU_DECLENSIONS[kind]]
    rest += _RU_VERBS + _RU_NAMES
    rest = list(dict.fromkeys(rest))
    head = [rest[int(i)] for i in rng.permutation(len(rest))]
    # выдача and its cases among the common words.
    for form in ("выдача", "выдачи", "выдаче", "выдачу"):
        head.remove(form)
    head[5:5] = ["выдачи", "выдача", "выдачу"]
    head.insert(40, "выдаче")
    tail = _synthetic(rng, _RU_SYLLABLES, 10_000)
    return Vocabulary(rng, _RU_FUNCTION, head, tail, function_share=0.35, tail_share=0.12)


def _chinese(rng: np.random.Generator) -> Vocabulary:
    head = [_ZH_WORDS[int(i)] for i in rng.permutation(len(_ZH_WORDS))]
    head.remove("引渡条约")
    head.insert(30, "引渡条约")
    chars = list(_ZH_CHARS)
    tail = list(
        dict.fromkeys(
            chars[int(a)] + chars[int(b)] for a, b in rng.integers(0, len(chars), size=(3000, 2))
        )
    )
    return Vocabulary(rng, _ZH_FUNCTION, head, tail, function_share=0.3, tail_share=0.15)


# ---------------------------------------------------------------------------------------
# Texts


class Writer:
    """Document texts: sentences of words from a vocabulary, wrapped into lines of 60-120
    characters, lines grouped into paragraphs of 3-10 lines."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocabularies = {
            "en": _english(self.rng),
            "ru": _russian(self.rng),
            "zh": _chinese(self.rng),
        }

    def text(self, language: str, size: int, planted: int = 0) -> tuple[str, list[int]]:
        """About `size` bytes of UTF-8 in `language`, with PLANTED `planted` times; the
        text and the offsets at which its lines start."""
        rng = self.rng
        per_word = {"en": 8.1, "ru": 14.6, "zh": 6.5}[language]
        words = self.vocabularies[language].draw(int(size / per_word * 1.05) + 50)
        if planted:
            for at in rng.choice(len(words) - 2, size=planted, replace=False):
                words[int(at)] = " ".join(PLANTED)
        lines = self._chinese_lines(words) if language == "zh" else self._lines(words)
        paragraphs: list[str] = []
        starts: list[int] = []
        offset = 0
        at = 0
        while at < len(lines):
            count = int(rng.integers(3, 11))
            group = lines[at : at + count]
            at += count
            for line in group:
                starts.append(offset)
                offset += len(line) + 1
            offset += 1  # the blank line between paragraphs
            paragraphs.append("\n".join(group))
        return "\n\n".join(paragraphs) + "\n", starts

    def _lines(self, words: list[str]) -> list[str]:
        rng = self.rng
        sentence_ends = set(np.cumsum(rng.integers(8, 25, size=len(words) // 8 + 2)).tolist())
        commas = set(np.flatnonzero(rng.random(len(words)) < 0.06).tolist())
        widths = rng.integers(60, 121, size=len(words) // 5 + 2).tolist()
        lines: list[str] = []
        line: list[str] = []
        length = 0
        width = widths[0]
        capital = True
        for i, word in enumerate(words):
            if capital:
                word = word[:1].upper() + word[1:]
                capital = False
            if i + 1 in sentence_ends:
                word += "."
                capital = True
            elif i in commas:
                word += ","
            if length + len(word) + 1 > width and line:
                lines.append(" ".join(line))
                line, length = [], 0
                width = widths[len(lines) % len(widths)]
            line.append(word)
            length += len(word) + 1
        if line:
            lines.append(" ".join(line))
        return lines

    def _chinese_lines(self, words: list[str]) -> list[str]:
        rng = self.rng
        ends = rng.integers(3, 9, size=len(words) // 3 + 2)
        pieces: list[str] = []
        at = 0
        for clause, end in enumerate(ends.tolist(), start=1):
            if at >= len(words):
                break
            pieces.append("".join(words[at : at + end]) + ("。" if clause % 3 == 0 else "，"))
            at += end
        text = "".join(pieces)
        widths = rng.integers(60, 121, size=len(text) // 60 + 2).tolist()
        lines: list[str] = []
        at = 0
        for width in widths:
            if at >= len(text):
                break
            lines.append(text[at : at + width])
            at += width
        return lines


# ---------------------------------------------------------------------------------------
# Seeding


def seed(*, documents: int, annotations: int) -> None:
    """Documents (bulk_create, then the search index), the codebook, the coders and the
    annotations with their codes (bulk_create), then VACUUM ANALYZE."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from documents import sample
    from documents import text as textlib
    from documents.models import DatePrecision, Document, DocumentType, Tag
    from projects.models import Membership, Role
    from research.index import index_documents
    from research.models import Chunk

    started = time.perf_counter()
    rng = np.random.default_rng(11)
    writer = Writer(seed=5)
    owner = common.bench_user()
    project = common.bench_project()
    sample.load_codebook(project)
    tags = list(Tag.objects.filter(project=project).order_by("sort_order"))
    coders = []
    for name in CODERS:
        user, _ = User.objects.get_or_create(username=name)
        Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.CODER})
        coders.append(user)

    languages = rng.choice(["en", "ru", "zh"], size=documents, p=[0.6, 0.25, 0.15]).tolist()
    english = [i for i, language in enumerate(languages) if language == "en"]
    planted = set(rng.choice(english, size=min(PLANTED_DOCUMENTS, len(english)), replace=False))
    # Annotations per document: none on a fifth of them, the rest skewed (log-normal).
    weights = rng.lognormal(0, 1.2, size=documents)
    weights[rng.random(documents) < 0.2] = 0
    per_document = rng.multinomial(annotations, weights / weights.sum()).tolist()
    tag_weights = 1.0 / np.arange(1, len(tags) + 1) ** 0.9
    tag_weights /= tag_weights.sum()
    now = datetime.datetime.now(datetime.UTC)
    types = list(DocumentType.values)

    # The search index is filled in bulk without its GIN index, which is made afterwards.
    gin = next(index for index in Chunk._meta.indexes if index.name == "chunk_terms")
    with connection.schema_editor() as editor:
        editor.remove_index(Chunk, gin)

    timings = {"texts": 0.0, "documents": 0.0, "index": 0.0, "annotations": 0.0}
    batch_size = 250
    made = 0
    total_bytes = 0
    for first in range(0, documents, batch_size):
        clock = time.perf_counter()
        batch: list[Document] = []
        line_starts: list[list[int]] = []
        for number in range(first, min(first + batch_size, documents)):
            language = languages[number]
            size = int(rng.integers(14_000, 26_000))
            body, starts = writer.text(
                language, size, PLANTED_PER_DOCUMENT if number in planted else 0
            )
            total_bytes += len(body.encode())
            line_starts.append(starts)
            year = int(rng.integers(1995, 2025))
            precision = rng.choice(
                [DatePrecision.DAY, DatePrecision.MONTH, DatePrecision.YEAR], p=[0.6, 0.25, 0.15]
            )
            month = 1 if precision == DatePrecision.YEAR else int(rng.integers(1, 13))
            day = 1 if precision != DatePrecision.DAY else int(rng.integers(1, 29))
            breaks: list[int] = []
            if rng.random() < 0.03:  # a paged source: a page every ~3,000 code points
                breaks = [starts[i] for i in range(40, len(starts), 40)]
            organisation = ORGANISATIONS[int(rng.zipf(1.6) - 1) % len(ORGANISATIONS)]
            batch.append(
                Document(
                    project=project,
                    title=f"{organisation}: {' '.join(writer.vocabularies['en'].draw(5))} "
                    f"({number})",
                    organisation=organisation,
                    language=language,
                    document_type=types[number % len(types)],
                    published=datetime.date(year, month, day),
                    date_precision=str(precision),
                    text=body,
                    length=len(body),
                    sha256=textlib.text_sha256(body),
                    page_breaks=breaks,
                    imported_by=owner,
                )
            )
        timings["texts"] += time.perf_counter() - clock
        clock = time.perf_counter()
        with transaction.atomic():
            Document.objects.bulk_create(batch, batch_size=250)
        timings["documents"] += time.perf_counter() - clock
        clock = time.perf_counter()
        with transaction.atomic():
            index_documents((document.pk, document.text) for document in batch)
        timings["index"] += time.perf_counter() - clock
        clock = time.perf_counter()
        made += _annotate(
            rng,
            batch,
            line_starts,
            per_document[first : first + batch_size],
            coders,
            tags,
            tag_weights,
            now,
        )
        timings["annotations"] += time.perf_counter() - clock
        if (first // batch_size) % 8 == 7 or first + batch_size >= documents:
            print(
                f"  {first + len(batch):,} documents, {made:,} annotations, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
    clock = time.perf_counter()
    with connection.schema_editor() as editor:
        editor.add_index(Chunk, gin)
    timings["GIN index"] = time.perf_counter() - clock
    clock = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    timings["VACUUM ANALYZE"] = time.perf_counter() - clock
    print(
        f"seeded {documents:,} documents ({total_bytes / 1e6:.0f} MB of UTF-8, "
        f"{Chunk.objects.count():,} chunks) and {made:,} annotations in "
        f"{time.perf_counter() - started:.0f} s: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()),
        flush=True,
    )


def _annotate(
    rng: np.random.Generator,
    documents: Sequence[Any],
    line_starts: Sequence[Sequence[int]],
    counts: Sequence[int],
    coders: Sequence[Any],
    tags: Sequence[Any],
    tag_weights: np.ndarray,
    now: datetime.datetime,
) -> int:
    """`counts[i]` annotations on documents[i]: a stretch of one line (a whole line in a
    third of them, now and then running into the next), by a coder, created in the last
    two years, with one code or (three in ten) two."""
    from django.db import transaction

    from documents import text as textlib
    from documents.models import Annotation

    made: list[Annotation] = []
    two_years = 2 * 365 * 86400
    author_p = np.array(CODER_WEIGHTS) / sum(CODER_WEIGHTS)
    for document, starts, count in zip(documents, line_starts, counts, strict=True):
        if not count:
            continue
        text: str = document.text
        length = len(text)
        lines = rng.integers(0, len(starts), size=count).tolist()
        kinds = rng.random(count).tolist()
        offsets = rng.random(count).tolist()
        sizes = rng.integers(12, 160, size=count).tolist()
        authors = rng.choice(len(coders), size=count, p=author_p).tolist()
        ages = rng.integers(0, two_years, size=count).tolist()
        for line, kind, offset, size, author, age in zip(
            lines, kinds, offsets, sizes, authors, ages, strict=True
        ):
            line_start = starts[line]
            line_end = text.find("\n", line_start)
            line_end = length if line_end == -1 else line_end
            if kind < 0.3:
                start, end = line_start, line_end
            else:
                start = line_start + int(offset * max(1, line_end - line_start - 12))
                space = text.find(" ", start, line_end)
                if start > line_start and space != -1:
                    start = space + 1
                end = min(line_end, start + size)
                if kind > 0.95:  # into the next line
                    next_end = text.find("\n", line_end + 1)
                    end = min(start + size + 60, length if next_end == -1 else next_end)
                elif end < line_end:
                    space = text.rfind(" ", start + 1, end)
                    end = space if space != -1 else end
            if end <= start:
                start, end = line_start, max(line_end, line_start + 1)
            created = now - datetime.timedelta(seconds=age)
            prefix, suffix = textlib.context(text, start, end)
            made.append(
                Annotation(
                    document_id=document.pk,
                    start=start,
                    end=end,
                    quote=text[start:end],
                    prefix=prefix,
                    suffix=suffix,
                    author=coders[author],
                    created=created,
                    updated=created,
                    version=1,
                )
            )
    Link = Annotation.tags.through
    with transaction.atomic():
        Annotation.objects.bulk_create(made, batch_size=2000)
        first = rng.choice(len(tags), size=len(made), p=tag_weights).tolist()
        second = rng.choice(len(tags), size=len(made), p=tag_weights).tolist()
        double = (rng.random(len(made)) < 0.3).tolist()
        links = []
        for annotation, one, other, both in zip(made, first, second, double, strict=True):
            links.append(Link(annotation_id=annotation.pk, tag_id=tags[one].pk))
            if both and other != one:
                links.append(Link(annotation_id=annotation.pk, tag_id=tags[other].pk))
        Link.objects.bulk_create(links, batch_size=5000)
    return len(made)


# ---------------------------------------------------------------------------------------
# Measuring


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


class Results:
    """Rows of (target, label, median ms, p95 ms, what it counted, limit ms), printed as
    they come and as a table at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, float, str, float]] = []

    def add(
        self, target: str, label: str, samples: Sequence[float], counted: str, limit: float
    ) -> None:
        median, p95 = percentiles(samples)
        self.rows.append((target, label, median, p95, counted, limit))
        verdict = "met" if median < limit else "NOT MET"
        print(
            f"{target} | {label}: median {median:.1f} ms, p95 {p95:.1f} ms "
            f"(n={len(samples)}; {counted}) -> {verdict} (< {limit:.0f} ms)",
            flush=True,
        )

    def table(self) -> str:
        lines = [
            "| target | case | median ms | p95 ms | counted | met |",
            "|---|---|---:|---:|---|---|",
        ]
        for target, label, median, p95, counted, limit in self.rows:
            met = "yes" if median < limit else "**no**"
            lines.append(
                f"| {target} (< {limit:.0f} ms) | {label} | {median:.1f} | {p95:.1f} | "
                f"{counted} | {met} |"
            )
        return "\n".join(lines)


_DOCUMENTS_MATCH = re.compile(r"(\d+) documents? match")
#: The count of passages, on a page that holds them all or on the page that counts them.
_PASSAGES = re.compile(r'<span id="passage-count">(?:More than )?(\d+) passages?')


def _get_checked(client: Any, path: str) -> Any:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code} {response.content[:300]!r}")
    return response


def measure_pages(
    client: Any,
    results: Results,
    target: str,
    pages: Sequence[tuple[str, str]],
    pattern: re.Pattern[str],
    noun: str,
    limit: float,
    repeat: int,
    warmup: int,
) -> None:
    for label, path in pages:
        started = time.perf_counter()
        body = _get_checked(client, path).text
        first = time.perf_counter() - started
        found = pattern.search(body)
        counted = f"{int(found.group(1)):,} {noun}" if found else f"no {noun} line"

        def call(path: str = path) -> None:
            _get_checked(client, path)

        # A page that takes seconds is far from its target: a few samples say by how much.
        slow = first > 2
        samples = common.timed(
            call,
            repeat=min(repeat, 5) if slow else repeat,
            warmup=min(warmup, 2) if slow else warmup,
        )
        results.add(target, label, samples, counted, limit)


def search_cases(project: int) -> list[tuple[str, dict[str, str]]]:
    return [
        ("common English word, other inflection: protected", {"q": "protected"}),
        ("rare word: refoulement", {"q": "refoulement"}),
        ('phrase in quotes: "human rights"', {"q": '"human rights"'}),
        ("Russian word, other case: выдаче", {"q": "выдаче"}),
        ("Chinese phrase of 4 characters: 引渡条约", {"q": "引渡条约"}),
        (
            "OR and -exclusion: extradition OR deportation -Tashkent",
            {"q": "extradition OR deportation -Tashkent"},
        ),
        ("coded=no: security", {"q": "security", "coded": "no"}),
    ]


def passage_cases(project: int) -> list[tuple[str, dict[str, Any]]]:
    from documents.models import Tag

    ids = dict(Tag.objects.filter(project_id=project).values_list("slug", "pk"))
    return [
        ("no filter", {}),
        ("one code (due-process)", {"code": ids["due-process"]}),
        ("parent code (three-evils, 3 children)", {"code": ids["three-evils"]}),
        (
            "two codes, mode=all (extradition, three-evils)",
            {"code": [ids["extradition"], ids["three-evils"]], "mode": "all"},
        ),
        (
            "code without another (extradition without due-process)",
            {"code": ids["extradition"], "without": ids["due-process"]},
        ),
        ("a coder (coder4)", {"coder": "coder4"}),
        (
            "organisation + published 2005-2010",
            {
                "organisation": "Amnesty International",
                "published_after": "2005-01-01",
                "published_before": "2010-12-31",
            },
        ),
        (
            "coded in a 3-month range",
            {"coded_after": _months_ago(9), "coded_before": _months_ago(6)},
        ),
        ("sort=code", {"sort": "code"}),
        ("sort=-date", {"sort": "-date"}),
    ]


def _months_ago(months: int) -> str:
    return (datetime.date.today() - datetime.timedelta(days=30 * months)).isoformat()


def explain(
    project: int,
    searches: Sequence[tuple[str, dict[str, str]]],
    passage_filters: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """EXPLAIN ANALYZE of the queries behind the search and passages pages, as the bench
    user runs them."""
    from research import selectors
    from research.forms import PassageForm, SearchForm
    from research.search import chunks_matching

    user = common.bench_user()
    user.mfa_verified = True
    for label, params in searches:
        form = SearchForm(_querydict(params), user=user, project=project)
        wanted = form.to_filter()
        assert wanted is not None, form.errors
        documents = wanted.documents(user)
        print(f"\n=== search {label}: count\n{documents.explain(analyze=True)}")
        print(f"--- page\n{documents[:20].explain(analyze=True)}")
        ids = list(documents[:20].values_list("pk", flat=True))
        chunks = chunks_matching(wanted.query.phrases).filter(document_id__in=ids)
        print(f"--- chunks of the page\n{chunks.explain(analyze=True)}")
    for label, params in passage_filters:
        passage_form = PassageForm(_querydict(params), user=user, project=project)
        passage_filter = passage_form.to_filter()
        assert passage_filter is not None, passage_form.errors
        listed = selectors.passage_list(user=user, filters=passage_filter)
        print(f"\n=== passages {label}: count\n{listed.explain(analyze=True)}")
        print(f"--- page\n{listed[:50].explain(analyze=True)}")


def _querydict(params: dict[str, Any]) -> Any:
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for name, value in params.items():
        query.setlist(name, [str(v) for v in value] if isinstance(value, list) else [str(value)])
    return query


class RssSampler(threading.Thread):
    """Resident memory of the given processes every 0.1 s while a measurement runs."""

    def __init__(self, pids: Sequence[int]) -> None:
        super().__init__(daemon=True)
        self.pids = list(pids)
        self.samples: dict[int, list[int]] = {pid: [] for pid in self.pids}
        self.running = True

    def run(self) -> None:
        while self.running:
            for pid in self.pids:
                self.samples[pid].append(_status_kib(pid, "VmRSS"))
            time.sleep(0.1)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()]


def measure_export(server: common.Server, client: httpx.Client, project: int, total: int) -> str:
    """The CSV export of every passage, streamed to a file: rows/s and each worker's RSS
    (before, during, VmHWM after)."""
    workers = _workers(server.pid)
    before = {pid: _status_kib(pid, "VmRSS") for pid in workers}
    hwm_before = {pid: _status_kib(pid, "VmHWM") for pid in workers}
    sampler = RssSampler(workers)
    sampler.start()
    path = f"/projects/{project}/passages/export.csv"
    with tempfile.TemporaryFile() as sink:
        started = time.perf_counter()
        first_byte = None
        size = 0
        with client.stream("GET", path) as response:
            status = response.status_code
            for chunk in response.iter_bytes():
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                sink.write(chunk)
                size += len(chunk)
        elapsed = time.perf_counter() - started
        sampler.running = False
        sampler.join()
        sink.seek(0)
        if status != 200:
            body = sink.read(2000).decode(errors="replace")
            return f"CSV export: HTTP {status} after {elapsed:.2f} s: {body.strip()[:400]}"
        reader = csv.reader(line.decode() for line in sink)
        rows = sum(1 for _ in reader) - 1
    lines = [
        f"CSV export: {rows:,} rows ({total:,} passages), {size / 1e6:.0f} MB in "
        f"{elapsed:.1f} s = {rows / elapsed:,.0f} rows/s (first byte after "
        f"{(first_byte or 0) * 1000:.0f} ms)"
    ]
    for pid in workers:
        during = sampler.samples[pid]
        lines.append(
            f"  worker {pid}: RSS {before[pid] / 1024:.0f} MiB before, "
            f"{min(during) / 1024:.0f}-{max(during) / 1024:.0f} MiB during, "
            f"VmHWM {hwm_before[pid] / 1024:.0f} -> {_status_kib(pid, 'VmHWM') / 1024:.0f} MiB"
        )
    return "\n".join(lines)


def export_in_process(project: int, total: int, seconds: float) -> str:
    """What the export reads (`passage_batches`, 2,000 passages a batch), each passage
    written as a CSV row, in this process for up to `seconds`: rows/s and this process's
    RSS; then how long one batch takes at several depths of the list."""
    from research import selectors

    user = common.bench_user()
    filters = selectors.PassageFilter(project=project)
    rss_before = _status_kib(os.getpid(), "VmRSS")
    sampler = RssSampler([os.getpid()])
    sampler.start()
    started = time.perf_counter()
    rows = 0

    class Null:
        def write(self, value: str) -> int:
            return len(value)

    writer = csv.writer(Null())
    for batch in selectors.passage_batches(user=user, filters=filters, base_url="http://127.0.0.1"):
        for passage in batch:
            writer.writerow(
                [
                    passage.id,
                    passage.citation.title,
                    passage.quote,
                    ";".join(passage.codes),
                    passage.coder,
                    passage.created,
                    passage.citation.url,
                ]
            )
            rows += 1
        if time.perf_counter() - started > seconds:
            break
    elapsed = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    during = sampler.samples[os.getpid()]
    lines = [
        f"passage_batches -> csv.writer in this process: {rows:,} of {total:,} passages in "
        f"{elapsed:.1f} s = {rows / elapsed:,.0f} rows/s (stopped after {seconds:.0f} s); "
        f"RSS {rss_before / 1024:.0f} MiB before, {min(during) / 1024:.0f}-"
        f"{max(during) / 1024:.0f} MiB during"
    ]
    for depth in (0, total // 4, total // 2, total - 2000):
        started = time.perf_counter()
        selectors.passage_page(
            user=user, filters=filters, start=depth, stop=depth + 2000, base_url=""
        )
        lines.append(
            f"  one batch of 2,000 at position {depth:,}: "
            f"{(time.perf_counter() - started) * 1000:,.0f} ms"
        )
    return "\n".join(lines)


def measure_coding(client: Any, results: Results, project: int, repeat: int) -> None:
    """Code every hit of the planted phrase (confirmed, one request), then undo the batch
    (so that the next round, and the next run, code them again)."""
    from documents.models import Tag
    from research.models import CodingBatch

    tag = Tag.objects.get(project_id=project, slug="forced-return")
    query = '"' + " ".join(PLANTED) + '"'
    form = {"q": query, "code": str(tag.pk), "scope": "sentence", "every": "on", "confirm": "on"}
    coding, undoing = [], []
    counted = ""
    for _ in range(repeat):
        for batch in CodingBatch.objects.filter(project_id=project, undone_at__isnull=True):
            client.post(f"/projects/{project}/coding-batches/{batch.pk}/undo/", data={})
        started = time.perf_counter()
        response = client.post(f"/projects/{project}/search/code/", data=form)
        coding.append(time.perf_counter() - started)
        if response.status_code != 302:
            raise RuntimeError(f"coding: HTTP {response.status_code} {response.content[:500]!r}")
        made = CodingBatch.objects.filter(project_id=project).order_by("-pk").first()
        assert made is not None
        counted = f"{made.annotations.count():,} annotations made"
        started = time.perf_counter()
        response = client.post(f"/projects/{project}/coding-batches/{made.pk}/undo/", data={})
        undoing.append(time.perf_counter() - started)
        if response.status_code != 302:
            raise RuntimeError(f"undo: HTTP {response.status_code}")
    results.add(
        "3 coding", f"code every hit of {query} (POST, confirm, every)", coding, counted, 3000
    )
    results.add("3 coding", "undo that batch (POST), for comparison", undoing, counted, 3000)


# ---------------------------------------------------------------------------------------
# SQLite (the embedded default)


def sqlite_run(repeat: int, warmup: int) -> None:
    """The sample corpus on SQLite (no DATABASE_URL, a fresh DATA_DIR), some of its
    search hits coded, every research page timed through gunicorn."""
    data_dir = tempfile.mkdtemp(prefix="bench-research-sqlite-")
    os.environ["DATA_DIR"] = data_dir
    env = common.server_env("")
    for command in (["migrate", "--no-input", "-v", "0"], ["load_sample_data"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=common.ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    common.django_setup("")
    from django.db import connections

    from documents.models import Annotation, Document, Tag
    from documents.sample import sample_project
    from projects.models import Membership, Role
    from research import selectors, services
    from research.terms import parse_query

    project = sample_project()
    user = common.bench_user()
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.OWNER})
    ids = dict(Tag.objects.filter(project=project).values_list("slug", "pk"))
    for query, slug in (
        ("terrorism OR extremism OR separatism", "definition-of-terrorism"),
        ("extradition OR extradite", "extradition"),
        ("asylum OR refugees", "asylum-refugee-protection"),
        ("rights", "due-process"),
    ):
        filters = selectors.SearchFilter(project=project.pk, query=parse_query(query))
        hits = [
            (h.document_id, h.start, h.end)
            for h in selectors.search_hits(user=user, filters=filters, limit=1000)
        ]
        services.code_hits(
            user=user,
            project=project.pk,
            tag=Tag.objects.get(pk=ids[slug]),
            hits=hits,
            scope="sentence",
            query=query,
        )
    documents = Document.objects.filter(project=project).count()
    passages = Annotation.objects.alive().count()
    connections.close_all()
    print(
        f"SQLite ({data_dir}): {documents} sample documents, {passages} passages coded from "
        "searches",
        flush=True,
    )
    results = Results()
    with common.serve("") as server:
        client = common.lean(common.login(server.base_url))
        baseline = common.timed(lambda: _get_checked(client, "/tags.css"), repeat=repeat)
        median, p95 = percentiles(baseline)
        print(f"baseline: logged-in GET /tags.css median {median:.2f} ms, p95 {p95:.2f} ms")
        base = f"/projects/{project.pk}"
        searches = [
            ("search: terrorism", "terrorism"),
            ('search: "human rights"', '"human rights"'),
            ("search: extradition OR asylum -Kazakhstan", "extradition OR asylum -Kazakhstan"),
        ]
        measure_pages(
            client,
            results,
            "5 SQLite",
            [(label, f"{base}/search/?{urlencode({'q': q})}") for label, q in searches],
            _DOCUMENTS_MATCH,
            "documents",
            100,
            repeat,
            warmup,
        )
        measure_pages(
            client,
            results,
            "5 SQLite",
            [
                ("passages: no filter", f"{base}/passages/"),
                ("passages: one code (extradition)", f"{base}/passages/?code={ids['extradition']}"),
                (
                    "passages: parent code (three-evils)",
                    f"{base}/passages/?code={ids['three-evils']}",
                ),
                ("passages: sort=code", f"{base}/passages/?sort=code"),
            ],
            _PASSAGES,
            "passages",
            100,
            repeat,
            warmup,
        )
    print("\n" + results.table())
    shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--coding-rounds", type=int, default=3)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--reuse", action="store_true", help="Measure the database a previous run seeded."
    )
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="Print EXPLAIN ANALYZE of each page's queries, then stop.",
    )
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument(
        "--export-seconds",
        type=float,
        default=120,
        help="How long the in-process export runs when the HTTP export fails.",
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="Only the SQLite part (run in a child process by default).",
    )
    options = parser.parse_args()
    if options.sqlite:
        sqlite_run(options.repeat, options.warmup)
        return

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(f"commit {commit}, load average {load_average()} at the start", flush=True)
    url = f"{common.SERVER_URL}/{options.database}"
    if options.reuse:
        common.django_setup(url)
    else:
        started = time.perf_counter()
        url = common.bench_database(options.database)
        print(f"database made and migrated in {time.perf_counter() - started:.0f} s", flush=True)
        common.django_setup(url)
        seed(documents=options.documents, annotations=options.annotations)
    if options.seed_only:
        return

    from django.db import connections

    from documents.models import Annotation, Document
    from research.models import Chunk

    project = common.bench_project().pk
    total = Annotation.objects.alive().count()
    print(
        f"data: {Document.objects.count():,} documents, {Chunk.objects.count():,} chunks, "
        f"{total:,} live annotations",
        flush=True,
    )
    searches = search_cases(project)
    passage_filters = passage_cases(project)
    if options.explain:
        explain(project, searches, passage_filters)
        return
    connections.close_all()
    results = Results()
    run_started = time.perf_counter()
    os.environ["GUNICORN_CMD_ARGS"] = "--timeout 600"
    with common.serve(url) as server:
        streaming = common.login(server.base_url)
        streaming.timeout = httpx.Timeout(600)
        client = common.lean(streaming)
        baseline = common.timed(lambda: _get_checked(client, "/tags.css"), repeat=options.repeat)
        median, p95 = percentiles(baseline)
        print(f"baseline: logged-in GET /tags.css median {median:.2f} ms, p95 {p95:.2f} ms")
        base = f"/projects/{project}"
        measure_pages(
            client,
            results,
            "1 search",
            [(label, f"{base}/search/?{urlencode(params)}") for label, params in searches],
            _DOCUMENTS_MATCH,
            "documents match",
            150,
            options.repeat,
            options.warmup,
        )
        measure_pages(
            client,
            results,
            "2 passages",
            [
                (label, f"{base}/passages/?{urlencode(params, doseq=True)}")
                for label, params in passage_filters
            ],
            _PASSAGES,
            "passages",
            100,
            options.repeat,
            options.warmup,
        )
        # A passages page with a next one is shown before it is counted; the count is a
        # request of its own, which the page makes once it is shown.
        measure_pages(
            client,
            results,
            "2b passages count, loaded after the page",
            [
                (label, f"{base}/passages/count/?{urlencode(params, doseq=True)}")
                for label, params in passage_filters
                if "sort" not in params
            ],
            _PASSAGES,
            "passages",
            1000,
            options.repeat,
            options.warmup,
        )
        measure_coding(client, results, project, options.coding_rounds)
        export = ""
        if not options.no_export:
            export = measure_export(server, streaming, project, total)
            print(export, flush=True)
    if not options.no_export and "HTTP 200" not in export and "rows/s" not in export:
        connections.close_all()
        print(export_in_process(project, total, options.export_seconds), flush=True)
    print(
        f"\nmeasured in {time.perf_counter() - run_started:.0f} s; load average "
        f"{load_average()} at the end\n"
    )
    print(results.table(), flush=True)
    if not options.no_sqlite:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bench_research",
                "--sqlite",
                "--repeat",
                str(options.repeat),
                "--warmup",
                str(options.warmup),
            ],
            cwd=common.ROOT,
            check=True,
        )


if __name__ == "__main__":
    main()
