"""By-ward tables of report rows for a province's 168 wards: filtered by name, sorted by a column and paginated from
GET parameters, so that they work as plain links and forms without JavaScript."""

from django.core.paginator import Paginator
from django.utils.translation import gettext_lazy as _

from borrowers.models import fold_name

PER_PAGE = 25

#: Sortable columns of a by-ward table: (key, heading, numeric).
WARD_COLUMNS = (
    ("name", _("Ward"), False),
    ("groups", _("Number of groups"), True),
    ("households", _("Number of households"), True),
    ("outstanding", _("Outstanding"), True),
    ("overdue", _("Overdue"), True),
    ("overdue_ratio", _("Overdue ratio"), True),
)


def query_with(params, **changes):
    """The query string of `params` (a QueryDict) with `changes` set; a None or empty value drops the parameter."""
    query = params.copy()
    for name, value in changes.items():
        if value in (None, ""):
            query.pop(name, None)
        else:
            query[name] = value
    return query.urlencode()


def _sort_value(row, key):
    if key == "name":
        return fold_name(row["ward_obj"].name) if row.get("ward_obj") else ""
    value = row.get(key)
    return -1 if value is None else value  # a ward with nothing outstanding has no ratio: lowest


class WardTable:
    """Rows that each carry `ward_obj`, narrowed by `<prefix>_q` (a part of the name, accents ignored), ordered by
    `<prefix>_sort` (a column key, "-" first for descending; default the ward codes' order) and cut to page
    `<prefix>_page`. `columns` lists the sortable columns (key, heading, numeric)."""

    def __init__(self, rows, params, *, prefix="ward", columns=WARD_COLUMNS, per_page=PER_PAGE, anchor=""):
        self.params, self.prefix, self.anchor = params, prefix, anchor
        self.q_name, self.sort_name, self.page_name = f"{prefix}_q", f"{prefix}_sort", f"{prefix}_page"
        self.q = (params.get(self.q_name) or "").strip()[:100]
        self.keys = {key for key, _heading, _numeric in columns}
        sort = params.get(self.sort_name) or ""
        self.sort = sort if sort.removeprefix("-") in self.keys else ""
        self.total = len(rows)
        if self.q:
            words = fold_name(self.q)
            rows = [row for row in rows if row.get("ward_obj") and words in fold_name(row["ward_obj"].name)]
        if self.sort:
            key = self.sort.removeprefix("-")
            # Python's sort is stable: ties keep the ward codes' order.
            rows = sorted(rows, key=lambda row: _sort_value(row, key), reverse=self.sort.startswith("-"))
        self.page = Paginator(rows, per_page).get_page(params.get(self.page_name))
        self.rows = list(self.page.object_list)
        self.headers = [self._header(key, heading, numeric) for key, heading, numeric in columns]

    def _header(self, key, heading, numeric):
        current = self.sort.removeprefix("-") == key
        descending = self.sort.startswith("-")
        if current:
            aria_sort = "descending" if descending else "ascending"
            next_sort = key if descending else f"-{key}"
        else:
            aria_sort = None
            # Figures are read largest first; names from A.
            next_sort = f"-{key}" if numeric else key
        return {
            "key": key,
            "heading": heading,
            "numeric": numeric,
            "aria_sort": aria_sort,
            "href": self.href(**{self.sort_name: next_sort, self.page_name: None}),
        }

    def href(self, **changes):
        return f"?{query_with(self.params, **changes)}{self.anchor}"

    @property
    def hidden_params(self):
        """(name, value) of the page's other parameters, kept by the name search form."""
        skip = {self.q_name, self.page_name}
        return [(name, value) for name, values in self.params.lists() if name not in skip for value in values]

    @property
    def clear_href(self):
        return self.href(**{self.q_name: None, self.page_name: None})

    @property
    def previous_href(self):
        return self.href(**{self.page_name: self.page.previous_page_number()}) if self.page.has_previous() else None

    @property
    def next_href(self):
        return self.href(**{self.page_name: self.page.next_page_number()}) if self.page.has_next() else None
