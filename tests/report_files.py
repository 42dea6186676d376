"""Generated company reports with planted facts: real PDFs made with pymupdf, for the page
selection tests and its benchmark (tests/bench/bench_reading.py).

A report has chapters with numbered headings and an outline, pages of prose written from
templates over one shared vocabulary (sites, quarters, metrics, products: every page talks
about much the same things, as in a real report), raster charts and ruled tables with
captions, a table continued onto the next page, and two scanned pages without a text
layer. Each planted fact is one sentence on one page, with the question that asks about it;
two other pages mention two of its words in passing (as a report's summary pages do), so
that sharing a word with the question is not enough to be the page.
Questions are `direct` (they name the fact's key words), `reworded` (other forms or words:
"resolving" for "resolved", "attack" for "attempt"), `chinese` (a Chinese report) or
`unshared` (no word in common with the page: only the model's search terms can find it).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pymupdf

from tests.pdf_files import A4, chart_png, scan_png

Kind = Literal["direct", "reworded", "chinese", "unshared"]


@dataclass(frozen=True)
class Fact:
    sentence: str  # planted in the page's text
    question: str
    kind: Kind


@dataclass(frozen=True)
class Planted:
    page: int  # 1-based
    fact: Fact


def _facts(kind: Kind, rows: list[tuple[str, str]]) -> list[Fact]:
    return [Fact(sentence, question, kind) for sentence, question in rows]


FACTS_EN = _facts("direct", [
    ("The rooftop solar installation on the Lyon plant was completed in May and generated "
     "412 MWh by the end of the year.",
     "How much electricity did the solar installation on the Lyon roof generate?"),
    ("Operating margin peaked in the third quarter at 18.4 percent, the highest of the year.",
     "Which quarter had the highest operating margin?"),
    ("Staff turnover in Gdansk fell to 7.2 percent after the new shift rota was introduced.",
     "What was staff turnover in Gdansk after the new shift rota?"),
    ("The company resolved 96 percent of warranty claims within ten working days.",
     "What share of warranty claims were resolved within ten working days?"),
    ("The Bilbao foundry replaced its two gas-fired furnaces with an induction furnace rated "
     "at 6 MW.",
     "What replaced the gas-fired furnaces at the Bilbao foundry?"),
    ("Average lead time for heat exchangers shortened from 14 weeks to 9 weeks.",
     "What was the lead time for heat exchangers?"),
    ("The board approved a dividend of 0.85 euros per share, payable in June.",
     "What dividend per share did the board approve?"),
    ("Net debt stood at 212 million euros on 31 December, 2.1 times EBITDA.",
     "What was net debt as a multiple of EBITDA?"),
    ("The Leeds distribution centre introduced 40 autonomous forklifts in the autumn.",
     "How many autonomous forklifts did the Leeds distribution centre introduce?"),
    ("Customers of service contracts gave a net promoter score of 62, up eight points.",
     "What net promoter score did service contract customers give?"),
    ("Scope 1 and 2 emissions fell to 48,600 tonnes of CO2 equivalent, 11 percent below "
     "the baseline.",
     "What were the scope 1 and 2 emissions in tonnes of CO2 equivalent?"),
    ("Unplanned downtime on the Turin assembly lines averaged 3.1 percent, down from 5.6 "
     "percent.",
     "What was unplanned downtime on the Turin assembly lines?"),
    ("The pension plan deficit narrowed to 37 million euros after a buy-in with an insurer.",
     "How large is the pension plan deficit after the buy-in?"),
    ("The audit committee met seven times and reviewed the internal audit plan twice.",
     "How often did the audit committee meet?"),
    ("Spare parts revenue grew to 96 million euros, 19 percent of group revenue.",
     "How much revenue came from spare parts?"),
    ("The company signed a ten-year power purchase agreement for 35 MW of wind capacity in "
     "Portugal.",
     "How much wind capacity does the power purchase agreement cover?"),
    ("Research and development spending was 4.6 percent of revenue, or 23 million euros.",
     "What share of revenue was spent on research and development?"),
    ("The training academy delivered 61,000 hours of technical training, 14 hours per "
     "employee.",
     "How many hours of technical training did the academy deliver per employee?"),
    ("The credit rating agency upgraded the group to BBB in October.",
     "What credit rating was the group upgraded to?"),
    ("After the awareness campaign the phishing click rate fell to 2 percent of office staff.",
     "What was the phishing click rate after the awareness campaign?"),
    ("The heat recovery system at the Brno paint line saves 2.8 GWh of natural gas a year.",
     "How much natural gas does the heat recovery system at Brno save?"),
    ("Two lost-time injuries were recorded at the Bilbao foundry, a frequency rate of 1.4.",
     "What was the lost-time injury frequency rate at the Bilbao foundry?"),
    ("The acquisition of Helix Flow Systems for 58 million euros closed on 30 September.",
     "How much was paid for Helix Flow Systems?"),
    ("Women held 34 percent of management positions, up from 29 percent.",
     "What percentage of management positions did women hold?"),
    ("The Leeds site switched its lighting to LEDs, cutting its electricity use by 1.2 GWh.",
     "How much electricity did switching to LED lighting save at Leeds?"),
    ("Days sales outstanding improved to 52 days after the collections process was "
     "centralised in Porto.",
     "Where was the collections process centralised?"),
    ("Capital expenditure totalled 64 million euros, of which 22 million went to automation.",
     "How much capital expenditure went to automation?"),
    ("The employee engagement survey had a response rate of 83 percent and an engagement "
     "score of 71.",
     "What was the response rate of the employee engagement survey?"),
    ("A recall of 1,900 pressure sensors with faulty seals cost 2.4 million euros.",
     "How many pressure sensors with faulty seals were recalled?"),
    ("The 2026 strategy targets annual growth of 7 percent and an operating margin of 20 "
     "percent.",
     "What annual growth does the 2026 strategy target?"),
]) + _facts("reworded", [
    ("A ransomware attempt on the Porto billing servers was detected on 14 March and "
     "contained within six hours.",
     "How fast was the ransomware attack on billing in Porto stopped?"),
    ("Resolving the customs dispute with the Turkish authorities cost 1.3 million euros in "
     "fees.",
     "What did it cost to resolve the customs disputes in Turkey?"),
    ("Water withdrawal at the Brno site dropped by 31 percent thanks to a closed-loop "
     "cooling circuit.",
     "Why did the Brno plant withdraw less water?"),
    ("The new sensor platform, code-named Kestrel, entered field trials with three "
     "utilities in Spain.",
     "Which new platform is being trialled in the field by Spanish utilities?"),
    ("Procurement consolidated its steel suppliers from 23 to 9 under framework agreements.",
     "How far was the number of steel supplier consolidated?"),
    ("An apprenticeship programme in Ghent enrolled 58 young people, half of them women.",
     "How many young people enrolled in apprenticeships in Ghent?"),
    ("Order intake for control valves in North America rose 22 percent, led by the "
     "petrochemical sector.",
     "Which sector led the rise in control valve orders in North America?"),
    ("A fire in the paint shop in Porto on 2 August halted production for eleven days.",
     "For how long was production halted by the fire in the paint shops?"),
    ("Freight costs per pallet rose 27 percent as container rates spiked in the first half.",
     "By how much did freight cost per pallet rise when container rates spiked?"),
    ("The Gdansk warehouse adopted a new WMS from Kardex, cutting picking errors by half.",
     "Which vendor's system halved picking errors at the Gdansk warehouse?"),
    ("Inventory days fell from 96 to 81 as slow-moving stock was written down.",
     "How many inventory days were left after writing down slow-moving stocks?"),
    ("A new customer portal launched in April now handles 71 percent of service bookings "
     "online.",
     "What share of service bookings does the online portal handle?"),
    ("Sales of industrial pumps in China declined 9 percent amid weaker construction "
     "activity.",
     "Why did industrial pump sales decline in China?"),
    ("The Ghent plant obtained ISO 50001 certification for its energy management system.",
     "Which plant's energy management system was certified to ISO 50001?"),
    ("Hedging limited the impact of the dollar's fall on revenue to 3.5 million euros.",
     "How much revenue did the falling dollar cost once hedged?"),
])

# No word in common with the planted sentence, stemmed or not.
FACTS_UNSHARED = _facts("unshared", [
    ("Photovoltaic panels were mounted on the roof of the Lyon plant in May.",
     "When did the French factory get its solar array?"),
    ("The Brno site now recycles 88 percent of its scrap metal.",
     "How much of the Czech factory's offcuts get reused?"),
    ("Executive bonuses were cut by a third after the profit warning.",
     "Did senior managers lose part of their incentive pay?"),
    ("The Turin plant's roof was insulated, lowering heating bills by 240,000 euros.",
     "What did the Italian factory save on warming its buildings?"),
    ("Two board members stepped down in November for health reasons.",
     "Which directors resigned, and why?"),
])

FACTS_ZH = _facts("chinese", [
    ("苏州工厂屋顶光伏项目于五月并网，全年发电四百一十二兆瓦时。",
     "苏州工厂的屋顶光伏全年发电多少？"),
    ("第三季度营业利润率达到百分之十八点四，为全年最高。", "哪个季度的营业利润率最高？"),
    ("成都仓库引入了四十台自动叉车，拣货效率明显提高。", "成都仓库引入了几台自动叉车？"),
    ("董事会批准每股派发零点八五元现金股息。", "董事会批准的每股现金股息是多少？"),
    ("武汉基地的员工流失率降至百分之七点二。", "武汉基地的员工流失率降到了多少？"),
    ("西安研发中心全年申请发明专利六十三项。", "西安研发中心申请了多少项发明专利？"),
    ("公司与三家电网企业签署了智能传感器试点协议。", "智能传感器试点协议是和哪些企业签署的？"),
    ("上海总部的碳排放总量比上年下降了百分之十一。", "上海总部的碳排放下降了多少？"),
    ("年末净负债为二点一二亿元，为息税折旧摊销前利润的二点一倍。",
     "年末净负债是息税折旧摊销前利润的几倍？"),
    ("客户服务热线的平均等待时间缩短至四十五秒。", "客户服务热线的平均等待时间是多少？"),
    ("青岛港口的集装箱运费上涨了百分之二十七。", "青岛港口集装箱运费上涨了多少？"),
    ("培训学院全年提供六万一千小时技术培训。", "培训学院全年提供了多少小时技术培训？"),
    ("南京工厂获得了能源管理体系认证。", "哪家工厂获得了能源管理体系认证？"),
    ("女性在管理岗位中的占比提高到百分之三十四。", "女性在管理岗位中的占比是多少？"),
    ("公司以五点八亿元收购了海力流体系统公司。", "收购海力流体系统公司花了多少钱？"),
])

# -- the shared vocabulary --------------------------------------------------------------------

SITES = ["Lyon", "Turin", "Porto", "Gdansk", "Leeds", "Bilbao", "Ghent", "Brno"]
QUARTERS = ["the first quarter", "the second quarter", "the third quarter",
            "the fourth quarter", "the first half", "the second half"]
METRICS = ["revenue", "operating margin", "order intake", "energy use", "headcount",
           "customer satisfaction", "inventory", "water use", "emissions", "downtime",
           "freight cost", "lead time", "staff turnover", "capital expenditure"]
PRODUCTS = ["industrial pumps", "control valves", "heat exchangers", "pressure sensors",
            "spare parts", "service contracts", "flow meters"]
TEAMS = ["finance", "procurement", "logistics", "engineering", "sales", "human resources",
         "IT", "legal", "maintenance", "quality"]
REGIONS = ["Western Europe", "Central Europe", "North America", "China", "the Middle East",
           "Latin America", "the Nordic countries"]
MOVES = ["rose", "fell", "increased", "decreased", "improved", "weakened", "stabilised"]

SENTENCES = [
    "In {q}, {m} at the {s} site {mv} by {p} percent compared with the previous year.",
    "The {t} team reviewed {m} across {n} sites and reported steady progress.",
    "Demand for {pr} remained firm in {r}, where {m} {mv} {p} percent.",
    "Management expects {m} to improve next year, supported by pricing and volume.",
    "{S} continued to invest in automation and maintenance, with {n} million euros of "
    "capital spending.",
    "Customers in {r} ordered more {pr}, although delivery times lengthened in {q}.",
    "The {t} function simplified its processes and moved routine work to the shared "
    "service centre.",
    "Energy prices weighed on costs in {q}, and {s} reduced its consumption of natural gas.",
    "A review of {m} at {s} and {s2} found differences in how the data were collected.",
    "Our {pr} business grew in {r}, while sales of {pr2} were flat.",
    "Safety remained the first priority: every site held monthly reviews with its {t} team.",
    "The group completed {n} improvement projects, most of them at {s} and {s2}.",
    "Working capital rose in {q} as inventory of {pr} was built up ahead of the peak season.",
    "Compared with the plan, {m} was {p} percent better, mainly because of lower costs in "
    "{r}.",
    "Suppliers of steel and castings raised prices in {q}, which the {t} team partly offset.",
    "The quarterly business review at {s} discussed {m}, quality and delivery performance.",
    "Digital tools now support {p} percent of {t} requests, up from a year earlier.",
    "Headcount in {r} was broadly unchanged, with hiring focused on engineers and "
    "technicians.",
    "The outlook for {pr} in {r} depends on industrial investment and interest rates.",
    "Environmental permits for {s} were renewed, and audits found no major non-conformities.",
]

CHAPTERS = [
    ("Letter from the chief executive", ["Highlights of the year", "Our priorities"]),
    ("Financial results", ["Revenue and margin", "Cash flow and debt", "Shareholder returns"]),
    ("Operations and sites", ["Plant performance", "Supply chain", "Quality"]),
    ("Energy and environment", ["Energy efficiency", "Emissions", "Water and waste"]),
    ("People and culture", ["Health and safety", "Training and development", "Diversity"]),
    ("Customers and markets", ["Regional markets", "Products and services"]),
    ("Technology and security", ["Research and development", "Information security"]),
    ("Risks and outlook", ["Principal risks", "Governance", "Outlook"]),
]

ZH_SITES = ["苏州", "成都", "武汉", "西安", "青岛", "南京", "天津", "上海"]
ZH_METRICS = ["营业收入", "利润率", "订单量", "能源消耗", "员工人数", "客户满意度", "库存",
              "用水量", "碳排放", "停机时间", "运输成本", "交货周期"]
ZH_PRODUCTS = ["工业水泵", "控制阀", "换热器", "压力传感器", "备件", "服务合同"]
ZH_SENTENCES = [
    "{q}，{s}基地的{m}同比变化了百分之{p}。",
    "{t}团队对各基地的{m}进行了复核，整体进展平稳。",
    "{r}市场对{pr}的需求保持稳定，{m}有所改善。",
    "管理层预计明年{m}将继续改善，价格和销量是主要支撑。",
    "{s}基地继续投资自动化和设备维护，全年资本支出{n}千万元。",
    "{r}客户增加了{pr}的采购，但{q}交货时间有所延长。",
    "{t}部门简化了流程，并把日常工作转移到共享服务中心。",
    "{q}能源价格上涨推高了成本，{s}基地减少了天然气用量。",
    "对{s}和{s2}两个基地{m}数据的审查发现统计口径存在差异。",
    "我们的{pr}业务在{r}增长较快，{pr2}销售基本持平。",
    "安全始终是第一要务，各基地每月与{t}团队召开安全例会。",
    "集团全年完成{n}个改善项目，主要集中在{s}和{s2}。",
    "{q}营运资金增加，主要是为旺季提前备货{pr}。",
    "与预算相比，{m}好于计划百分之{p}，主要得益于{r}成本下降。",
    "钢材和铸件供应商在{q}提价，{t}团队通过谈判抵消了部分影响。",
    "{s}基地的季度经营会议讨论了{m}、质量和交付表现。",
]
ZH_QUARTERS = ["第一季度", "第二季度", "第三季度", "第四季度", "上半年", "下半年"]
ZH_TEAMS = ["财务", "采购", "物流", "工程", "销售", "人力资源", "信息技术", "法务"]
ZH_REGIONS = ["华东", "华南", "华北", "西南", "东南亚", "欧洲", "北美"]
ZH_CHAPTERS = [
    ("董事长致辞", ["年度亮点", "战略重点"]),
    ("财务业绩", ["收入与利润", "现金流与负债", "股东回报"]),
    ("运营与基地", ["工厂表现", "供应链", "质量管理"]),
    ("能源与环境", ["能效提升", "碳排放", "水资源与废弃物"]),
    ("员工与文化", ["健康与安全", "培训与发展", "多元化"]),
    ("客户与市场", ["区域市场", "产品与服务"]),
    ("技术与信息安全", ["研发投入", "信息安全"]),
    ("风险与展望", ["主要风险", "公司治理", "未来展望"]),
]


# -- making the PDF ---------------------------------------------------------------------------


def make_report(path: Path, facts: list[Fact], *, pages: int = 40, seed: int = 0,
                chinese: bool = False) -> list[Planted]:
    """A `pages`-page report at `path` with each fact planted on its own page; returns
    where each went. Two pages near the end are scans (no text layer), never planted."""
    rnd = random.Random(seed)
    scans = {pages - 3, pages - 1}
    table_start = max(3, pages // 3)  # a table that runs onto the next page
    candidates = [n for n in range(2, pages + 1) if n not in scans]
    if len(facts) > len(candidates):
        raise ValueError(f"{len(facts)} facts do not fit {len(candidates)} pages")
    where = dict(zip(rnd.sample(candidates, len(facts)), facts, strict=True))
    mentions: dict[int, list[str]] = {}
    for number, fact in where.items():
        others = [n for n in candidates if n != number]
        for other in rnd.sample(others, 2):
            mentions.setdefault(other, []).append(_mention(rnd, fact, chinese))
    chapters = ZH_CHAPTERS if chinese else CHAPTERS
    sections = _sections(chapters, pages)
    doc = pymupdf.open()
    toc: list[list[object]] = []
    figure = 0
    for number in range(1, pages + 1):
        page = doc.new_page(width=A4[0], height=A4[1])
        if number in scans:
            label = "审计报告 签字页" if chinese else "AUDITOR STATEMENT SIGNED"
            page.insert_image(page.rect, stream=scan_png(f"{label} {number}"))
            continue
        y = 60.0
        for level, title in sections.get(number, []):
            toc.append([level, title, number])
            size = 15 if level == 1 else 12
            page.insert_text((60, y + size), title, fontsize=size, fontname=_font(chinese, True))
            y += size + 12
        kind = ("table" if number in (table_start, table_start + 1)
                else "chart" if number % 5 == 3 else "table" if number % 7 == 4 else "text")
        body_bottom = 470.0 if kind != "text" else 780.0
        paragraphs = _paragraphs(rnd, chinese, 3 if kind != "text" else 5)
        fact = where.get(number)
        for mention in mentions.get(number, []):
            paragraphs.insert(rnd.randrange(len(paragraphs) + 1), mention)
        if fact:
            paragraphs.insert(rnd.randrange(len(paragraphs) + 1), fact.sentence)
        _text_box(page, pymupdf.Rect(60, y, 535, body_bottom), paragraphs, chinese)
        if kind == "chart":
            figure += 1
            metric = rnd.choice(ZH_METRICS if chinese else METRICS)
            site = rnd.choice(ZH_SITES if chinese else SITES)
            caption = (f"图{figure} {site}基地各季度{metric}" if chinese
                       else f"Figure {figure}: {metric.capitalize()} by quarter at {site}")
            page.insert_image(pymupdf.Rect(90, 490, 505, 740), stream=chart_png())
            page.insert_text((90, 760), caption, fontsize=9, fontname=_font(chinese, False))
        elif kind == "table":
            figure += 1
            continued = number == table_start + 1
            _table(page, rnd, figure - (1 if continued else 0), continued, chinese)
        footer = (f"2025年年度报告 第{number}页" if chinese
                  else f"Annual report 2025 | page {number}")
        page.insert_text((60, 815), footer, fontsize=8, fontname=_font(chinese, False))
    doc.set_toc(toc)
    doc.save(path)
    doc.close()
    return sorted((Planted(n, f) for n, f in where.items()), key=lambda p: p.page)


def _mention(rnd: random.Random, fact: Fact, chinese: bool) -> str:
    """A sentence that names two of the fact's words and says nothing of it."""
    if chinese:
        runs = re.findall("[\u4e00-\u9fff]{2,}", fact.sentence)
        chunks = [r[i:i + 2] for r in runs for i in range(0, len(r) - 1, 2)]
        w1, w2 = rnd.sample(chunks, 2)
        return f"{rnd.choice(ZH_TEAMS)}团队还关注了{w1}和{w2}等方面的情况。"
    words = [w.strip(".,") for w in fact.sentence.split()
             if len(w.strip(".,")) >= 5 and w.strip(".,").isalpha()]
    w1, w2 = rnd.sample(words, 2)
    return (f"The {rnd.choice(TEAMS)} team also looked at {w1.lower()} and {w2.lower()} "
            "during the year, without changes to the plan.")


