"""Realistic sample accounts and reps, generated from real US ZIP-code locations.

The generator is vectorised (a million accounts take a few seconds) and deterministic:
the same arguments give identical frames. How each column is made:

* **Location** -- a STANDARD, active ZIP code of the region (``terrmap.postal``, the
  ``zipcodes`` package, offline), drawn with weight ``(ZIPs within 10 km) ** 0.6``:
  ZIP codes are already small where people live, and the weight also reflects that an
  urban ZIP holds more businesses than a rural one, so metros come out markedly denser.
  The point is then moved a short way (at most 30% of the distance to the nearest ZIP
  and at most 1.5 km) towards a neighbouring ZIP centroid, so accounts of one ZIP do not
  sit on one point yet stay on land near their ZIP.
* **Firmographics** -- industry and segment mixes shift from rural to urban with ZIP
  density; employees follow the segment (SMB 2-99, MM 100-999, ENT 1,000+); ACV is
  lognormal by segment, scaled by company size and industry; win rate is beta by
  segment and industry fit. A few values are left blank, as in any CRM export
  (industry 3%, segment 1.5%, employees 6%, ACV 4%, win rate 8%), so the scoring
  defaults are exercised.
* **Tier** -- the scoring model's tier (:mod:`terrmap.scoring`), overridden by one
  level for 10% of accounts (a rep's judgement) and left blank for 15% (scoring
  derives those).
* **Last activity** -- days before :data:`REFERENCE_DATE`, exponential with a mean that
  follows the visit cadence of the tier; 4% were never visited (blank), and a good
  share of tier 2-3 accounts are untouched for 90+ days.
* **Owner** -- a naive legacy assignment: each state belongs to the reps living in it
  (a state with no rep goes to the rep nearest to it), split among them in
  alphabetical blocks of the state's city names. The starting plan is therefore
  visibly unbalanced and interleaved. 1% of accounts have no owner yet; ~1% strategic
  ENT accounts are locked.
* **Visit windows** -- by industry, as reps meet them: restaurants and hotels
  (Hospitality) take visits 14:00-17:00 between the rushes, healthcare practices
  before noon (08:00-11:30), retail stores from 10:00; a few accounts elsewhere only
  in the morning or only from 13:00. ``visit_from`` / ``visit_until`` are blank for the
  rest (any time).
* **Reps** -- the region's demand is split into as many parts of equal expected
  accounts as there are reps (recursive bisection), and each rep lives in the largest
  city near the centre of a part: metros get several reps, rural states one, all at
  real cities. Capacity 130-160 hours a month; about one rep in twelve is a new hire
  at 60% of 140 hours. ``segment`` is blank (generalists: any segment); 40% list one
  or two industries they specialise in. ``district`` is the home state and
  ``region`` its US Census division (for roll-ups).

With the default :class:`~terrmap.scoring.ScoringConfig`, ~420 accounts per rep make a
workload of about 90% of capacity (5,000 accounts and 12 reps: the bundled sample);
``n_reps=None`` sizes the team that way for any number of accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.spatial import cKDTree

from terrmap.errors import TerrmapError
from terrmap.postal import zip_table
from terrmap.scoring import (
    ScoringConfig,
    derive_tiers,
    fit_scores,
    opportunity,
    score_accounts,
)

__all__ = [
    "REFERENCE_DATE",
    "REGIONS",
    "Region",
    "RegionName",
    "make_sample",
    "suggest_rep_count",
    "write_sample",
]

RegionName = Literal["northeast", "midwest", "southeast", "texas", "pacific", "us"]
REFERENCE_DATE = date(2026, 10, 1)
"""The 'today' of the sample: last-activity dates are days before it."""

EARTH_KM = 6371.0  # the radius the committed sample was generated with
DENSITY_RADIUS_KM = 10.0
DENSITY_EXPONENT = 0.6
MAX_JITTER_KM = 1.5
ACCOUNT_COLUMNS = (
    "account_id", "name", "lat", "lon", "zip", "city", "state", "industry", "segment",
    "employees", "acv", "win_rate", "tier", "owner", "last_activity", "locked", "visit_from",
    "visit_until",
)  # fmt: skip
#: Visit windows by industry: (share of its accounts with a window, from, until).
_WINDOWS: dict[str, tuple[float, str | None, str | None]] = {
    "Hospitality": (0.7, "14:00", "17:00"),
    "Healthcare": (0.5, "08:00", "11:30"),
    "Retail": (0.4, "10:00", None),
}
_OTHER_WINDOWS = ((0.04, "08:00", "12:00"), (0.04, "13:00", None))
REP_COLUMNS = (
    "rep_id", "name", "home_lat", "home_lon", "home_zip", "home_city", "home_state",
    "capacity_hours", "segment", "industries", "start_date", "region", "district",
)  # fmt: skip
#: US Census divisions: a rep's region is the division of their home state.
_DIVISIONS: dict[str, str] = {
    **dict.fromkeys(["CT", "ME", "MA", "NH", "RI", "VT"], "New England"),
    **dict.fromkeys(["NJ", "NY", "PA"], "Mid-Atlantic"),
    **dict.fromkeys(["IL", "IN", "MI", "OH", "WI"], "East North Central"),
    **dict.fromkeys(["IA", "KS", "MN", "MO", "NE", "ND", "SD"], "West North Central"),
    **dict.fromkeys(["DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV"], "South Atlantic"),
    **dict.fromkeys(["AL", "KY", "MS", "TN"], "East South Central"),
    **dict.fromkeys(["AR", "LA", "OK", "TX"], "West South Central"),
    **dict.fromkeys(["AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY"], "Mountain"),
    **dict.fromkeys(["AK", "CA", "HI", "OR", "WA"], "Pacific"),
}


@dataclass(frozen=True)
class Region:
    """A named set of states the sample can be drawn from."""

    name: str
    label: str
    states: tuple[str, ...]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_CONTIGUOUS = _words(
    "AL AR AZ CA CO CT DC DE FL GA IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE "
    "NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
)
REGIONS: dict[str, Region] = {
    "northeast": Region(
        "northeast",
        "US Northeast (Census region)",
        ("CT", "MA", "ME", "NH", "NJ", "NY", "PA", "RI", "VT"),
    ),
    "midwest": Region(
        "midwest",
        "US Midwest (Census region)",
        ("IA", "IL", "IN", "KS", "MI", "MN", "MO", "ND", "NE", "OH", "SD", "WI"),
    ),
    "southeast": Region("southeast", "US Southeast", ("AL", "FL", "GA", "MS", "NC", "SC", "TN")),
    "texas": Region("texas", "Texas", ("TX",)),
    "pacific": Region("pacific", "US Pacific coast", ("CA", "OR", "WA")),
    "us": Region("us", "Contiguous United States", tuple(_CONTIGUOUS)),
}


# --------------------------------------------------------------------------- word lists

INDUSTRIES: tuple[str, ...] = (
    "Manufacturing", "Healthcare", "Construction", "Retail", "Professional Services",
    "Wholesale & Distribution", "Hospitality", "Transportation & Logistics",
    "Financial Services", "Technology", "Education",
)  # fmt: skip
INDUSTRY_RURAL = np.array([0.22, 0.13, 0.15, 0.13, 0.06, 0.09, 0.08, 0.08, 0.02, 0.01, 0.03])
INDUSTRY_URBAN = np.array([0.10, 0.15, 0.08, 0.12, 0.17, 0.07, 0.09, 0.05, 0.08, 0.06, 0.03])
INDUSTRY_ACV = np.array([1.15, 1.1, 1.0, 0.8, 0.9, 1.05, 0.7, 1.0, 1.2, 1.1, 0.85])
INDUSTRY_FIT = np.array(
    [
        dict(ScoringConfig().industry_fit).get(i, ScoringConfig().other_industry_fit)
        for i in INDUSTRIES
    ]
)
_CORES = {
    "Manufacturing": "Precision Machining|Tool & Die|Plastics|Metal Fabrication|Industries|"
    "Manufacturing|Components|Castings|Packaging|Controls|Fasteners|Coatings",
    "Healthcare": "Medical Group|Family Practice|Dental Associates|Orthopedics|Health Partners|"
    "Physical Therapy|Pediatrics|Urgent Care|Home Health|Veterinary Clinic|Imaging Center",
    "Construction": "Builders|Contracting|Construction|Roofing|Electric|Plumbing & Heating|"
    "Paving|Excavation|Mechanical|HVAC|Concrete|Restoration",
    "Retail": "Hardware|Home Center|Outfitters|Market|Furniture|Appliance|Auto Parts|"
    "Garden Center|Pharmacy|Sporting Goods|Farm Supply",
    "Professional Services": "Consulting|Engineering|Architects|Accounting|Law Group|Partners|"
    "Advisors|Staffing|Marketing|Surveying",
    "Wholesale & Distribution": "Supply|Distributors|Wholesale|Industrial Supply|"
    "Foodservice|Trading|Electrical Supply|Paper & Packaging|Beverage Distributors",
    "Hospitality": "Hotel|Inn & Suites|Restaurant Group|Catering|Diner|Brewing|Banquet Hall|"
    "Resort|Bistro|Hospitality Group",
    "Transportation & Logistics": "Logistics|Trucking|Freight|Transport|Moving & Storage|"
    "Courier|Warehousing|Fleet Services|Bus Lines",
    "Financial Services": "Savings Bank|Credit Union|Insurance Agency|Financial Group|"
    "Wealth Management|Capital|Mortgage|Trust Company",
    "Technology": "Software|Systems|Technologies|Data|Networks|IT Solutions|Labs|Digital|Analytics",
    "Education": "Academy|Learning Center|Montessori School|Charter School|Technical Institute|"
    "Day School|Tutoring|College",
}
CORES: tuple[tuple[str, ...], ...] = tuple(tuple(_CORES[i].split("|")) for i in INDUSTRIES)
CORE_COUNTS = np.array([len(c) for c in CORES])
# suffix by segment (SMB, MM, ENT); "" = none. Same length for every segment.
SUFFIXES = (
    ("", "", "", "LLC", "Co.", "Inc."),
    ("", "Inc.", "LLC", "Group", "Corp.", "Inc."),
    ("Corporation", "Holdings", "Inc.", "Group", "International", "Inc."),
)
_NO_SUFFIX = {"Healthcare", "Financial Services", "Education"}
PREFIXES = _words(
    "Summit Harbor Keystone Granite Liberty Riverside Lakeside Pinnacle Northstar Evergreen "
    "Bayview Hillcrest Meridian Crescent Patriot Heritage Union Pioneer Cornerstone Atlantic "
    "Empire Colonial Beacon Oakridge Maple Cedar Birchwood Stonebridge Fairview Brookside "
    "Ironwood Silverline Bluewater Redstone Clearwater Highland Valley Eastern Northern "
    "Tri-County Metro Capital Allied United Premier Apex Vanguard Sterling Landmark Gateway "
    "Horizon Anchor Compass Benchmark Frontier Crown Sentinel Prairie Lighthouse Greenfield"
)
SURNAMES = _words(
    "Miller Kowalski O'Brien Patel Nguyen Rossi Schmidt Murphy Johnson Goldberg Russo "
    "Sullivan Kim Garcia Morales Chen Walsh Novak Fitzgerald Bianchi Costa Shapiro Weiss "
    "Brennan Kelly Wagner Fischer Lombardi Romano Delgado Rivera Okafor Haddad Cohen Larsen "
    "Olsen Dubois Moreau Petrov Zhang Singh Ahmed Brooks Carter Hayes Foster Gallagher "
    "McCarthy Donovan Reilly Stein Baker Turner Parker Collins Bennett Reyes Alvarez Santos "
    "Yamamoto"
)
FIRST_NAMES = _words(
    "James Maria Robert Linda Michael Priya David Jennifer Daniel Aisha Thomas Sarah Kevin "
    "Emily Brian Nicole Carlos Laura Anthony Megan Marcus Rachel Steven Olivia Jason Grace "
    "Andrew Hannah Eric Sofia Ryan Chloe Jose Natalie Mark Lauren Paul Fatima Sean Julia "
    "Derek Monica Victor Erin Tyler Diana Omar Kayla Patrick Vanessa"
)


# --------------------------------------------------------------------------- geography


@dataclass(frozen=True)
class _ZipFrame:
    """The candidate ZIPs of a region with everything the generator needs per ZIP."""

    zips: np.ndarray  # 5-digit strings
    city: np.ndarray
    state: np.ndarray
    xyz: np.ndarray  # (n, 3) km on a sphere
    prob: np.ndarray  # draw probability
    density: np.ndarray  # rank of the density weight, 0..1
    neighbours: np.ndarray  # (n, 6) indices of the nearest other ZIPs
    nn_km: np.ndarray  # distance to the nearest other ZIP
    city_zips: np.ndarray  # number of the region's ZIPs that share this ZIP's city
    city_order: np.ndarray  # alphabetical rank of the city within its state, in [0, 1)


def _to_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return (
        np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la))) * EARTH_KM
    )


def _to_latlon(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.linalg.norm(xyz, axis=1)
    return np.degrees(np.arcsin(xyz[:, 2] / r)), np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0]))


@lru_cache(maxsize=8)
def _region_zips(region: str) -> _ZipFrame:
    table = zip_table()
    keep = (
        (table["zip_type"] == "STANDARD")
        & table["active"]
        & table["state"].isin(REGIONS[region].states)
    )
    t = table[keep]
    if t.empty:  # only if the zipcodes data changed shape
        raise TerrmapError(f"no STANDARD active ZIP codes found for region {region!r}")
    xyz = _to_xyz(t["lat"].to_numpy(float), t["lon"].to_numpy(float))
    tree = cKDTree(xyz)
    count = tree.query_ball_point(xyz, DENSITY_RADIUS_KM, return_length=True)
    weight = np.asarray(count, dtype=float) ** DENSITY_EXPONENT
    k = min(7, len(t))
    dist, idx = tree.query(xyz, k=k)
    idx = np.atleast_2d(idx).reshape(len(t), k)
    dist = np.atleast_2d(dist).reshape(len(t), k)
    frame = _ZipFrame(
        zips=t.index.to_numpy(dtype=object),
        city=t["city"].to_numpy(dtype=object),
        state=t["state"].to_numpy(dtype=object),
        xyz=xyz,
        prob=weight / weight.sum(),
        density=pd.Series(weight).rank(pct=True).to_numpy(),
        neighbours=idx[:, 1:] if k > 1 else idx,
        nn_km=dist[:, 1] if k > 1 else np.full(len(t), 2 * MAX_JITTER_KM),
        city_zips=t.groupby(["state", "city"])["lat"].transform("size").to_numpy(float),
        city_order=_city_order(t),
    )
    for array in vars(frame).values():  # shared by every caller through the cache
        array.setflags(write=False)
    return frame


def _city_order(t: pd.DataFrame) -> np.ndarray:
    """Alphabetical rank of each ZIP's city among its state's cities, scaled to [0, 1)."""
    key = t[["state", "city"]].reset_index(drop=True)
    cities = key.drop_duplicates().sort_values(["state", "city"], kind="stable")
    cities["order"] = cities.groupby("state").cumcount() / cities.groupby("state")[
        "city"
    ].transform("size")
    return key.merge(cities, on=["state", "city"], how="left")["order"].to_numpy(float)


def _place(z: _ZipFrame, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ZIP indices by density and jitter each point towards a neighbouring ZIP."""
    zi = rng.choice(len(z.zips), size=n, p=z.prob)
    nb = z.neighbours[zi, rng.integers(0, z.neighbours.shape[1], size=n)]
    step = z.xyz[nb] - z.xyz[zi]
    length = np.linalg.norm(step, axis=1)
    cap = np.minimum(MAX_JITTER_KM, 0.3 * z.nn_km[zi])
    target = rng.uniform(0.0, 1.0, size=n) * cap
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(length > 0, target / length, 0.0)
    noise = rng.normal(0.0, 1.0, size=(n, 3)) * (0.1 * cap)[:, None]
    return zi, z.xyz[zi] + step * scale[:, None] + noise


