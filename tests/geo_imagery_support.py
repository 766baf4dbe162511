"""Writing imagery in the layouts real products ship in, for the reader's and the lab's tests (nothing is
downloaded): Landsat 8/9 Collection 2 Level-2 (one uint16 GeoTIFF per band, QA_PIXEL, an MTL.txt with
made-up but well-formed values) and Sentinel-2 L2A (B04/B08 at 10 m, B11 at 20 m, MTD_MSIL2A.xml)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

# Landsat C2 L2 surface reflectance: reflectance = DN * 2.75e-5 - 0.2 (the real constants).
MULT, ADD = 2.75e-05, -0.2

MTL_TEMPLATE = """GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "{product}"
    PROCESSING_LEVEL = "L2SP"
    FILE_NAME_BAND_4 = "{product}_SR_B4.TIF"
    FILE_NAME_BAND_5 = "{product}_SR_B5.TIF"
    FILE_NAME_BAND_6 = "{product}_SR_B6.TIF"
    FILE_NAME_QUALITY_L1_PIXEL = "{product}_QA_PIXEL.TIF"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "LANDSAT_8"
    SENSOR_ID = "OLI_TIRS"
    DATE_ACQUIRED = {acquired}
    SCENE_CENTER_TIME = "10:02:03.1234560Z"
    CLOUD_COVER = 3.21
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
    REFLECTANCE_MAXIMUM_BAND_4 = 1.602213
    REFLECTANCE_MINIMUM_BAND_4 = -0.199972
    REFLECTANCE_MULT_BAND_4 = {mult:.2E}
    REFLECTANCE_MULT_BAND_5 = {mult:.2E}
    REFLECTANCE_MULT_BAND_6 = {mult:.2E}
    REFLECTANCE_ADD_BAND_4 = {add:.6f}
    REFLECTANCE_ADD_BAND_5 = {add:.6f}
    REFLECTANCE_ADD_BAND_6 = {add:.6f}
  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
END_GROUP = LANDSAT_METADATA_FILE
END
"""


def write_band(path: Path, data: np.ndarray, crs, transform: Affine, nodata, dtype: str = "uint16") -> Path:
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 16,
        "blockysize": 16,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(dtype), 1)
    return path


def to_landsat_dn(refl: np.ndarray, invalid: np.ndarray | None = None) -> np.ndarray:
    dn = np.clip(np.round((refl - ADD) / MULT), 1, 65535).astype(np.uint16)
    if invalid is not None:
        dn[..., invalid] = 0  # the product's fill
    return dn


def write_landsat_scene(
    parent: Path,
    refl: np.ndarray,
    crs,
    transform: Affine,
    acquired: date,
    *,
    qa: np.ndarray | None = None,
    invalid: np.ndarray | None = None,
    bands: tuple[str, ...] = ("SR_B4", "SR_B5", "SR_B6"),
    mtl: bool = True,
) -> Path:
    """A Landsat 8 C2 L2 product folder: <product>_SR_B4/5/6.TIF (uint16 DN, fill 0), QA_PIXEL, MTL.txt."""
    product = f"LC08_L2SP_190023_{acquired:%Y%m%d}_{acquired:%Y%m%d}_02_T1"
    folder = parent / product
    folder.mkdir(parents=True)
    dn = to_landsat_dn(refl, invalid)
    for token, band in zip(("SR_B4", "SR_B5", "SR_B6"), dn, strict=True):
        if token in bands:
            write_band(folder / f"{product}_{token}.TIF", band, crs, transform, 0)
    if qa is not None:
        write_band(folder / f"{product}_QA_PIXEL.TIF", qa, crs, transform, 1)
    if mtl:
        text = MTL_TEMPLATE.format(product=product, acquired=acquired.isoformat(), mult=MULT, add=ADD)
        (folder / f"{product}_MTL.txt").write_text(text)
    return folder


MTD_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
  <n1:General_Info>
    <Product_Info><PRODUCT_START_TIME>{acquired}T10:00:31.024Z</PRODUCT_START_TIME></Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
      <BOA_ADD_OFFSET_VALUES_LIST>
{offsets}
      </BOA_ADD_OFFSET_VALUES_LIST>
      <Spectral_Information_List>
{spectral}
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""
S2_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")


def write_sentinel2_scene(
    parent: Path,
    refl10: np.ndarray,
    swir20: np.ndarray,
    crs,
    x0: float,
    y0: float,
    acquired: date,
    fill10: np.ndarray | None = None,
) -> Path:
    """A Sentinel-2 L2A-like folder: B04/B08 at 10 m, B11 at 20 m (uint16, DN = (refl + 0.1) * 1e4)."""
    name = f"S2B_MSIL2A_{acquired:%Y%m%d}T100029_N0509_R122_T33UVU_{acquired:%Y%m%d}T120000"
    folder = parent / f"{name}.SAFE"
    folder.mkdir(parents=True)
    fill10 = np.zeros(refl10.shape[1:], dtype=bool) if fill10 is None else fill10
    t10 = Affine(10.0, 0, x0, 0, -10.0, y0)
    t20 = Affine(20.0, 0, x0, 0, -20.0, y0)

    def dn(r):
        return np.clip(np.round((r + 0.1) * 10_000), 1, 65535)

    # As shipped: bands under GRANULE/<tile>/IMG_DATA/R10m|R20m, no nodata declared (0 is the fill), B04 also
    # at 20 m (the reader must take the 10 m one).
    img = folder / "GRANULE" / f"L2A_T33UVU_A000000_{acquired:%Y%m%d}T100029" / "IMG_DATA"
    (img / "R10m").mkdir(parents=True)
    (img / "R20m").mkdir(parents=True)
    stem = f"T33UVU_{acquired:%Y%m%d}T100029"
    write_band(img / "R10m" / f"{stem}_B04_10m.tif", dn(refl10[0]) * ~fill10, crs, t10, None)
    write_band(img / "R10m" / f"{stem}_B08_10m.tif", dn(refl10[1]) * ~fill10, crs, t10, None)
    write_band(img / "R20m" / f"{stem}_B04_20m.tif", dn(refl10[0][::2, ::2]), crs, t20, None)
    write_band(img / "R20m" / f"{stem}_B11_20m.tif", dn(swir20), crs, t20, None)
    offsets = "\n".join(f'        <BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>' for i in range(13))
    spectral = "\n".join(
        f'        <Spectral_Information bandId="{i}" physicalBand="{b}"/>' for i, b in enumerate(S2_BANDS)
    )
    (folder / "MTD_MSIL2A.xml").write_text(
        MTD_TEMPLATE.format(acquired=acquired.isoformat(), offsets=offsets, spectral=spectral)
    )
    return folder
