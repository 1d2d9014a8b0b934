"""Read models for the dashboard: everything registered and what is deployed, in one call."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from control_plane.db.tables import Deployment, Model, ModelVersion


class DeployedVersion(BaseModel):
    version: str
    seq: int
    weight: int
    format: str


class ModelCard(BaseModel):
    """One model as the overview lists it."""

    name: str
    versions: int
    latest: str | None
    latest_seq: int
    revision: int = Field(description="The deployment's revision; 0 when not deployed.")
    deployed: list[DeployedVersion] = Field(description="Versions with traffic, heaviest first.")


class CatalogPage(BaseModel):
    total: int
    offset: int
    limit: int
    models: list[ModelCard]


def catalog_page(
    session: Session, *, offset: int = 0, limit: int = 20, name_contains: str = ""
) -> CatalogPage:
    """A page of models by name, in a fixed number of queries whatever the page size."""
    where = []
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(col(Model.name).like(f"%{escaped}%", escape="\\"))
    total = session.exec(select(func.count()).select_from(Model).where(*where)).one()
    models = session.exec(
        select(Model).where(*where).order_by(Model.name).offset(offset).limit(limit)
    ).all()
    ids = [m.id for m in models]
    counts: dict[int, tuple[int, int]] = {
        model_id: (n, top)
        for model_id, n, top in session.exec(
            select(ModelVersion.model_id, func.count(), func.max(ModelVersion.seq))
            .where(col(ModelVersion.model_id).in_(ids))
            .group_by(col(ModelVersion.model_id))
        ).all()
    }
    deps = {
        d.model_id: d
        for d in session.exec(select(Deployment).where(col(Deployment.model_id).in_(ids))).all()
    }
    wanted_labels = {label for d in deps.values() for label in d.weights}
    top_seqs = {top for _, top in counts.values()}
    rows = session.exec(
        select(ModelVersion.model_id, ModelVersion.label, ModelVersion.seq, ModelVersion.format)
        .where(col(ModelVersion.model_id).in_(ids))
        .where(col(ModelVersion.label).in_(wanted_labels) | col(ModelVersion.seq).in_(top_seqs))
    ).all()
    by_label = {(model_id, label): (seq, fmt) for model_id, label, seq, fmt in rows}
    by_seq = {(model_id, seq): label for model_id, label, seq, _ in rows}
    cards = []
    for m in models:
        assert m.id is not None
        n, top = counts.get(m.id, (0, 0))
        dep = deps.get(m.id)
        weights = dict(dep.weights) if dep else {}
        deployed = [
            DeployedVersion(
                version=label,
                seq=by_label.get((m.id, label), (0, ""))[0],
                weight=w,
                format=by_label.get((m.id, label), (0, ""))[1],
            )
            for label, w in sorted(weights.items(), key=lambda lw: (-lw[1], lw[0]))
            if w > 0
        ]
        cards.append(
            ModelCard(
                name=m.name,
                versions=n,
                latest=by_seq.get((m.id, top)),
                latest_seq=top,
                revision=dep.revision if dep else 0,
                deployed=deployed,
            )
        )
    return CatalogPage(total=total, offset=offset, limit=limit, models=cards)