# --------------------------------------------------------------------------- accounts


def _strings(
    values: Sequence[str] | np.ndarray, codes: np.ndarray
) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as a pandas string array (code -1 -> missing), via pyarrow take."""
    taken = pa.array(list(values), type=pa.string()).take(pa.array(codes, mask=codes < 0))
    out: pd.api.extensions.ExtensionArray = pd.array(taken, dtype="str")
    return out


def _firmographics(density: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(density)
    urban = rng.uniform(size=n) < density
    industry = np.where(
        urban,
        rng.choice(len(INDUSTRIES), size=n, p=INDUSTRY_URBAN),
        rng.choice(len(INDUSTRIES), size=n, p=INDUSTRY_RURAL),
    )
    segment = np.where(
        urban,
        rng.choice(3, size=n, p=(0.58, 0.30, 0.12)),
        rng.choice(3, size=n, p=(0.74, 0.23, 0.03)),
    )
    med_emp = np.array([18.0, 280.0, 2_500.0])[segment]
    lo_emp = np.array([2.0, 100.0, 1_000.0])[segment]
    hi_emp = np.array([99.0, 999.0, 80_000.0])[segment]
    sigma = np.array([0.8, 0.6, 1.0])[segment]
    employees = np.clip(np.round(med_emp * np.exp(sigma * rng.normal(size=n))), lo_emp, hi_emp)
    med_acv = np.array([8_000.0, 35_000.0, 140_000.0])[segment]
    size = (employees / med_emp) ** 0.3
    acv = med_acv * size * INDUSTRY_ACV[industry] * np.exp(0.55 * rng.normal(size=n))
    acv = np.maximum(500.0, np.round(acv, -2))
    mean_win = np.array([0.32, 0.26, 0.19])[segment] + 0.06 * (INDUSTRY_FIT[industry] - 0.6)
    conc = 14.0
    win = rng.beta(mean_win * conc, (1 - mean_win) * conc)
    return {
        "industry": industry,
        "segment": segment,
        "employees": employees,
        "acv": acv,
        "win_rate": np.clip(np.round(win, 3), 0.01, 0.95),
    }


def _blank(values: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Codes with a share set to -1 (missing), like gaps in a CRM export."""
    return np.where(rng.uniform(size=len(values)) < share, -1, values)


