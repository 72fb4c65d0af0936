"""Canonical columns of the accounts and reps tables: names, aliases, dtypes, order.

This module is the single source of truth for what a terrmap input file may contain.
The readers (:mod:`terrmap.load`), the checks (:mod:`terrmap.validate`) and the
dashboard's column-mapping form all read the specs below; nothing else hard-codes a
column name list.

Header matching is forgiving: case, spaces, underscores, hyphens and dots are ignored,
so ``"Account ID"``, ``account_id`` and ``ACCOUNT-ID`` are the same header, and the
usual aliases are recognised (``latitude``/``Lat``, ``lng``/``long``/``longitude``,
``zipcode``/``postal_code``, Salesforce's ``BillingLatitude``, ...). ``x``/``y`` are
read as longitude/latitude only as a last resort, because they are often projected
metres; the range checks then say so.

Examples
--------
>>> match_columns(["Account ID", "Latitude", "LNG", "Notes"], kind="accounts").mapping
{'Account ID': 'account_id', 'Latitude': 'lat', 'LNG': 'lon'}
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from terrmap.errors import Problem

__all__ = [
    "ACCOUNT_COLUMNS",
    "BOOL_FALSE",
    "BOOL_TRUE",
    "DEFAULT_CAPACITY_HOURS",
    "HOURS_PER_MONTH_MAX",
    "REP_COLUMNS",
    "SEGMENTS",
    "SEGMENT_ALIASES",
    "TIER_ALIASES",
    "ColumnMatch",
    "ColumnSpec",
    "Kind",
    "ValueKind",
    "column_specs",
    "dtypes",
    "match_columns",
    "normalize_header",
    "optional_columns",
    "output_columns",
    "required_columns",
    "suggest_column",
]

Kind = Literal["accounts", "reps"]
ValueKind = Literal[
    "id", "text", "float", "tier", "segment", "zip", "date", "time", "bool", "industries"
]

#: Monthly capacity a rep gets when the roster leaves ``capacity_hours`` blank.
DEFAULT_CAPACITY_HOURS = 140.0
#: Hours in the longest month; a monthly workload or capacity above it is a typo.
HOURS_PER_MONTH_MAX = 744.0
SEGMENTS: tuple[str, ...] = ("SMB", "MM", "ENT")
#: Accepted spellings (normalised: lower case, letters and digits only) per segment.
SEGMENT_ALIASES: Mapping[str, str] = {
    **dict.fromkeys(["smb", "small", "smallbusiness", "sb", "smallmidsizebusiness"], "SMB"),
    **dict.fromkeys(["mm", "mid", "midmarket", "midsize", "midsized", "mme"], "MM"),
    **dict.fromkeys(["ent", "enterprise", "large", "largeenterprise", "strategic"], "ENT"),
}
#: Accepted spellings (normalised) per tier: 1/2/3, "T1", "Tier 1" and A/B/C.
TIER_ALIASES: Mapping[str, int] = {f"{p}{t}": t for t in (1, 2, 3) for p in ("", "t", "tier")} | {
    "a": 1,
    "b": 2,
    "c": 3,
}
BOOL_TRUE: frozenset[str] = frozenset({"true", "t", "yes", "y", "1", "x", "locked"})
BOOL_FALSE: frozenset[str] = frozenset({"false", "f", "no", "n", "0", "unlocked"})

_DTYPE: Mapping[ValueKind, str] = {
    "id": "str",
    "text": "str",
    "float": "float64",
    "tier": "Int8",
    "segment": "str",
    "zip": "str",
    "date": "datetime64[ns]",
    "time": "str",  # "HH:MM", 24-hour clock
    "bool": "bool",
    "industries": "str",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column.

    Attributes
    ----------
    name
        Canonical name in the loaded frame.
    value
        How cells are parsed and checked (see :data:`ValueKind`).
    required
        Whether the file must have the column. Location columns are not required one
        by one; ``group`` says which alternatives place a row.
    aliases
        Other headers that mean this column, best first (compared normalised).
    description
        Short help text for the column-mapping form.
    group
        ``"location"`` for the columns that place a row (lat+lon, or a ZIP).
    """

    name: str
    value: ValueKind
    required: bool = False
    aliases: tuple[str, ...] = ()
    description: str = ""
    group: str | None = None

    @property
    def dtype(self) -> str:
        """The pandas dtype of this column in the loaded frame."""
        return _DTYPE[self.value]


