"""The office's report as a page: charts, tables and drill-down, in English or Chinese.

``render_report_page(report, lang, organisation=..., links=...)`` gives the HTML of one
``Report``; ``InPageCases`` puts the cases behind each number into the file, ``QueryLinks``
links them to a service's case list. ``sections`` says how to add a section.
"""

from .cases import CaseLinks, CaseQuery, InPageCases, QueryLinks
from .labels import LANGUAGES
from .page import render_report_page

__all__ = ["LANGUAGES", "CaseLinks", "CaseQuery", "InPageCases", "QueryLinks",
           "render_report_page"]
