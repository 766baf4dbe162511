"""Demand hot spots and new-store siting (python_jobs.geo.siting) on hand-made, seeded and generated data."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from python_jobs.geo import siting
from python_jobs.geo.generate import GeoPaths, generate_metro
from python_jobs.geo.readers import read_vector

UTM = 32633  # metres; x near 500 km puts the points on the zone's central meridian


def _points(xy: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=UTM)


@pytest.fixture(scope="module")
def metro(tmp_path_factory: pytest.TempPathFactory) -> GeoPaths:
    return generate_metro(tmp_path_factory.mktemp("siting") / "data", seed=42, size_px=128, years=(2020,))


@pytest.fixture(scope="module")
def blobs() -> tuple[gpd.GeoDataFrame, np.ndarray]:
    # Four blobs 1.5 km apart, 60 m spread, plus 40 uniform noise points over the whole 5 km square.
    centers = np.array(
        [[500_000, 5_800_000], [501_500, 5_800_000], [500_000, 5_801_500], [501_500, 5_801_500]]
    )
    xy, truth = make_blobs(n_samples=[150, 100, 80, 60], centers=centers, cluster_std=60.0, random_state=3)
    noise = np.random.default_rng(3).uniform([499_000, 5_799_000], [502_500, 5_802_500], size=(40, 2))
    return _points(np.vstack([xy, noise])), np.concatenate([truth, np.full(40, -1)])


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_hot_spots_recover_known_blobs(blobs: tuple[gpd.GeoDataFrame, np.ndarray], method: str) -> None:
    points, truth = blobs
    spots = siting.find_hot_spots(points, method, eps_m=100.0, min_samples=8, min_cluster_size=30)
    in_blob = truth >= 0
    assert adjusted_rand_score(truth[in_blob], spots.labels[in_blob]) > 0.9
    assert len(spots.clusters) == 4
    assert spots.clusters["n_points"].sum() + spots.noise == len(points)
    assert list(spots.clusters["n_points"]) == sorted(spots.clusters["n_points"], reverse=True)  # 0 = largest
    if method == "dbscan":
        # HDBSCAN's "eom" selection folds many scattered points into the nearest cluster (it has no fixed
        # radius to exclude them), so only DBSCAN is held to this.
        assert (spots.labels[~in_blob] == -1).mean() > 0.8, "scattered points are mostly noise"
    again = siting.find_hot_spots(points, method, eps_m=100.0, min_samples=8, min_cluster_size=30)
    assert np.array_equal(spots.labels, again.labels), "deterministic"


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_hot_spots_on_generated_customers(metro: GeoPaths, method: str) -> None:
    customers = read_vector(metro.business, "customers").good
    spots = siting.find_hot_spots(customers, method)
    assert len(spots.clusters) >= 1
    assert spots.clusters["n_points"].sum() + spots.noise == len(customers)
    assert np.bincount(spots.labels[spots.labels >= 0]).tolist() == spots.clusters["n_points"].tolist()
    assert spots.clusters.crs.is_projected
    # The mean of a cluster's points lies inside (or on) its convex hull.
    assert all(
        hull.buffer(1e-6).contains(c)
        for hull, c in zip(spots.clusters.geometry, spots.clusters["centroid"], strict=True)
    )


def test_obvious_site_is_chosen() -> None:
    # An existing store covers town A; town B (big) and town C (small) are uncovered and far apart.
    tracts = _points(np.array([[500_000, 5_800_000], [530_000, 5_800_000], [500_000, 5_830_000]]))
    tracts["pop_2020"] = [5_000, 9_000, 1_000]
    stores = _points(np.array([[500_500, 5_800_000]]))
    for method in ("cpsat", "greedy"):
        result = siting.site_new_stores(tracts, stores, 1, method=method)
        assert result.sites["candidate"].tolist() == [1], method
        assert (result.population_before.covered, result.population_after.covered) == (5_000, 14_000)
        assert result.population_after.uncovered == 1_000


def _random_case(seed: int, n: int = 40, m: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 20_000, size=(n, 2))
    sites = rng.uniform(0, 20_000, size=(m, 2))
    weights = rng.integers(50, 2_000, size=n).astype(float)
    minutes = siting.straight_line_minutes(30.0)
    cover = minutes(demand, sites) <= 10.0  # 5 km reach on a 20 km square: sets overlap partly
    already = (minutes(demand, np.array([[10_000.0, 10_000.0]])) <= 10.0).ravel()
    return cover, weights, already


def test_greedy_within_bound_of_exact_and_cpsat_matches_brute_force() -> None:
    bound = 1 - 1 / math.e
    ratios = []
    for seed in range(25):
        cover, weights, already = _random_case(seed)
        for k in (2, 3):
            exact = siting.covered_value(
                cover, weights, siting.cpsat_max_coverage(cover, weights, k, already), already
            )
            brute = siting.brute_force_max_coverage(cover, weights, k, already)
            assert siting.covered_value(cover, weights, brute, already) == pytest.approx(exact)
            greedy = siting.covered_value(
                cover, weights, siting.greedy_max_coverage(cover, weights, k, already), already
            )
            assert greedy <= exact + 1e-9
            assert greedy >= bound * exact
            ratios.append(greedy / exact)
    assert np.mean(np.isclose(ratios, 1.0)) >= 0.6, "greedy is usually optimal on these cases"
    assert min(ratios) > 0.9


def test_coverage_never_decreases_when_sites_are_added() -> None:
    cover, weights, already = _random_case(7)
    base = siting.covered_value(cover, weights, [], already)
    greedy = siting.greedy_max_coverage(cover, weights, 6, already)
    values = [siting.covered_value(cover, weights, greedy[:k], already) for k in range(7)]
    assert values[0] == base and all(b >= a for a, b in itertools.pairwise(values))
    exact = [
        siting.covered_value(cover, weights, siting.cpsat_max_coverage(cover, weights, k, already), already)
        for k in range(5)
    ]
    assert all(b >= a for a, b in itertools.pairwise(exact))


@pytest.mark.parametrize("max_minutes", [20.0, 2.0])
def test_siting_on_generated_metro_counts_add_up(metro: GeoPaths, max_minutes: float) -> None:
    tracts = read_vector(metro.tracts).good
    stores = read_vector(metro.business, "stores").good.iloc[:3]  # keep three stores so gaps remain
    customers = read_vector(metro.business, "customers").good
    result = siting.site_new_stores(tracts, stores, 2, customers=customers, max_minutes=max_minutes)
    assert len(result.sites) == 2 and result.method == "cpsat"
    for before, after, total in [
        (result.population_before, result.population_after, float(tracts["pop_2020"].sum())),
        (result.customers_before, result.customers_after, float(len(customers))),
    ]:
        assert before.total == after.total == total
        assert before.covered + before.uncovered == total and after.covered + after.uncovered == total
        assert 0 <= before.covered <= after.covered <= total
    greedy = siting.site_new_stores(
        tracts, stores, 2, customers=customers, max_minutes=max_minutes, method="greedy"
    )
    assert greedy.population_after.covered <= result.population_after.covered


def test_travel_time_is_pluggable(metro: GeoPaths) -> None:
    tracts = read_vector(metro.tracts).good
    stores = read_vector(metro.business, "stores").good

    def unreachable(origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        return np.full((len(origins), len(destinations)), np.inf)

    result = siting.site_new_stores(tracts, stores, 1, travel_minutes=unreachable)
    assert result.population_before.covered == result.population_after.covered == 0.0


def test_rejects_bad_k() -> None:
    cover, weights, already = _random_case(0)
    with pytest.raises(ValueError):
        siting.greedy_max_coverage(cover, weights, cover.shape[1] + 1, already)