def _spec(
    name: str,
    value: ValueKind,
    aliases: str,
    description: str,
    *,
    required: bool = False,
    group: str | None = None,
) -> ColumnSpec:
    return ColumnSpec(name, value, required, tuple(aliases.split()), description, group)


# Aliases best first, separated by spaces; they are compared normalised.
_LAT = "latitude lat_deg lat_dd geo_lat billing_latitude shipping_latitude"
_LON = "lng long longitude lon_deg lon_dd geo_lon geo_lng billing_longitude shipping_longitude"
_ZIP = (
    "zipcode zip_code zip5 postal_code postcode postal billing_postal_code "
    "shipping_postal_code mailing_postal_code"
)

ACCOUNT_COLUMNS: tuple[ColumnSpec, ...] = (
    _spec("account_id", "id",
          "id accountid account_number account_no acct_id account customer_id customer_number "
          "crm_id",
          "Unique id of the account (text; leading zeros are kept).", required=True),
    _spec("name", "text",
          "account_name company company_name customer customer_name business_name",
          "Account name shown on the map and in tables."),
    _spec("lat", "float", f"{_LAT} y", "Latitude in WGS84 degrees (-90..90).",
          group="location"),
    _spec("lon", "float", f"{_LON} x", "Longitude in WGS84 degrees (-180..180).",
          group="location"),
    _spec("zip", "zip", _ZIP,
          "US ZIP code; places the account at the ZIP centre when lat/lon are blank.",
          group="location"),
    _spec("approximate", "bool", "is_approximate approx",
          "True when the location is only a ZIP centre."),
    _spec("industry", "text", "vertical sector industry_name", "Industry or vertical."),
    _spec("segment", "segment", "customer_segment market_segment size_segment account_segment",
          "SMB, MM (mid-market) or ENT (enterprise)."),
    _spec("employees", "float",
          "employee_count num_employees number_of_employees headcount staff",
          "Number of employees (>= 0)."),
    _spec("acv", "float",
          "annual_contract_value arr contract_value expected_acv potential_acv acv_usd",
          "Annual contract value in USD (>= 0)."),
    _spec("win_rate", "float",
          "win_probability probability win_pct win_percent close_rate propensity",
          "Chance of winning, 0..1 (35% and a 0..100 column are accepted)."),
    _spec("tier", "tier", "account_tier tier_level abc abc_class",
          "1, 2 or 3 (also T1, Tier 1, A/B/C); blank = derived by scoring."),
    _spec("workload_hours", "float", "workload hours_per_month monthly_hours service_hours",
          "Hours per month this account needs; blank = from the workload model."),
    _spec("owner", "id",
          "owner_id rep_id rep account_owner owner_rep_id assigned_rep sales_rep "
          "territory_owner",
          "rep_id of the current owner."),
    _spec("last_activity", "date",
          "last_activity_date last_visit last_visit_date last_contact last_contact_date "
          "last_touch",
          "Date of the last visit or activity."),
    _spec("locked", "bool", "lock is_locked pinned keep_owner do_not_move",
          "True keeps the account with its owner in redesigns."),
    _spec("visit_from", "time",
          "visit_window_start window_start window_open opens open_from open_time "
          "available_from visit_after earliest_visit",
          "Earliest time a visit may start (HH:MM, local; e.g. 09:00); blank = any time."),
    _spec("visit_until", "time",
          "visit_window_end window_end window_close closes open_until close_time "
          "available_until visit_before latest_visit",
          "Latest time a visit may start (HH:MM, local; e.g. 15:30); blank = any time."),
)  # fmt: skip

