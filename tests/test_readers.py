"""Reading files (terrmap._source, _delimited, _readers): formats, encodings, errors."""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terrmap.errors import InputError
from terrmap.load import load_accounts, load_reps, read_table
from terrmap.schema import output_columns

DATA = Path(__file__).resolve().parent / "data"
CSV = (
    "account_id,name,lat,lon,zip,segment,acv,last_activity\n"
    "00017,Beacon Hill Dental,42.3601,-71.0589,02108,SMB,12000,2024-05-02\n"
    "00018,Hudson Yards Capital,40.7128,-74.0060,10007,ENT,250000,2024-04-18\n"
    "00019,Liberty Bell Bakery,,,19107,SMB,3500,2024-03-01\n"
)


def accounts_frame(n: int = 12) -> pd.DataFrame:
    """A canonical accounts frame (loaded from a clean table)."""
    raw = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "lat": np.linspace(40, 42, n),
            "lon": np.linspace(-75, -72, n),
        }
    )
    return load_accounts(raw).frame


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[output_columns("accounts")]


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in exc.value.problems]


# -------------------------------------------------------------------------- CSV


def test_csv_reads_ids_and_zips_as_text() -> None:
    r = load_accounts(CSV.encode(), filename="a.csv")
    f = r.frame
    assert f["account_id"].tolist() == ["00017", "00018", "00019"]
    assert f["zip"].tolist() == ["02108", "10007", "19107"]
    assert f["approximate"].tolist() == [False, False, True]
    assert f["last_activity"].iloc[0] == pd.Timestamp("2024-05-02")
    assert r.source == "a.csv"
    assert r.row_label == "row"
    assert r.column_map["lat"] == "lat"


@pytest.mark.parametrize(
    ("encoding", "prefix", "note"),
    [
        ("utf-8", b"", None),
        ("utf-8", b"\xef\xbb\xbf", None),
        ("cp1252", b"", "Windows-1252"),
        ("utf-16", b"", "UTF-16"),
    ],
)
def test_csv_encodings(encoding: str, prefix: bytes, note: str | None) -> None:
    text = CSV.replace("Beacon Hill Dental", "Café Müller €")
    r = load_accounts(prefix + text.encode(encoding), filename="a.csv")
    assert r.frame.columns[0] == "account_id"  # no BOM left in the header
    assert r.frame["name"].iloc[0] == "Café Müller €"
    read_as = [n for n in r.notes if n.startswith("Read as")]
    assert (note in read_as[0]) if note else not read_as


def test_latin1_bytes_outside_cp1252() -> None:
    text = CSV.replace("Beacon Hill Dental", "Caf\x81")
    r = load_accounts(text.encode("latin-1"), filename="a.csv")
    assert r.frame["name"].iloc[0] == "Caf\x81"
    assert any("Latin-1" in n for n in r.notes)


@pytest.mark.parametrize(("sep", "name"), [(";", "a.csv"), ("\t", "a.tsv"), ("|", "a.txt")])
def test_csv_delimiters(sep: str, name: str) -> None:
    text = CSV.replace(",", sep)
    if sep == ";":
        text = text.replace("42.3601", "42,3601").replace("-71.0589", "-71,0589")
    r = load_accounts(text.encode(), filename=name)
    assert r.frame["lat"].iloc[0] == pytest.approx(42.3601)
    assert r.frame["name"].iloc[1] == "Hudson Yards Capital"


def test_csv_quoted_values_with_delimiters_and_newlines() -> None:
    text = CSV.replace("Beacon Hill Dental", '"Dental, Inc.\nBoston"')
    r = load_accounts(text.encode(), filename="a.csv")
    assert r.frame["name"].iloc[0] == "Dental, Inc.\nBoston"


def test_blank_lines_keep_row_numbers_and_are_noted() -> None:
    text = CSV.replace("\n00018", "\n\n,,,,,,,\n00018").replace("42.3601", "95")
    text = text.replace("40.7128", "bad")
    with pytest.raises(InputError) as info:
        load_accounts(text.encode(), filename="a.csv")
    assert problems(info) == [(2, "lat"), (5, "lat")]