def _font(chinese: bool, bold: bool) -> str:
    # pymupdf's built-in CJK font for Chinese (simplified); Helvetica otherwise.
    return "china-s" if chinese else ("hebo" if bold else "helv")


def _sections(chapters: list[tuple[str, list[str]]], pages: int
              ) -> dict[int, list[tuple[int, str]]]:
    """Chapter and section headings by the page they start on, numbered 1, 1.1, ..."""
    out: dict[int, list[tuple[int, str]]] = {}
    per_chapter = pages / len(chapters)
    for c, (title, subs) in enumerate(chapters):
        first = 1 + round(c * per_chapter)
        out.setdefault(first, []).append((1, f"{c + 1} {title}"))
        span = max(1, round(per_chapter))
        for s, sub in enumerate(subs):
            page = min(pages, first + (s * span) // len(subs))
            out.setdefault(page, []).append((2, f"{c + 1}.{s + 1} {sub}"))
    return out


def _paragraphs(rnd: random.Random, chinese: bool, n: int) -> list[str]:
    out = []
    for _ in range(n):
        if chinese:
            out.append("".join(_zh_sentence(rnd) for _ in range(rnd.randint(4, 6))))
        else:
            out.append(" ".join(_en_sentence(rnd) for _ in range(rnd.randint(4, 6))))
    return out


def _en_sentence(rnd: random.Random) -> str:
    s, s2 = rnd.sample(SITES, 2)
    pr, pr2 = rnd.sample(PRODUCTS, 2)
    return rnd.choice(SENTENCES).format(
        q=rnd.choice(QUARTERS), m=rnd.choice(METRICS), s=s, s2=s2, S=s, mv=rnd.choice(MOVES),
        p=rnd.randint(2, 30), t=rnd.choice(TEAMS), n=rnd.randint(3, 40), pr=pr, pr2=pr2,
        r=rnd.choice(REGIONS))


def _zh_sentence(rnd: random.Random) -> str:
    s, s2 = rnd.sample(ZH_SITES, 2)
    pr, pr2 = rnd.sample(ZH_PRODUCTS, 2)
    return rnd.choice(ZH_SENTENCES).format(
        q=rnd.choice(ZH_QUARTERS), m=rnd.choice(ZH_METRICS), s=s, s2=s2, p=rnd.randint(2, 30),
        t=rnd.choice(ZH_TEAMS), n=rnd.randint(3, 40), pr=pr, pr2=pr2,
        r=rnd.choice(ZH_REGIONS))


def _text_box(page: pymupdf.Page, rect: pymupdf.Rect, paragraphs: list[str],
              chinese: bool) -> None:
    """The paragraphs in `rect`, dropping filler from the end until they fit (a planted
    sentence is never dropped: it is never last to go)."""
    font = _font(chinese, False)
    while paragraphs:
        text = "\n\n".join(paragraphs)
        shape = page.new_shape()
        if shape.insert_textbox(rect, text, fontsize=10, fontname=font) >= 0:
            shape.commit()
            return
        longest = max(range(len(paragraphs)), key=lambda i: len(paragraphs[i]))
        cut = paragraphs[longest]
        sep = "。" if chinese else ". "
        parts = cut.split(sep)
        if len(parts) > 2:
            paragraphs[longest] = sep.join([*parts[:-2], parts[-1]])
        else:
            del paragraphs[longest]


def _table(page: pymupdf.Page, rnd: random.Random, number: int, continued: bool,
           chinese: bool) -> None:
    """A ruled table (vector lines and text) with its caption, at the foot of the page."""
    font = _font(chinese, False)
    metric = rnd.choice(ZH_METRICS if chinese else METRICS)
    if chinese:
        caption = f"表{number}{'（续）' if continued else ''} 各基地{metric}"
        header = ["基地", "2024年", "2025年", "变化"]
    else:
        more = " (continued)" if continued else ""
        caption = f"Table {number}{more}: {metric.capitalize()} by site"
        header = ["Site", "2024", "2025", "Change"]
    page.insert_text((60, 490), caption, fontsize=9, fontname=font)
    sites = rnd.sample(ZH_SITES if chinese else SITES, 6)
    rows = [header] + [[s, str(rnd.randint(50, 900)), str(rnd.randint(50, 900)),
                        f"{rnd.randint(-20, 30)}%"] for s in sites]
    top, height, left, width = 500.0, 22.0, 60.0, 118.0
    for r, row in enumerate(rows):
        y = top + r * height
        page.draw_line((left, y), (left + 4 * width, y), color=(0, 0, 0), width=0.6)
        for c, cell in enumerate(row):
            page.insert_text((left + c * width + 4, y + 15), cell, fontsize=9, fontname=font)
    bottom = top + len(rows) * height
    page.draw_line((left, bottom), (left + 4 * width, bottom), color=(0, 0, 0), width=0.6)
    for c in range(5):
        page.draw_line((left + c * width, top), (left + c * width, bottom), color=(0, 0, 0),
                       width=0.6)