REP_COLUMNS: tuple[ColumnSpec, ...] = (
    _spec("rep_id", "id",
          "id repid rep owner_id employee_id user_id salesperson_id sales_rep_id",
          "Unique id of the rep (the value accounts use in 'owner').", required=True),
    _spec("name", "text", "rep_name full_name employee_name salesperson",
          "Rep name; the rep_id is shown when blank."),
    _spec("home_lat", "float", f"home_latitude base_lat base_latitude lat {_LAT} y",
          "Latitude of the rep's home or base, WGS84 degrees.", group="location"),
    _spec("home_lon", "float",
          f"home_lng home_long home_longitude base_lon base_lng base_longitude lon {_LON} x",
          "Longitude of the rep's home or base, WGS84 degrees.", group="location"),
    _spec("home_zip", "zip",
          f"home_zipcode home_zip_code home_postal_code base_zip zip {_ZIP}",
          "US ZIP code of the home; used when home_lat/home_lon are blank.", group="location"),
    _spec("approximate", "bool", "is_approximate approx",
          "True when the home is only a ZIP centre."),
    _spec("capacity_hours", "float",
          "capacity hours monthly_capacity capacity_per_month available_hours hours_per_month "
          "monthly_hours",
          f"Selling hours per month; blank = {DEFAULT_CAPACITY_HOURS:g}."),
    _spec("segment", "segment", "rep_segment covers_segment",
          "Segment the rep covers (SMB, MM, ENT); blank = any."),
    _spec("industries", "industries", "industry verticals vertical specialties",
          "Industries the rep specialises in, separated by ';'."),
    _spec("start_date", "date", "hire_date started start date_hired",
          "Date the rep started (or starts)."),
    _spec("region", "text", "sales_region division rep_region",
          "Region the rep's district belongs to (roll-ups); blank = none."),
    _spec("district", "text", "sales_district team area rep_district manager",
          "District or team the rep belongs to (roll-ups); blank = none."),
)  # fmt: skip

_SPECS: Mapping[Kind, tuple[ColumnSpec, ...]] = {
    "accounts": ACCOUNT_COLUMNS,
    "reps": REP_COLUMNS,
}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def column_specs(kind: Kind) -> tuple[ColumnSpec, ...]:
    """The column specs of ``kind``, in output order."""
    return _SPECS[kind]


def output_columns(kind: Kind) -> list[str]:
    """Canonical column names of ``kind`` in the order the loaded frame has them."""
    return [s.name for s in _SPECS[kind]]


def required_columns(kind: Kind) -> list[str]:
    """Columns the file must have (besides a location: lat+lon or a ZIP)."""
    return [s.name for s in _SPECS[kind] if s.required]


def optional_columns(kind: Kind) -> list[str]:
    """Columns the file may have, including the location alternatives."""
    return [s.name for s in _SPECS[kind] if not s.required]


def dtypes(kind: Kind) -> dict[str, str]:
    """Canonical column name -> pandas dtype of the loaded frame."""
    return {s.name: s.dtype for s in _SPECS[kind]}


def normalize_header(name: object) -> str:
    """Header comparison key: lower case, letters and digits only.

    >>> normalize_header(" Account-ID ")
    'accountid'
    """
    text = str(name).replace("\ufeff", "").strip().lower()
    return _NON_ALNUM.sub("", text)


def _alias_ranks(kind: Kind) -> dict[str, tuple[str, int]]:
    """Normalised header -> (canonical name, rank); rank 0 is the canonical name."""
    ranks: dict[str, tuple[str, int]] = {}
    for spec in _SPECS[kind]:
        for rank, alias in enumerate((spec.name, *spec.aliases)):
            ranks.setdefault(normalize_header(alias), (spec.name, rank))
    return ranks


def suggest_column(wanted: str, columns: Iterable[str], *, kind: Kind) -> str | None:
    """The file column whose header is closest to ``wanted`` or one of its aliases."""
    cols = [str(c) for c in columns]
    keys = {normalize_header(c): c for c in cols}
    spec = next(s for s in _SPECS[kind] if s.name == wanted)
    for alias in (spec.name, *spec.aliases):
        close = difflib.get_close_matches(normalize_header(alias), list(keys), n=1, cutoff=0.75)
        if close:
            return keys[close[0]]
    close = difflib.get_close_matches(wanted, cols, n=1, cutoff=0.6)
    return close[0] if close else None


