"""Real imagery as the products ship, read block by block on one reference grid.

A scene is a `Scene`: where each band role (red, NIR, SWIR1, optional cloud/QA) lives — one file per band
(Landsat 8/9 Collection 2 Level-2 `*_SR_B4.TIF`, `*_SR_B5.TIF`, `*_SR_B6.TIF`, `*_QA_PIXEL.TIF`; Sentinel-2
L2A `*_B04*.jp2`, `*_B08*`, `*_B11*`, `*_SCL*`) or bands of one stacked file — and how its DN become
reflectance (per band: reflectance = DN * scale + offset). Scale and offset come from the product's metadata
(Landsat `*_MTL.txt` / `*_MTL.json` REFLECTANCE_MULT_BAND_x / REFLECTANCE_ADD_BAND_x; Sentinel-2
`MTD_MSIL2A.xml` BOA_ADD_OFFSET and QUANTIFICATION_VALUE) or from configuration; the date from DATE_ACQUIRED,
the product name or the folder name.

`GridReader` reads windows of every band on a reference grid (the red band's, or one given): a band on
another grid — Sentinel-2's 20 m B11 beside its 10 m bands, or a band in another CRS — is read through a
`WarpedVRT` onto that grid (bilinear for reflectance, nearest for QA codes), and the reader says so in
`resampled`. Memory is one window of each band, never a scene.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from python_jobs.geo.readers import GeoInputError

ROLES = ("red", "nir", "swir1")
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt")
# Landsat C2 QA_PIXEL bits that make a pixel unusable: 1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow.
LANDSAT_QA_CLOUD_BITS = (1, 2, 3, 4)
# Sentinel-2 L2A scene classification: 3 cloud shadow, 8/9 cloud medium/high probability, 10 thin cirrus.
S2_SCL_CLOUD_CLASSES = (3, 8, 9, 10)
PRODUCT_BANDS = {
    # product -> role -> file-name token (band roles are configuration: pass others for Landsat 5/7)
    "landsat": {"red": "SR_B4", "nir": "SR_B5", "swir1": "SR_B6", "cloud": "QA_PIXEL"},
    "sentinel2": {"red": "B04", "nir": "B08", "swir1": "B11", "cloud": "SCL"},
}


@dataclass(frozen=True)
class BandSource:
    path: Path
    band: int = 1  # 1-based band of that file
    scale: float = 1.0
    offset: float = 0.0
    fill: float | None = None  # the product's fill DN when the file does not declare it (Landsat/S2: 0)


@dataclass(frozen=True)
class Scene:
    """One date: the file (and band) of each role, and how its DN become reflectance."""

    name: str
    year: int | None
    acquired: date | None
    bands: dict[str, BandSource]  # red, nir, swir1
    cloud: BandSource | None = None
    cloud_kind: str = "nonzero"  # "nonzero" | "landsat_qa" | "s2_scl"
    notes: tuple[str, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------------------------------------- metadata


def _parse_landsat_mtl(path: Path) -> dict[str, str]:
    """Every KEY = value pair of an MTL.txt, or every leaf of an MTL.json, flattened (later groups win)."""
    if path.suffix.lower() == ".json":
        flat: dict[str, str] = {}

        def walk(node: object) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if isinstance(value, dict | list):
                        walk(value)
                    else:
                        flat[str(key)] = str(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(json.loads(path.read_text()))
        return flat
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"')
    return values


def landsat_scale_offset(mtl: dict[str, str], band_token: str, path: Path) -> tuple[float, float]:
    """REFLECTANCE_MULT_BAND_n / REFLECTANCE_ADD_BAND_n for `SR_Bn` (Level-2 surface reflectance)."""
    number = band_token.rsplit("B", 1)[-1]
    try:
        return float(mtl[f"REFLECTANCE_MULT_BAND_{number}"]), float(mtl[f"REFLECTANCE_ADD_BAND_{number}"])
    except KeyError as exc:
        raise GeoInputError(
            f"{path}: no {exc.args[0]} (needed to turn {band_token} DN into reflectance)"
        ) from exc


def sentinel2_scale_offset(mtd: Path, band_token: str) -> tuple[float, float]:
    """reflectance = (DN + BOA_ADD_OFFSET) / QUANTIFICATION_VALUE (baseline 04.00+; offset 0 before)."""
    root = ET.parse(mtd).getroot()
    quant = next((e for e in root.iter() if e.tag.endswith("BOA_QUANTIFICATION_VALUE")), None)
    if quant is None:
        quant = next((e for e in root.iter() if e.tag.endswith("QUANTIFICATION_VALUE")), None)
    if quant is None or not (quant.text or "").strip():
        raise GeoInputError(f"{mtd}: no QUANTIFICATION_VALUE")
    q = float(quant.text)
    band_ids = {
        (e.get("physicalBand") or "").upper().replace("B0", "B"): e.get("bandId")
        for e in root.iter()
        if e.tag.endswith("Spectral_Information")
    }
    offset = 0.0
    want = band_token.upper().replace("B0", "B")
    for e in root.iter():
        if e.tag.endswith("BOA_ADD_OFFSET"):
            band_id = e.get("band_id")
            if band_ids.get(want) == band_id or (not band_ids and band_id is not None):
                offset = float(e.text or 0)
                break
    return 1.0 / q, offset / q


def _year_from(text: str) -> int | None:
    match = re.search(r"(?<!\d)(19[7-9]\d|20\d\d)(?:[01]\d[0-3]\d)?(?!\d)", text)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------------------------- discovery


def _find_band(files: list[Path], token: str) -> Path | None:
    pattern = re.compile(rf"(^|[_.-]){re.escape(token)}([_.-]|$)", re.IGNORECASE)
    hits = sorted(f for f in files if pattern.search(f.stem))
    return hits[0] if hits else None


def _raster_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES)


def discover_scene(
    path: Path | str,
    *,
    band_tokens: dict[str, str] | None = None,
    scale: float | None = None,
    offset: float | None = None,
    stacked_bands: dict[str, int] | None = None,
    year: int | None = None,
) -> Scene:
    """A scene from a folder of per-band files (Landsat C2 L2 or Sentinel-2 L2A) or one stacked file.

    Explicit `scale`/`offset` override the metadata; `band_tokens` override the product's band names
    (e.g. {"red": "SR_B3", "nir": "SR_B4", "swir1": "SR_B5"} for Landsat 5/7); `stacked_bands` gives the
    1-based bands of a stacked file ({"red": 1, "nir": 2, "swir1": 3, "cloud": 4}).
    """
    path = Path(path)
    if not path.exists():
        raise GeoInputError(f"{path}: no such file or folder")
    notes: list[str] = []
    if path.is_file():
        roles = stacked_bands or {"red": 1, "nir": 2, "swir1": 3}
        with _open(path) as src:
            count, tags, dtype = src.count, src.tags(), np.dtype(src.dtypes[0])
        for role in (*ROLES, "cloud"):
            if role in roles and not 1 <= roles[role] <= count:
                raise GeoInputError(f"{path}: band {roles[role]} for {role} but the file has {count} bands")
        missing = [r for r in ROLES if r not in roles]
        if missing:
            raise GeoInputError(f"{path}: no band given for {', '.join(missing)}")
        if scale is None and offset is None and "SCALE" not in tags:
            if not np.issubdtype(dtype, np.floating):
                raise GeoInputError(
                    f"{path}: integer bands and no scale/offset (tags SCALE/OFFSET or configuration): "
                    "DN or reflectance? refusing to guess"
                )
            notes.append("float bands without SCALE/OFFSET tags: read as reflectance (scale 1, offset 0)")
        s = scale if scale is not None else float(tags.get("SCALE", 1.0))
        o = offset if offset is not None else float(tags.get("OFFSET", 0.0))
        bands = {r: BandSource(path, roles[r], s, o) for r in ROLES}
        cloud = BandSource(path, roles["cloud"]) if "cloud" in roles else None
        y = year or (int(tags["ACQUISITION_YEAR"]) if "ACQUISITION_YEAR" in tags else _year_from(path.name))
        return Scene(path.stem, y, None, bands, cloud, "nonzero", tuple(notes))

    files = _raster_files(path)
    mtl = sorted(path.rglob("*_MTL.txt")) + sorted(path.rglob("*_MTL.json"))
    mtd = sorted(path.rglob("MTD_MSIL2A.xml"))
    if mtl or _find_band(files, "SR_B4"):
        product = "landsat"
    elif mtd or _find_band(files, "B04"):
        product = "sentinel2"
    else:
        raise GeoInputError(
            f"{path}: neither a Landsat C2 L2 folder (*_SR_B4.TIF ...) nor a Sentinel-2 L2A one (*_B04*.jp2 ...)"
        )
    tokens = PRODUCT_BANDS[product] | (band_tokens or {})
    found = {role: _find_band(files, tokens[role]) for role in ROLES}
    missing = [f"{role} ({tokens[role]})" for role, p in found.items() if p is None]
    if missing:
        raise GeoInputError(f"{path}: missing band file(s) for {', '.join(missing)}")

    acquired: date | None = None
    bands: dict[str, BandSource] = {}
    if product == "landsat":
        meta = _parse_landsat_mtl(mtl[0]) if mtl else {}
        if "DATE_ACQUIRED" in meta:
            acquired = date.fromisoformat(meta["DATE_ACQUIRED"])
        for role in ROLES:
            if scale is not None or offset is not None:
                s, o = (scale if scale is not None else 1.0), (offset if offset is not None else 0.0)
            elif mtl:
                s, o = landsat_scale_offset(meta, tokens[role], mtl[0])
            else:
                raise GeoInputError(
                    f"{path}: no *_MTL.txt/json and no scale/offset given: DN or reflectance? refusing to guess"
                )
            bands[role] = BandSource(found[role], 1, s, o, fill=0)  # type: ignore[arg-type]
        cloud_kind = "landsat_qa"
    else:
        for role in ROLES:
            if scale is not None or offset is not None:
                s, o = (scale if scale is not None else 1.0), (offset if offset is not None else 0.0)
            elif mtd:
                s, o = sentinel2_scale_offset(mtd[0], tokens[role])
            else:
                raise GeoInputError(
                    f"{path}: no MTD_MSIL2A.xml and no scale/offset given: DN or reflectance? refusing to guess"
                )
            bands[role] = BandSource(found[role], 1, s, o, fill=0)  # type: ignore[arg-type]
        match = re.search(r"_(\d{8})T\d{6}_", " ".join(f.name for f in files))
        if match:
            acquired = date(int(match[1][:4]), int(match[1][4:6]), int(match[1][6:]))
        cloud_kind = "s2_scl"
    cloud_path = _find_band(files, tokens["cloud"]) if tokens.get("cloud") else None
    if cloud_path is None:
        notes.append("no cloud/QA band: clouds are found by brightness only")
    y = year or (acquired.year if acquired else None) or _year_from(path.name)
    cloud = BandSource(cloud_path) if cloud_path else None
    return Scene(path.name, y, acquired, bands, cloud, cloud_kind, tuple(notes))


def discover_scenes(path: Path | str, **kwargs) -> list[Scene]:
    """One scene (a product folder or a stacked file) or several (a folder of product folders / stacked
    files), sorted by year; each must have a year (from metadata, the file's tags or its name)."""
    path = Path(path)
    if not path.exists():
        raise GeoInputError(f"{path}: no such file or folder")
    if path.is_file():
        scenes = [discover_scene(path, **kwargs)]
    else:
        direct = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES]
        subdirs = sorted(p for p in path.iterdir() if p.is_dir() and _raster_files(p))
        looks_like_product = (
            any(_find_band(direct, t) for t in ("SR_B4", "B04"))
            or any(path.glob("*_MTL.*"))
            or (path / "MTD_MSIL2A.xml").exists()
        )
        if looks_like_product:
            scenes = [discover_scene(path, **kwargs)]
        elif subdirs:
            scenes = [discover_scene(d, **kwargs) for d in subdirs]
        elif direct:
            scenes = [discover_scene(p, **kwargs) for p in sorted(direct)]
        else:
            raise GeoInputError(f"{path}: no imagery found (no raster files)")
    undated = [s.name for s in scenes if s.year is None]
    if undated:
        raise GeoInputError(
            f"{path}: no year for {', '.join(undated)} (metadata, tags or a name with the year)"
        )
    years = [s.year for s in scenes]
    if len(set(years)) != len(years):
        raise GeoInputError(f"{path}: two scenes for one year ({sorted(years)}); give one per year")
    return sorted(scenes, key=lambda s: s.year or 0)