def test_ragged_rows_are_reported_with_their_row() -> None:
    text = CSV + "00020,Too,Many,Values,Here,SMB,1,2024-01-01,extra\n00021,Short\n"
    with pytest.raises(InputError) as info:
        load_accounts(text.encode(), filename="a.csv")
    assert problems(info) == [(5, None), (6, None)]
    assert "9 values but the header has 8 columns" in info.value.problems[0].message
    r = load_accounts(text.encode(), filename="a.csv", drop_invalid=True)
    assert len(r.frame) == 3
    assert [p.row for p in r.dropped] == [5, 6]


def test_duplicate_headers_are_noted() -> None:
    r = load_accounts(b"account_id,lat,lon,acv,acv\nA,40.7,-74,1,2\n", filename="d.csv")
    assert r.frame["acv"].iloc[0] == 1
    assert r.frame["acv (2)"].iloc[0] == "2"
    assert any("appears 2 times" in n for n in r.notes)


def test_gzip_csv(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress(CSV.encode()))
    assert len(load_accounts(path).frame) == 3


# ---------------------------------------------------------------- other formats


@pytest.fixture(params=["calamine", "openpyxl"])
def excel_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run Excel tests with python-calamine and with the openpyxl fallback."""
    if request.param == "openpyxl":
        monkeypatch.setattr("terrmap._source.calamine_available", lambda: False)
    else:
        pytest.importorskip("python_calamine")
    return str(request.param)


def test_legacy_xls_needs_calamine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("terrmap._source.calamine_available", lambda: False)
    with pytest.raises(InputError, match=r"legacy Excel 97-2003 \(.xls\) files are not supported"):
        load_accounts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old", filename="a.xls")


@pytest.mark.usefixtures("excel_reader")
def test_excel_sheet_rows_and_sheet_choice() -> None:
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Read me"
    notes["A1"] = "instructions"
    sheet = book.create_sheet("Accounts")
    sheet.append([])
    sheet.append([])
    sheet.append(["account_id", "lat", "lon", "zip", "last_activity"])
    sheet.append(["A1", 42.36, -71.06, 2108, pd.Timestamp("2024-01-02").to_pydatetime()])
    sheet.append([17, 95.0, -74.0, None, None])
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(InputError) as info:
        load_accounts(buf.getvalue(), filename="book.xlsx")
    assert problems(info) == [(5, "lat")]  # the sheet's own row number
    fixed = buf.getvalue()
    r = load_accounts(fixed, filename="book.xlsx", drop_invalid=True)
    assert r.frame["zip"].tolist() == ["02108"]
    assert r.frame["last_activity"].iloc[0] == pd.Timestamp("2024-01-02")
    assert any("Read sheet 'Accounts'" in n for n in r.notes)


def test_parquet_native_types_and_record_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "account_id": np.arange(1, 13, dtype=np.int64),
            "lat": np.linspace(40, 42, 12),
            "lon": np.linspace(-75, -72, 12),
            "tier": [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3],
        }
    )
    frame.loc[4, "lat"] = 123.0
    path = tmp_path / "a.parquet"
    frame.to_parquet(path)
    with pytest.raises(InputError) as info:
        load_accounts(path)
    assert problems(info) == [(5, "lat")]
    assert "(rows are record numbers)" in str(info.value)
    r = load_accounts(path, drop_invalid=True)
    assert r.frame["account_id"].iloc[0] == "1"
    assert r.frame["tier"].tolist()[:3] == [1, 2, 3]
    assert r.row_label == "record"


def _geo(frame: pd.DataFrame, *, crs: int = 4326) -> gpd.GeoDataFrame:
    points = gpd.points_from_xy(frame["lon"], frame["lat"])
    out = gpd.GeoDataFrame(frame.drop(columns=["lat", "lon"]), geometry=points, crs=4326)
    return out.to_crs(crs)


def test_geojson_point_geometry_and_feature_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(12)],
            "lat": np.linspace(40, 42, 12),
            "lon": np.linspace(-75, -72, 12),
        }
    )
    gdf = _geo(frame)
    gdf.loc[3, "geometry"] = gpd.GeoSeries.from_wkt(["POLYGON ((0 0, 1 0, 1 1, 0 0))"])[0]
    path = tmp_path / "a.geojson"
    gdf.to_file(path, driver="GeoJSON")
    with pytest.raises(InputError) as info:
        load_accounts(path)
    assert problems(info) == [(4, "geometry")]
    assert "Polygon" in info.value.problems[0].message
    assert "(rows are feature numbers)" in str(info.value)
    r = load_accounts(path, drop_invalid=True)
    assert len(r.frame) == 11
    assert r.frame["lat"].iloc[0] == pytest.approx(40.0)
    assert r.row_label == "feature"


def test_geoparquet_point_geometry(tmp_path: Path) -> None:
    frame = pd.DataFrame({"account_id": ["A", "B"], "lat": [40.5, 41.0], "lon": [-74.5, -73.0]})
    path = tmp_path / "a.parquet"
    _geo(frame, crs=3857).to_parquet(path)
    r = load_accounts(path)
    assert r.frame["lat"].tolist() == pytest.approx([40.5, 41.0])
    assert r.frame["lon"].tolist() == pytest.approx([-74.5, -73.0])
    assert r.row_label == "record"
    assert any("Reprojected from EPSG:3857" in n for n in r.notes)


def test_geopackage_layer_choice_and_reprojection(tmp_path: Path) -> None:
    frame = pd.DataFrame({"account_id": ["A", "B"], "lat": [40.5, 41.0], "lon": [-74.5, -73.0]})
    path = tmp_path / "plan.gpkg"
    _geo(frame.iloc[:1]).to_file(path, layer="territories", driver="GPKG")
    _geo(frame, crs=3857).to_file(path, layer="accounts", driver="GPKG")
    r = load_accounts(path)
    assert r.frame["lat"].tolist() == pytest.approx([40.5, 41.0])
    assert r.frame["lon"].tolist() == pytest.approx([-74.5, -73.0])
    assert any("Read layer 'accounts'" in n for n in r.notes)
    assert any("Reprojected from EPSG:3857" in n for n in r.notes)


def test_reps_home_from_geometry() -> None:
    reps = pd.DataFrame({"rep_id": ["R01"], "name": ["Ann"], "lat": [42.36], "lon": [-71.06]})
    raw = _geo(reps).to_json().encode()
    r = load_reps(raw, filename="reps.geojson")
    assert r.frame["home_lat"].iloc[0] == pytest.approx(42.36)
    assert r.frame["capacity_hours"].iloc[0] == 140.0


# ---------------------------------------------------------------------- sources


class Upload(io.BytesIO):
    """Shaped like Streamlit's UploadedFile: a BytesIO with a ``name``."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


