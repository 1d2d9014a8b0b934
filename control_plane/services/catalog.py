"""Read models for the dashboard: everything registered and what is deployed, in one call."""

from __future__ import annotations

from sqlmodel import Session, col, select

from control_plane.models import Deployment, Model, ModelVersion
from control_plane.schemas import ModelOverview, VersionSummary


def overview(session: Session, versions_per_model: int = 20) -> list[ModelOverview]:
    out = []
    for model in session.exec(select(Model).order_by(Model.name)).all():
        rows = session.exec(
            select(ModelVersion)
            .where(ModelVersion.model_id == model.id)
            .order_by(col(ModelVersion.seq).desc())
            .limit(versions_per_model)
        ).all()
        dep = session.get(Deployment, model.id)
        out.append(
            ModelOverview(
                name=model.name,
                versions=[
                    VersionSummary(
                        version=v.label,
                        created_at=v.created_at,
                        created_by=v.created_by,
                        sha256=v.sha256,
                        format=v.format,
                        size=v.size,
                    )
                    for v in rows
                ],
                weights=dict(dep.weights) if dep else {},
            )
        )
    return out
