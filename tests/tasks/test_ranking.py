"""Lexical page ranking: terms, fields, the outline and neighbours, on real text."""

from __future__ import annotations

import pytest

from glmv_cli.tasks.ranking import (
    PageIndex,
    PageText,
    fields_of,
    make_query,
    section_titles,
    tokens,
)


def test_words_are_stemmed_and_question_words_dropped():
    assert tokens("Resolving") == tokens("resolved") == tokens("resolves")
    assert tokens("installations") == tokens("installation")
    assert tokens("Which quarter had the highest margin?") == ["quarter", "highest", "margin"]


def test_numbers_keep_their_digits_without_thousands_separators():
    assert tokens("48,600 tonnes in 2025") == ["48600", "tonn", "2025"]


def test_chinese_is_indexed_as_bigrams_across_line_breaks():
    assert tokens("光伏项目") == ["光伏", "伏项", "项目"]
    # A line break inside Chinese text is layout, not a word break.
    assert tokens("光伏\n项目") == tokens("光伏项目")
    # Question words go; function characters split a run.
    assert tokens("哪个季度的利润率最高？") == ["季度", "利润", "润率", "率最", "最高"]


def test_headings_and_captions_are_fields():
    text = ("3.2 Solar installation\nThe plant ran well in the year, as expected.\n"
            "Figure 7: Energy use by site\nQuarterly Revenue By Region\n表3 各地区员工人数\n"
            "revenue 4.2 5.1\n")
    assert fields_of(text) == ["3.2 Solar installation", "Figure 7: Energy use by site",
                               "Quarterly Revenue By Region", "表3 各地区员工人数"]


def test_a_stemmed_match_outranks_pages_without_the_words():
    index = PageIndex([
        PageText(1, "Introduction. The company makes pumps and valves for industry."),
        PageText(2, "The customs dispute was resolved after long talks with the authorities."),
        PageText(3, "Revenue rose in every region, and costs fell."),
    ])
    ranked = index.rank(make_query("How was the customs dispute resolving?"))
    best = max(ranked, key=lambda r: r.score)
    assert best.number == 2 and best.matched == ("customs", "dispute", "resolving")
    assert ranked[0].own_score == 0 and ranked[2].own_score == 0


def test_headings_count_more_than_a_passing_mention():
    index = PageIndex([
        PageText(1, "Solar Installation\nThe array on the roof was finished in May."),
        PageText(2, "The board also mentioned solar power once, among many other topics."),
    ])
    ranked = index.rank(make_query("solar"))
    assert ranked[0].own_score > ranked[1].own_score > 0


def test_a_continued_table_takes_a_share_of_the_page_before():
    index = PageIndex([
        PageText(1, "Table 4: Headcount by site\nLyon 120\nTurin 80"),
        PageText(2, "Porto 95\nGdansk 60\nLeeds 75"),
        PageText(3, "Customers and markets were stable over the year."),
    ])
    first, second, third = index.rank(make_query("headcount by site"))
    assert second.own_score == 0 and second.score > third.score == 0
    assert second.score == pytest.approx(0.4 * first.own_score)


def test_expansion_terms_find_a_page_the_question_does_not_name():
    index = PageIndex([
        PageText(1, "The solar installation on the Lyon roof produced 412 MWh in its first "
                    "year, more than the plant's lighting uses."),
        PageText(2, "Revenue rose in every region, and costs fell in the second half."),
        PageText(3, "Staff turnover fell after the new shift rota was introduced."),
        PageText(4, "French customers ordered more control panels for their cabinets."),
    ])
    question = "How much power do the French rooftop panels make?"
    plain = index.rank(make_query(question))
    assert max(plain, key=lambda r: r.score).number == 4
    # What a model suggests for it: the specific names the question stands for.
    terms = ["solar panels", "photovoltaic", "Lyon", "roof", "electricity", "installation"]
    expanded = index.rank(make_query(question, terms))
    assert max(expanded, key=lambda r: r.score).number == 1
    assert expanded[0].matched == ("solar", "Lyon", "roof", "installation")
    # A term the question already has counts once.
    assert make_query("panels", ["solar panels"]).weights == {"panel": 1.0, "solar": 1.0}


def test_the_outline_gives_its_title_to_every_page_of_its_section():
    titles = section_titles([(1, "Intro", 1), (1, "Finance", 3), (2, "Revenue", 3),
                             (2, "Costs", 5), (1, "Outlook", 8)], 9)
    assert titles[3] == [("Finance", 2), ("Revenue", 2)]
    assert titles[6] == [("Finance", 1), ("Costs", 1)]
    assert titles[9] == [("Outlook", 1)] and 8 in titles and titles[2] == [("Intro", 1)]


def test_matched_words_are_the_users_own():
    assert make_query("Resolving disputes").words == {"resolv": "Resolving", "disput": "disputes"}
