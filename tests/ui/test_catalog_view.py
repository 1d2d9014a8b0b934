"""The dashboard's formatting of the catalog: pure, so no browser is needed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from control_plane.schemas import ModelOverview, VersionSummary
from control_plane.ui.catalog_view import deployed_line, human_size, to_rows


def version(label: str, size: int = 2048) -> VersionSummary:
    return VersionSummary(
        version=label,
        created_at=datetime(2025, 1, 2, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        created_by="alice",
        sha256="ab" * 32,
        format="torchscript",
        size=size,
    )


def test_sizes_read_like_a_file_listing() -> None:
    assert human_size(900) == "900 B"
    assert human_size(9735) == "9.5 KiB"
    assert human_size(3 * 1024**2) == "3.0 MiB"
    assert human_size(5 * 1024**4) == "5120.0 GiB"


def test_deployed_line_lists_serving_versions_heaviest_first() -> None:
    assert deployed_line({}) == "not deployed"
    assert deployed_line({"v1": 0}) == "not deployed"
    assert deployed_line({"v1": 10, "v2": 90}) == "v2 → 90%, v1 → 10%"


def test_rows_carry_traffic_per_version_and_times_in_utc() -> None:
    overview = [
        ModelOverview(name="iris", versions=[version("v2"), version("v1")], weights={"v1": 100})
    ]
    (row,) = to_rows(overview)
    assert row.name == "iris"
    assert row.deployed == "v1 → 100%"
    assert [(v.version, v.traffic) for v in row.versions] == [("v2", ""), ("v1", "100%")]
    first = row.versions[0]
    assert first.created_at == "2025-01-02 03:05 UTC"
    assert first.short_sha == "abababababab"
    assert first.size == "2.0 KiB"
