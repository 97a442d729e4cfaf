"""Cut the RDS CA bundle into one file per AWS Region, for the image (Dockerfile).

    python scripts/rds_ca_regions.py certs/rds-ca-bundle.pem OUT_DIR

libpq reads the whole CA file on every new connection: the global bundle's 103 certificates
cost each cold start's first connection about 3.7 ms of CPU (docs/benchmark.md), where the
database's own Region needs 3 of them. Each file OUT_DIR/<region>.pem holds that Region's
roots (its Beta and Preview ones too) and every certificate of no Region (Amazon Root CA 1,
which RDS Proxy's certificates chain to), in the bundle's order; app/settings.py picks the
file of the Region an RDS host name names. Standard library only: the builder runs it.

A certificate's Region is read from its name, "Amazon RDS [Beta |Preview ]<region> Root CA
...", which the encoded certificate holds as plain text (subject and, for these self-signed
roots, issuer); tests/test_ca_bundle.py checks the result against the names a certificate
parser reads.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----\r?\n?", re.S)
_REGION = re.compile(rb"Amazon RDS (?:(?:Beta|Preview) )?([a-z]{2}(?:-[a-z]+)+-\d) Root CA ")


def _region(pem: str) -> str | None:
    body = "".join(pem.splitlines()[1:-1])
    regions = {m.group(1).decode() for m in _REGION.finditer(base64.b64decode(body))}
    if len(regions) > 1:
        raise ValueError(f"a certificate names several Regions: {sorted(regions)}")
    return regions.pop() if regions else None


def split(bundle: str) -> dict[str, str]:
    """{region: PEM text} from the bundle's text."""
    certificates = [pem if pem.endswith("\n") else pem + "\n" for pem in _PEM.findall(bundle)]
    regions = [_region(pem) for pem in certificates]
    return {
        region: "".join(
            pem for pem, of in zip(certificates, regions, strict=True) if of in (region, None)
        )
        for region in sorted({r for r in regions if r is not None})
    }


def main(bundle: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for region, text in split(bundle.read_text()).items():
        (out_dir / f"{region}.pem").write_text(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