def test_upload_like_buffers() -> None:
    up = Upload(CSV.encode(), "mine.csv")
    up.read()  # a page may have read it already
    r = load_accounts(up)
    assert r.source == "mine.csv"
    assert len(r.frame) == 3
    assert len(load_accounts(io.BytesIO(CSV.encode()), filename="x.csv").frame) == 3


def test_format_is_recognised_from_content_not_name(tmp_path: Path) -> None:
    buf = io.BytesIO()
    accounts_frame().to_parquet(buf)
    r = load_accounts(buf.getvalue(), filename="accounts.csv")  # misnamed
    assert len(r.frame) == 12


def test_read_table_gives_the_raw_headers_for_the_mapping_form() -> None:
    raw = read_table(CSV.encode(), filename="a.csv")
    assert list(raw.frame.columns)[:3] == ["account_id", "name", "lat"]
    assert raw.rows.tolist() == [2, 3, 4]
    assert raw.frame["account_id"].iloc[0] == "00017"


# ----------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("data", "name", "text"),
    [
        (b"", "a.csv", "the file is empty"),
        (b"  \r\n\n", "a.csv", "the file is empty"),
        (b"account_id,lat,lon\n", "a.csv", "no data rows"),
        (b"account_id,lat,lon\n,,\n\n", "a.csv", "no data rows"),
        (b"PAR1 not really parquet", "a.parquet", "cannot be read as Parquet"),
        (b"<kml></kml>", "a.kml", "KML files are not supported"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 broken", "a.xls", "Excel"),
        (b"PK\x03\x04 broken zip", "a.xlsx", "cannot be read as an Excel workbook"),
        (b"hello", "a.parquet", "not a valid .parquet file"),
        (b'{"type": "FeatureCollection", "features": [', "a.geojson", "cannot be read"),
        (b"SQLite format 3\x00" + bytes(100), "a.gpkg", "cannot be read as a GeoPackage"),
    ],
)
def test_unreadable_files_are_input_errors(data: bytes, name: str, text: str) -> None:
    with pytest.raises(InputError) as info:
        load_accounts(data, filename=name)
    (p,) = info.value.problems
    assert p.row is None
    assert text in p.message
    assert p.fix


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_accounts(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a folder"):
        load_accounts(tmp_path)


# ------------------------------------------------------------------ round trips


IDS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-_", min_size=1, max_size=8)
NAMES = st.text(alphabet="abcdefghij ,;'\"é&-", max_size=12).map(str.strip)


@st.composite
def account_tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 6))
    ids = draw(st.lists(IDS, min_size=n, max_size=n, unique=True))
    coord = st.floats(39.0, 45.0), st.floats(-80.0, -70.0)
    rows = []
    for i in range(n):
        rows.append({
            "account_id": ids[i],
            "name": draw(NAMES) or None,
            "lat": round(draw(coord[0]), 6),
            "lon": round(draw(coord[1]), 6),
            "segment": draw(st.sampled_from(["SMB", "MM", "ENT", None])),
            "employees": draw(st.one_of(st.none(), st.integers(0, 10**6))),
            "acv": draw(st.one_of(st.none(), st.floats(0, 1e7).map(lambda x: round(x, 2)))),
            "win_rate": draw(st.one_of(st.none(), st.floats(0, 1).map(lambda x: round(x, 3)))),
            "tier": draw(st.sampled_from([1, 2, 3, None])),
            "workload_hours": draw(st.one_of(st.none(), st.floats(0, 744))),
            "owner": draw(st.sampled_from(["R01", "R02", None])),
            "last_activity": draw(st.one_of(st.none(), st.dates(
                pd.Timestamp("2000-01-01").date(), pd.Timestamp("2025-12-31").date()))),
            "locked": draw(st.booleans()),
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["last_activity"] = pd.to_datetime(frame["last_activity"])
    return load_accounts(frame).frame


def _write(frame: pd.DataFrame, fmt: str, tmp: Path) -> Path:
    path = tmp / f"accounts.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    else:
        out = frame.assign(tier=frame["tier"].astype("float64"))
        gdf = gpd.GeoDataFrame(
            out.drop(columns=["lat", "lon"]),
            crs=4326,
            geometry=gpd.points_from_xy(out["lon"], out["lat"]),
        )
        gdf.to_file(path, driver={"geojson": "GeoJSON", "gpkg": "GPKG"}[fmt])
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "geojson", "gpkg"])
def test_round_trip_through_every_format(
    fmt: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    @settings(max_examples=8 if fmt in ("xlsx", "gpkg", "geojson") else 15)
    @given(account_tables())
    def check(frame: pd.DataFrame) -> None:
        path = _write(frame, fmt, tmp_path_factory.mktemp(fmt))
        again = load_accounts(path).frame
        pd.testing.assert_frame_equal(
            canonical(again), canonical(frame), check_exact=False, atol=1e-7, rtol=0
        )

    check()


@pytest.mark.usefixtures("excel_reader")
def test_reps_round_trip(tmp_path: Path) -> None:
    reps = load_reps(DATA / "reps.csv").frame
    for fmt in ("csv", "parquet", "xlsx"):
        path = tmp_path / f"reps.{fmt}"
        if fmt == "csv":
            reps.to_csv(path, index=False)
        elif fmt == "parquet":
            reps.to_parquet(path)
        else:
            reps.to_excel(path, index=False)
        pd.testing.assert_frame_equal(load_reps(path).frame, reps)


@given(
    st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=30), min_size=1, max_size=4)
)
def test_malformed_csv_lines_give_input_error_or_load(lines: list[str]) -> None:
    """Arbitrary text appended to a valid file never escapes as another exception."""
    data = (CSV + "\n".join(lines) + "\n").encode()
    try:
        result = load_accounts(data, filename="a.csv", drop_invalid=True)
    except InputError as exc:
        assert exc.problems
    else:
        assert len(result.frame) >= 1


@given(
    st.binary(max_size=200),
    st.sampled_from(["a.csv", "a.xlsx", "a.parquet", "a.geojson", "a.gpkg", "a"]),
)
def test_random_bytes_give_input_error_or_load(data: bytes, name: str) -> None:
    try:
        load_accounts(data, filename=name)
    except InputError as exc:
        assert exc.problems