def _take(words: Sequence[str], idx: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(list(words), type=pa.string()).take(pa.array(idx, mask=missing))


def _company_names(
    industry: np.ndarray, segment: np.ndarray, rng: np.random.Generator
) -> pd.api.extensions.ExtensionArray:
    """Plausible company names, e.g. "Keystone Tool & Die LLC", "Walsh & Kim Engineering".

    Patterns: ``prefix core suffix`` (50%), ``surname core suffix`` (35%) and
    ``surname & surname core suffix`` (15%); the core word comes from the industry and
    the legal suffix from the segment (none for healthcare, finance and education).
    Built with pyarrow string kernels, so a million names take a fraction of a second.
    """
    n = len(industry)
    pattern = rng.choice(3, size=n, p=(0.5, 0.35, 0.15))
    first = np.where(
        pattern == 0,
        rng.integers(0, len(PREFIXES), size=n),
        len(PREFIXES) + rng.integers(0, len(SURNAMES), size=n),
    )
    lead = _take(PREFIXES + SURNAMES, first)
    partner = _take(SURNAMES, rng.integers(0, len(SURNAMES), size=n), pattern != 2)
    lead = pc.binary_join_element_wise(lead, partner, " & ", null_handling="skip")
    offsets = np.concatenate(([0], np.cumsum(CORE_COUNTS)[:-1]))
    core_idx = offsets[industry] + (rng.uniform(size=n) * CORE_COUNTS[industry]).astype(np.int64)
    core = _take([w for cores in CORES for w in cores], core_idx)
    per_segment = len(SUFFIXES[0])
    suffix_idx = segment * per_segment + rng.integers(0, per_segment, size=n)
    no_suffix = np.isin(industry, [INDUSTRIES.index(i) for i in _NO_SUFFIX])
    suffix = _take([w for row in SUFFIXES for w in row], suffix_idx, no_suffix)
    names = pc.binary_join_element_wise(lead, core, suffix, " ", null_handling="skip")
    out: pd.api.extensions.ExtensionArray = pd.array(pc.utf8_rtrim_whitespace(names), dtype="str")
    return out


def _account_ids(n: int) -> pd.api.extensions.ExtensionArray:
    width = max(6, len(str(n)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    out: pd.api.extensions.ExtensionArray = pd.array(
        pc.binary_join_element_wise("A", digits, ""), dtype="str"
    )
    return out


def _given_tiers(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The file's tier and the tier scoring will use.

    The model's tier, moved one level for 10% (judgement), NaN for 15% (scoring
    derives those, i.e. uses the model's tier).
    """
    config = ScoringConfig()
    model = derive_tiers(fit_scores(frame, config), opportunity(frame, config), config)
    n = len(model)
    shift = np.where(rng.uniform(size=n) < 0.10, rng.choice((-1, 1), size=n), 0)
    tier = np.clip(model + shift, 1, 3).astype(float)
    blank = rng.uniform(size=n) < 0.15
    return np.where(blank, np.nan, tier), np.where(blank, model, tier)


def _last_activity(tier: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    mean_days = np.select([tier == 1, tier == 2], [25.0, 60.0], 140.0)
    days = np.minimum(np.round(rng.exponential(mean_days)), 1_095).astype("int64")
    when = np.datetime64(REFERENCE_DATE, "D") - days.astype("timedelta64[D]")
    return np.where(rng.uniform(size=len(tier)) < 0.04, np.datetime64("NaT"), when).astype(
        "datetime64[ns]"
    )


# --------------------------------------------------------------------------- reps


def _split_demand(x: np.ndarray, y: np.ndarray, w: np.ndarray, n: int) -> list[np.ndarray]:
    """Recursive coordinate bisection into ``n`` parts of (nearly) equal weight."""
    parts: list[np.ndarray] = []
    stack = [(np.arange(len(w)), n)]
    while stack:
        idx, k = stack.pop()
        if k == 1:
            parts.append(idx)
            continue
        k1 = k // 2
        axis = x[idx] if np.ptp(x[idx]) >= np.ptp(y[idx]) else y[idx]
        order = idx[np.argsort(axis, kind="stable")]
        cum = np.cumsum(w[order])
        cut = int(np.searchsorted(cum, cum[-1] * k1 / k))
        cut = min(max(cut, k1), len(order) - (k - k1))  # every part keeps a ZIP per rep
        stack += [(order[cut:], k - k1), (order[:cut], k1)]
    return parts


def _rep_homes(z: _ZipFrame, n_reps: int) -> np.ndarray:
    """Home ZIP per rep: the region's demand split into equal parts, a city near each centre.

    Headcount follows demand (a metro gets several reps, a rural state one). In each
    part the home is the ZIP that best trades size for closeness to the part's
    weighted centre: ``log(ZIPs of its city) + log(density weight) - km / 50``, so
    reps live in the larger cities of their patch; homes stay 15 km apart where the
    part allows it (metro reps live in different boroughs and suburbs).
    """
    lat, lon = _to_latlon(z.xyz)
    x = lon * np.cos(np.radians(lat.mean())) * 111.32
    y = lat * 110.57
    size = np.log(z.city_zips) + np.log(z.prob)
    homes: list[int] = []
    for part in _split_demand(x, y, z.prob, n_reps):
        w = z.prob[part]
        cx, cy = np.average(x[part], weights=w), np.average(y[part], weights=w)
        score = size[part] - np.hypot(x[part] - cx, y[part] - cy) / 50.0
        if homes:
            gap = np.hypot(x[part, None] - x[homes], y[part, None] - y[homes]).min(axis=1)
            score = np.where(gap < 15.0, score - 1e3, score)
        homes.append(int(part[np.argmax(score)]))
    home = np.array(homes, dtype=np.int64)
    return home[np.argsort(lon[home], kind="stable")]  # west to east: ids read across the map


def _rep_names(n: int, rng: np.random.Generator) -> list[str]:
    combos = len(FIRST_NAMES) * len(SURNAMES)
    picks = np.resize(rng.permutation(combos), n)
    names = [f"{FIRST_NAMES[i // len(SURNAMES)]} {SURNAMES[i % len(SURNAMES)]}" for i in picks]
    return [nm if k < combos else f"{nm} ({k // combos + 1})" for k, nm in enumerate(names)]


def _make_reps(z: _ZipFrame, n_reps: int, rng: np.random.Generator) -> pd.DataFrame:
    homes = _rep_homes(z, n_reps)
    lat, lon = _to_latlon(z.xyz[homes])
    capacity = rng.choice(np.arange(130.0, 161.0, 5.0), size=n_reps)
    start_days = rng.integers(0, (date(2025, 12, 31) - date(2012, 1, 1)).days, size=n_reps)
    start = np.datetime64(date(2012, 1, 1), "D") + start_days.astype("timedelta64[D]")
    n_new = 0 if n_reps < 4 else max(1, round(n_reps / 12))
    new = rng.choice(n_reps, size=n_new, replace=False)
    capacity[new] = 0.6 * 140.0
    start[new] = np.datetime64(REFERENCE_DATE, "D") - rng.integers(30, 90, size=n_new).astype(
        "timedelta64[D]"
    )
    focus = rng.uniform(size=n_reps) < 0.4
    picks = [
        rng.choice(len(INDUSTRIES), size=int(rng.integers(1, 3)), replace=False)
        for _ in range(n_reps)
    ]
    industries = [
        ";".join(INDUSTRIES[i] for i in sorted(p)) if f else None
        for p, f in zip(picks, focus, strict=True)
    ]
    width = max(2, len(str(n_reps)))
    frame = pd.DataFrame(
        {
            "rep_id": pd.array([f"R{i:0{width}d}" for i in range(1, n_reps + 1)], dtype="str"),
            "name": pd.array(_rep_names(n_reps, rng), dtype="str"),
            "home_lat": np.round(lat, 5),
            "home_lon": np.round(lon, 5),
            "home_zip": _strings(z.zips, homes),
            "home_city": _strings(z.city, homes),
            "home_state": _strings(z.state, homes),
            "capacity_hours": capacity,
            "segment": _strings([], np.full(n_reps, -1)),  # blank = any: geographic generalists
            "industries": pd.array(industries, dtype="str"),
            "start_date": start.astype("datetime64[ns]"),
        }
    )
    # Roll-ups: the district is the home state, the region its Census division.
    frame["district"] = frame["home_state"]
    frame["region"] = frame["home_state"].map(_DIVISIONS).astype("str")
    return frame


def _legacy_owners(
    z: _ZipFrame, zi: np.ndarray, homes_xyz: np.ndarray, home_state: np.ndarray
) -> np.ndarray:
    """Naive legacy owner (rep index) per account: by state, then alphabetical city blocks."""
    state_codes, states = pd.factorize(pd.Series(z.state[zi]))
    owner = np.empty(len(zi), dtype=np.int64)
    for s, state in enumerate(states):
        rows = np.flatnonzero(state_codes == s)
        reps = np.flatnonzero(home_state == state)
        if len(reps) == 0:  # nobody lives there: the rep nearest to the state's accounts
            centre = z.xyz[zi[rows]].mean(axis=0)
            reps = np.array([np.argmin(np.linalg.norm(homes_xyz - centre, axis=1))])
        owner[rows] = reps[(z.city_order[zi[rows]] * len(reps)).astype(np.int64)]
    return owner


# --------------------------------------------------------------------------- public API


def _check_args(n_accounts: int, n_reps: int | None, region: str) -> _ZipFrame:
    if region not in REGIONS:
        raise TerrmapError(f"unknown region {region!r}. Fix: use one of {', '.join(REGIONS)}")
    if not isinstance(n_accounts, int | np.integer) or n_accounts < 1:
        raise TerrmapError(f"n_accounts must be a positive integer, got {n_accounts!r}")
    z = _region_zips(region)
    if n_reps is not None and (
        not isinstance(n_reps, int | np.integer) or not 1 <= n_reps <= len(z.zips)
    ):
        raise TerrmapError(
            f"n_reps must be an integer in [1, {len(z.zips):,}] for region {region!r}, "
            f"got {n_reps!r}"
        )
    return z


def suggest_rep_count(
    accounts: pd.DataFrame, *, utilisation: float = 0.9, config: ScoringConfig | None = None
) -> int:
    """Reps of 140 hours a month needed so the accounts' workload fills ``utilisation`` of them.

    ``accounts`` is a file-shaped or canonical accounts frame; it is scored with
    ``config`` (default :class:`~terrmap.scoring.ScoringConfig`).
    """
    if not 0 < utilisation <= 1:
        raise TerrmapError(f"utilisation must lie in (0, 1], got {utilisation!r}")
    total = float(score_accounts(accounts, config)["workload_hours"].sum())
    return max(1, int(np.ceil(total / (utilisation * 140.0))))


def make_sample(
    n_accounts: int,
    n_reps: int | None = 12,
    *,
    region: RegionName | str = "northeast",
    random_state: int | None = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate realistic accounts and reps (file-shaped frames, columns as in the CSVs).

    Parameters
    ----------
    n_accounts
        Number of accounts.
    n_reps
        Number of reps; ``None`` sizes the team so the workload fills ~90% of capacity.
    region
        One of :data:`REGIONS`.
    random_state
        Seed; the same seed and arguments give identical frames.

    Returns
    -------
    tuple[pd.DataFrame, pd.DataFrame]
        ``(accounts, reps)``; see the module docstring for how each column is made.
    """
    z = _check_args(n_accounts, n_reps, region)
    seq = np.random.SeedSequence(random_state)
    rng = [np.random.default_rng(s) for s in seq.spawn(8)]  # child k is the same for any count
    zi, xyz = _place(z, n_accounts, rng[0])
    lat, lon = _to_latlon(xyz)
    firm = _firmographics(z.density[zi], rng[1])
    gaps = rng[2]
    segment = _blank(firm["segment"], 0.015, gaps)
    accounts = pd.DataFrame(
        {
            "account_id": _account_ids(n_accounts),
            "name": _company_names(firm["industry"], firm["segment"], rng[3]),
            "lat": np.round(lat, 5),
            "lon": np.round(lon, 5),
            "zip": _strings(z.zips, zi),
            "city": _strings(z.city, zi),
            "state": _strings(z.state, zi),
            "industry": _strings(INDUSTRIES, _blank(firm["industry"], 0.03, gaps)),
            "segment": _strings(["SMB", "MM", "ENT"], segment),
            "employees": pd.array(_nan_blank(firm["employees"], 0.06, gaps), dtype="Int64"),
            "acv": pd.array(_nan_blank(firm["acv"], 0.04, gaps), dtype="Int64"),
            "win_rate": _nan_blank(firm["win_rate"], 0.08, gaps),
        }
    )
    tier, effective_tier = _given_tiers(accounts, rng[4])
    accounts["tier"] = pd.array(tier, dtype="Int8")
    if n_reps is None:
        n_reps = suggest_rep_count(accounts)
    reps = _make_reps(z, n_reps, rng[5])
    homes_xyz = _to_xyz(reps["home_lat"].to_numpy(float), reps["home_lon"].to_numpy(float))
    owner = _legacy_owners(z, zi, homes_xyz, reps["home_state"].to_numpy(dtype=object))
    owner = _blank(owner, 0.01, rng[6])
    accounts["owner"] = _strings(reps["rep_id"].to_numpy(dtype=object), owner)
    accounts["last_activity"] = _last_activity(effective_tier, rng[6])
    locked = (segment == 2) & (effective_tier == 1) & (rng[6].uniform(size=n_accounts) < 0.3)
    accounts["locked"] = locked
    accounts["visit_from"], accounts["visit_until"] = _visit_windows(accounts["industry"], rng[7])
    return accounts[list(ACCOUNT_COLUMNS)], reps[list(REP_COLUMNS)]


def _visit_windows(industry: pd.Series, rng: np.random.Generator) -> tuple[pd.Series, pd.Series]:
    """``visit_from`` / ``visit_until`` text ("HH:MM" or missing), see the module docstring."""
    u = rng.uniform(size=len(industry))
    opens = pd.Series(index=industry.index, dtype="str")
    closes = pd.Series(index=industry.index, dtype="str")
    known = industry.notna().to_numpy()
    other = known.copy()
    for name, (share, a, b) in _WINDOWS.items():
        mine = known & (industry == name).to_numpy()
        other &= ~mine
        opens[mine & (u < share)], closes[mine & (u < share)] = a, b
    low = 0.0
    for share, a, b in _OTHER_WINDOWS:
        pick = other & (u >= low) & (u < low + share)
        opens[pick], closes[pick] = a, b
        low += share
    return opens, closes


def _nan_blank(values: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.uniform(size=len(values)) < share, np.nan, values)


def write_sample(
    out_dir: str | Path,
    *,
    n_accounts: int = 5_000,
    n_reps: int | None = 12,
    region: RegionName | str = "northeast",
    random_state: int | None = 0,
    fmt: Literal["csv", "parquet"] = "csv",
) -> tuple[Path, Path]:
    """Generate a sample (:func:`make_sample`) and write ``accounts`` and ``reps`` files.

    This is what ``terrmap sample --accounts N --reps K --region R --seed S --out DIR``
    runs. CSV dates are written as ``YYYY-MM-DD``.

    Returns
    -------
    tuple[Path, Path]
        The accounts and reps file paths.
    """
    if fmt not in ("csv", "parquet"):
        raise TerrmapError(f"unknown format {fmt!r}. Fix: use 'csv' or 'parquet'")
    accounts, reps = make_sample(n_accounts, n_reps, region=region, random_state=random_state)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / f"accounts.{fmt}", out / f"reps.{fmt}")
    for frame, path in zip((accounts, reps), paths, strict=True):
        if fmt == "csv":
            frame.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        else:
            frame.to_parquet(path, index=False)
    return paths
