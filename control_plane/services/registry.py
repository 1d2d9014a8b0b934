"""The model registry: immutable, content-addressed versions."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from control_plane.artifacts import Artifacts
from control_plane.db.tables import Deployment, Model, ModelVersion
from control_plane.errors import Conflict, InvalidRequest, NotFound
from control_plane.schemas import (
    ModelPublic,
    Principal,
    PushResult,
    Role,
    VersionCreate,
    VersionPublic,
    check_model_name,
)
from control_plane.services import audit
from control_plane.services.auth import require

_AS_STORED = {"seq", "sha256", "size", "format", "framework", "inputs", "outputs", "resources"}
_AS_STORED |= {"metrics", "description", "created_at", "created_by"}


def to_public(model: Model, v: ModelVersion) -> VersionPublic:
    """The stored row as the API shows it; the JSON columns are validated on the way out."""
    stored = v.model_dump(include=_AS_STORED)
    return VersionPublic(model=model.name, version=v.label, batching=v.batching or {}, **stored)


def get_model(session: Session, name: str) -> Model:
    model = session.exec(select(Model).where(Model.name == name)).first()
    if model is None:
        names = session.exec(select(Model.name).order_by(Model.name)).all()
        known = ", ".join(names) if names else "none yet"
        raise NotFound(f"no model {name!r}; registered models: {known}")
    return model


def _newest(model_id: int | None) -> SelectOfScalar[ModelVersion]:
    return (
        select(ModelVersion)
        .where(ModelVersion.model_id == model_id)
        .order_by(col(ModelVersion.seq).desc())
    )


def _newest_labels(session: Session, model_id: int | None, limit: int) -> list[str]:
    query = select(ModelVersion.label).where(ModelVersion.model_id == model_id)
    return list(session.exec(query.order_by(col(ModelVersion.seq).desc()).limit(limit)).all())


def _count(session: Session, model_id: int | None) -> int:
    query = select(func.count()).select_from(ModelVersion)
    return session.exec(query.where(ModelVersion.model_id == model_id)).one()


def get_version_row(session: Session, model: Model, label: str) -> ModelVersion:
    v = session.exec(
        select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.label == label)
    ).first()
    if v is None:
        labels = _newest_labels(session, model.id, 20)
        raise NotFound(
            f"model {model.name!r} has no version {label!r}; "
            f"versions: {', '.join(labels) if labels else 'none yet'}"
        )
    return v


def get_version(session: Session, name: str, label: str) -> VersionPublic:
    model = get_model(session, name)
    return to_public(model, get_version_row(session, model, label))


def list_versions(
    session: Session, name: str, *, limit: int = 50, offset: int = 0
) -> list[VersionPublic]:
    """Newest first."""
    model = get_model(session, name)
    rows = session.exec(_newest(model.id).offset(offset).limit(limit)).all()
    return [to_public(model, v) for v in rows]


def count_versions(session: Session, name: str) -> int:
    return _count(session, get_model(session, name).id)


def version_seqs(session: Session, name: str, labels: list[str]) -> dict[str, int]:
    """label -> sequence number (1 for the first version pushed) of the named versions."""
    model = get_model(session, name)
    rows = session.exec(
        select(ModelVersion.label, ModelVersion.seq).where(
            ModelVersion.model_id == model.id, col(ModelVersion.label).in_(labels)
        )
    ).all()
    return {label: seq for label, seq in rows}


def _model_public(session: Session, m: Model) -> ModelPublic:
    latest = _newest_labels(session, m.id, 1)
    dep = session.get(Deployment, m.id)
    return ModelPublic(
        name=m.name,
        description=m.description,
        created_at=m.created_at,
        created_by=m.created_by,
        versions=_count(session, m.id),
        latest=latest[0] if latest else None,
        deployment=dict(dep.weights) if dep else None,
    )


def list_models(session: Session) -> list[ModelPublic]:
    return [_model_public(session, m) for m in session.exec(select(Model).order_by(Model.name))]


def describe_model(session: Session, name: str) -> ModelPublic:
    return _model_public(session, get_model(session, name))


def _same_schema(row: ModelVersion, spec: VersionCreate) -> bool:
    return row.inputs == [s.stored() for s in spec.inputs] and row.outputs == [
        s.stored() for s in spec.outputs
    ]


def _next_label(session: Session, model_id: int, seq: int) -> str:
    taken = set(
        session.exec(select(ModelVersion.label).where(ModelVersion.model_id == model_id)).all()
    )
    n = seq
    while str(n) in taken:
        n += 1
    return str(n)


def register_version(
    session: Session, artifacts: Artifacts, principal: Principal, name: str, spec: VersionCreate
) -> PushResult:
    """Register a version. Identical bytes return the existing version; labels are immutable."""
    require(principal, Role.deployer)
    try:
        check_model_name(name)
    except ValueError as e:
        raise InvalidRequest(str(e)) from e
    store = artifacts.store
    if not store.exists(spec.sha256):
        raise NotFound(
            f"no uploaded artifact with sha256 {spec.sha256}: upload it to /api/v1/artifacts first"
        )

    model = session.exec(select(Model).where(Model.name == name)).first()
    if model is not None:
        same_bytes = session.exec(
            select(ModelVersion).where(
                ModelVersion.model_id == model.id, ModelVersion.sha256 == spec.sha256
            )
        ).first()
        if same_bytes is not None:
            if spec.version not in (None, same_bytes.label):
                raise Conflict(
                    f"these bytes are already version {same_bytes.label!r} of {name!r}; "
                    "a version is identified by its content"
                )
            if not _same_schema(same_bytes, spec):
                raise Conflict(
                    f"version {same_bytes.label!r} of {name!r} has these bytes with another "
                    "input/output schema; versions are immutable: push a new version"
                )
            return PushResult(created=False, version=to_public(model, same_bytes))
        if spec.version is not None:
            clash = session.exec(
                select(ModelVersion).where(
                    ModelVersion.model_id == model.id, ModelVersion.label == spec.version
                )
            ).first()
            if clash is not None:
                raise Conflict(
                    f"version {spec.version!r} of {name!r} already exists with sha256 "
                    f"{clash.sha256[:12]}…; versions are immutable: push under a new label"
                )

    # Load it and run it once on the declared inputs before anything is recorded.
    result = artifacts.checker.check(store.path(spec.sha256), spec.inputs, spec.outputs)

    if model is None:
        model = Model(name=name, description=spec.description, created_by=principal.username)
        session.add(model)
        session.flush()
        audit.record(
            session, actor=principal.username, action="model.create", model=name, target=name
        )
    assert model.id is not None
    seq = (
        session.exec(
            select(func.max(ModelVersion.seq)).where(ModelVersion.model_id == model.id)
        ).one()
        or 0
    ) + 1
    label = spec.version or _next_label(session, model.id, seq)
    row = ModelVersion(
        model_id=model.id,
        label=label,
        seq=seq,
        sha256=spec.sha256,
        size=store.size(spec.sha256),
        format=result.format,
        framework=spec.framework,
        inputs=[s.stored() for s in spec.inputs],
        outputs=[s.stored() for s in spec.outputs],
        resources=spec.resources.model_dump(),
        batching=spec.batching.model_dump(exclude_none=True) or None,
        metrics=spec.metrics,
        description=spec.description,
        created_by=principal.username,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as e:
        raise Conflict(f"version {label!r} of {name!r} was pushed concurrently; retry") from e
    public = to_public(model, row)
    audit.record(
        session,
        actor=principal.username,
        action="version.push",
        model=name,
        target=f"{name}@{label}",
        after={"version": label, "sha256": row.sha256, "format": row.format, "size": row.size},
    )
    return PushResult(created=True, version=public)