# ---------------------------------------------------------------------------------------------- reading


def _open(path: Path):
    if not path.exists():
        raise GeoInputError(f"{path}: no such file")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise GeoInputError(f"{path}: not a readable raster ({exc})") from exc


@dataclass(frozen=True)
class Grid:
    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def pixel_m2(self) -> float:
        t = self.transform
        return abs(t.a * t.e - t.b * t.d)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        left, top = self.transform @ (0, 0)
        right, bottom = self.transform @ (self.width, self.height)
        return (min(left, right), min(top, bottom), max(left, right), max(top, bottom))

    def windows(self, block: int = 256) -> Iterator[Window]:
        for row in range(0, self.height, block):
            for col in range(0, self.width, block):
                yield Window(col, row, min(block, self.width - col), min(block, self.height - row))

    def profile(self, **extra) -> dict:
        return {
            "driver": "GTiff",
            "crs": self.crs,
            "transform": self.transform,
            "width": self.width,
            "height": self.height,
            "tiled": True,
            "blockxsize": 256 if self.width >= 256 else 16,
            "blockysize": 256 if self.height >= 256 else 16,
            "compress": "deflate",
        } | extra


def grid_of(band: BandSource) -> Grid:
    with _open(band.path) as src:
        if src.crs is None:
            raise GeoInputError(f"{band.path}: no coordinate reference system; refusing to guess one")
        return Grid(src.crs, src.transform, src.width, src.height)


