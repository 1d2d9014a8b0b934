"""What the API, the CLI and the UI exchange; table models never leave the services.

Each subject has its module; this package is their one public face."""

from control_plane.schemas.access import *  # noqa: F403
from control_plane.schemas.common import *  # noqa: F403
from control_plane.schemas.deployments import *  # noqa: F403
from control_plane.schemas.experiments import *  # noqa: F403
from control_plane.schemas.messages import *  # noqa: F403
from control_plane.schemas.metrics import *  # noqa: F403
from control_plane.schemas.scaling import *  # noqa: F403
from control_plane.schemas.versions import *  # noqa: F403
