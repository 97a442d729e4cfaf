"""The non-root image still works under `sam local invoke`.

SAM builds a thin image FROM the function image whose `RUN mv ... && chmod +x` acts on
root-owned files as the image's user; the Dockerfile's `ONBUILD USER root` lets exactly that
derived image start as root while the shipped image runs as 10001. This builds SAM's own
generated Dockerfile (from the installed aws-sam-cli) through the engine's Docker-compatible
API, as SAM does, then invokes it under the emulator. (tests/sam/ runs SAM CLI itself.)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_event
from tests.image.support import BuiltImage, engine, engine_name

pytestmark = [pytest.mark.image, pytest.mark.sam]

PODMAN_SOCKET = "unix:///run/podman/podman.sock"


@pytest.fixture(scope="module")
def sam_layer_image(image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    docker = pytest.importorskip("docker")
    from samcli.local.docker.lambda_image import LambdaImage
    from samcli.local.docker.utils import get_rapid_name

    arch = "x86_64" if image.arch == "amd64" else "arm64"
    context = tmp_path_factory.mktemp("sam-layer")
    rie = get_rapid_name(arch)
    shutil.copy(Path(LambdaImage._RAPID_SOURCE_PATH) / rie, context / rie)
    (context / "Dockerfile").write_text(LambdaImage._generate_dockerfile(image.tag, [], arch))
    base_url = os.environ.get("DOCKER_HOST") or (
        PODMAN_SOCKET if engine_name() == "podman" else None
    )
    client = docker.APIClient(base_url=base_url) if base_url else docker.APIClient()
    tag = "portfolio-backend:sam-layer-test"
    log = list(client.build(path=str(context), tag=tag, rm=True, decode=True))
    client.close()
    errors = [entry for entry in log if "error" in entry]
    assert not errors, log
    yield tag
    engine("rmi", "-f", tag, check=False)


def test_the_shipped_image_is_non_root_but_sams_layer_builds(
    image: BuiltImage, sam_layer_image: str
) -> None:
    assert image.inspect()["Config"]["User"] not in ("", "0", "root")
    listing = engine("run", "--rm", "--entrypoint", "ls", sam_layer_image, "-l", "/var/rapid")
    assert "aws-lambda-rie" in listing.stdout


def test_sams_layer_answers_an_invocation(
    sam_layer_image: str, start_emulator: Any, image: BuiltImage
) -> None:
    derived = BuiltImage(tag=sam_layer_image, base=image.tag, arch=image.arch)
    function = start_emulator({"DATABASE_URL": "sqlite:////tmp/portfolio.db"}, built=derived)

    response, _ = function.first_invoke(load_event("http-v2/get-health.json"))

    assert response["statusCode"] == 200, (response, function.logs()[-3000:])