@dataclass(frozen=True)
class ColumnMatch:
    """Which file column feeds which canonical column.

    Attributes
    ----------
    mapping
        File column -> canonical name, for every column used.
    ignored
        File columns left out on purpose (a better-ranked alias won, or the user's
        ``column_map`` said to ignore them).
    problems
        File-level problems: a bad ``column_map`` entry or two equally good headers.
    notes
        What the matcher decided that the user should know.
    """

    mapping: dict[str, str]
    ignored: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def source_of(self, canonical: str) -> str | None:
        """The file column that feeds ``canonical``, if any."""
        return next((col for col, name in self.mapping.items() if name == canonical), None)


def _apply_user_map(
    columns: Sequence[str], column_map: Mapping[str, str | None], kind: Kind
) -> tuple[dict[str, str], set[str], list[Problem]]:
    names = set(output_columns(kind))
    mapping: dict[str, str] = {}
    ignored: set[str] = set()
    problems: list[Problem] = []
    for col, target in column_map.items():
        if col not in columns:
            problems.append(
                Problem(
                    None,
                    col,
                    None,
                    "column_map names a column the file does not have",
                    f"choose one of the file's columns: {_listing(columns)}",
                )
            )
        elif target is None or target == "":
            ignored.add(col)
        elif target not in names:
            problems.append(
                Problem(
                    None,
                    col,
                    target,
                    f"column_map target is not a {kind} column",
                    f"map it to one of: {', '.join(sorted(names))}",
                )
            )
        elif target in mapping.values():
            other = next(c for c, t in mapping.items() if t == target)
            problems.append(
                Problem(
                    None,
                    col,
                    target,
                    f"column_map maps both '{other}' and '{col}' to '{target}'",
                    "map only one column to it",
                )
            )
        else:
            mapping[col] = target
    return mapping, ignored, problems


def match_columns(
    columns: Iterable[object],
    *,
    kind: Kind,
    column_map: Mapping[str, str | None] | None = None,
) -> ColumnMatch:
    """Match file headers to canonical columns.

    Parameters
    ----------
    columns
        The file's headers, in file order.
    kind
        ``"accounts"`` or ``"reps"``.
    column_map
        The user's choices, file column -> canonical name (``None`` or ``""`` ignores
        the column). They win over the automatic matching.

    Returns
    -------
    ColumnMatch
        Unmatched columns are neither mapped nor ignored: the loader keeps them as
        extra columns.
    """
    cols = [str(c) for c in columns]
    mapping, ignored, problems = _apply_user_map(cols, column_map or {}, kind)
    taken = set(mapping.values())
    ranks = _alias_ranks(kind)
    best: dict[str, list[tuple[int, str]]] = {}
    for col in cols:
        if col in mapping or col in ignored:
            continue
        hit = ranks.get(normalize_header(col))
        if hit is not None and hit[0] not in taken:
            best.setdefault(hit[0], []).append((hit[1], col))
    notes: list[str] = []
    for canonical, found in best.items():
        found.sort()
        rank, col = found[0]
        if len(found) > 1 and found[1][0] == rank:
            problems.append(
                Problem(
                    None,
                    found[1][1],
                    None,
                    f"columns '{col}' and '{found[1][1]}' both look like '{canonical}'",
                    "rename or remove one of them, or choose "
                    "the column on the Data page (column_map)",
                )
            )
            continue
        mapping[col] = canonical
        for _, other in found[1:]:
            ignored.add(other)
            notes.append(f"Column '{other}' ignored: '{col}' already gives '{canonical}'.")
        if normalize_header(col) in ("x", "y"):
            notes.append(
                f"Read column '{col}' as '{canonical}' in degrees; "
                "projected x/y coordinates must be converted to WGS84 first."
            )
    ordered = {c: mapping[c] for c in cols if c in mapping}
    return ColumnMatch(
        ordered, tuple(c for c in cols if c in ignored), tuple(problems), tuple(notes)
    )


def _listing(columns: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(f"'{c}'" for c in columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")