class GridReader:
    """Windows of a scene's reflectance and cloud mask on a reference grid (default: the red band's)."""

    def __init__(self, scene: Scene, grid: Grid | None = None) -> None:
        self.scene = scene
        self.grid = grid or grid_of(scene.bands["red"])
        self.resampled: list[str] = []  # what was warped onto the grid, and why
        self._stack = ExitStack()
        self._datasets: dict[str, tuple[object, BandSource, float | None]] = {}
        sources = dict(scene.bands)
        if scene.cloud is not None:
            sources["cloud"] = scene.cloud
        for role, band in sources.items():
            src = self._stack.enter_context(_open(band.path))
            if src.crs is None:
                self._stack.close()
                raise GeoInputError(f"{band.path}: no coordinate reference system; refusing to guess one")
            if not 1 <= band.band <= src.count:
                self._stack.close()
                raise GeoInputError(f"{band.path}: no band {band.band} ({role}); the file has {src.count}")
            nodata = src.nodatavals[band.band - 1]
            if nodata is None and role != "cloud":
                nodata = band.fill  # Sentinel-2 JP2s declare no nodata, yet 0 is their fill
            same = (
                src.crs == self.grid.crs
                and src.transform.almost_equals(self.grid.transform)
                and (src.width, src.height) == (self.grid.width, self.grid.height)
            )
            if not same:
                why = (
                    f"CRS {src.crs.to_string()} -> {self.grid.crs.to_string()}"
                    if src.crs != self.grid.crs
                    else f"{abs(src.transform.a):g} m grid -> {abs(self.grid.transform.a):g} m grid"
                )
                self.resampled.append(f"{role} ({band.path.name}): reprojected/resampled, {why}")
                resampling = Resampling.nearest if role == "cloud" else Resampling.bilinear
                src = self._stack.enter_context(
                    WarpedVRT(
                        src,
                        crs=self.grid.crs,
                        transform=self.grid.transform,
                        width=self.grid.width,
                        height=self.grid.height,
                        resampling=resampling,
                        src_nodata=nodata,
                        nodata=nodata if nodata is not None else (0 if role == "cloud" else None),
                    )
                )
            self._datasets[role] = (src, band, nodata)

    def __enter__(self) -> GridReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def reflectance(self, role: str, window: Window) -> np.ma.MaskedArray:
        src, band, nodata = self._datasets[role]
        dn = np.ma.asarray(src.read(band.band, window=window))  # type: ignore[attr-defined]
        if nodata is not None:
            dn = np.ma.masked_equal(dn, nodata) if not np.isnan(nodata) else np.ma.masked_invalid(dn)
        return dn.astype(np.float32) * np.float32(band.scale) + np.float32(band.offset)

    def cloud(self, window: Window) -> np.ndarray:
        """True where the QA/cloud band flags cloud, cirrus or shadow (all False without one)."""
        shape = (int(window.height), int(window.width))
        if "cloud" not in self._datasets:
            return np.zeros(shape, dtype=bool)
        src, band, _ = self._datasets["cloud"]
        qa = src.read(band.band, window=window).astype(np.int64)  # type: ignore[attr-defined]
        if self.scene.cloud_kind == "landsat_qa":
            bits = sum(1 << b for b in LANDSAT_QA_CLOUD_BITS)
            return (qa & bits) != 0
        if self.scene.cloud_kind == "s2_scl":
            return np.isin(qa, S2_SCL_CLOUD_CLASSES)
        return qa != 0

    def read(self, window: Window) -> tuple[np.ma.MaskedArray, np.ndarray]:
        """(3, rows, cols) reflectance (red, NIR, SWIR1) masked where any band is nodata, and the cloud mask."""
        stack = np.ma.stack([self.reflectance(role, window) for role in ROLES])
        mask = np.ma.getmaskarray(stack).any(axis=0)
        stack = np.ma.MaskedArray(np.ma.getdata(stack), mask=np.broadcast_to(mask, stack.shape).copy())
        return stack, self.cloud(window)


def with_scale(scene: Scene, scale: float, offset: float) -> Scene:
    """The scene with one scale and offset for every band (configuration overriding metadata)."""
    return replace(scene, bands={r: replace(b, scale=scale, offset=offset) for r, b in scene.bands.items()})


def metric_grid(grid: Grid) -> tuple[Grid, str | None]:
    """The grid itself when its CRS is projected in metres; else the same area on a grid in its UTM zone (areas,
    rings and distances need metres), with a note saying so."""
    if grid.crs.is_projected and grid.crs.linear_units in ("metre", "meter"):
        return grid, None
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info
    from rasterio.warp import calculate_default_transform, transform_bounds

    west, south, east, north = transform_bounds(grid.crs, "EPSG:4326", *grid.bounds)
    info = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(west, south, east, north))
    if not info:
        raise GeoInputError(f"no UTM zone found for the scene's bounds {west, south, east, north}")
    utm = CRS.from_epsg(int(info[0].code))
    transform, width, height = calculate_default_transform(
        grid.crs, utm, grid.width, grid.height, *grid.bounds
    )
    note = f"the scene's CRS {grid.crs.to_string()} is not in metres: read on a {utm.to_string()} grid"
    return Grid(utm, transform, width, height), note
