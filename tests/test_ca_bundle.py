"""The CA bundle the image ships (certs/rds-ca-bundle.pem), checked certificate by certificate
against what AWS documents about its CAs.

The RDS certificate authorities (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
UsingWithRDS.SSL.html, "Certificate authorities"): rds-ca-rsa2048-g1 (RSA 2048 key, SHA256
signatures; SHA384 only in GovCloud, which the global bundle does not cover), rds-ca-rsa4096-g1
(RSA 4096, SHA384) and rds-ca-ecc384-g1 (ECC 384, SHA384), whose root certificates are named
"Amazon RDS <region-identifier> Root CA RSA2048 G1 / RSA4096 G1 / ECC384 G1". AWS publishes no
fingerprints for them; each must be a self-signed root with exactly that name, key and
signature. RDS Proxy endpoints present ACM certificates that chain to Amazon Root CA 1
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL-certificate-rotation.html,
https://repost.aws/knowledge-center/rds-aurora-mysql-connect-proxy),
whose SHA-256 of the subject public key Amazon Trust Services publishes
(https://www.amazontrust.com/repository/).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import ssl
from collections import Counter
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from app.settings import DEFAULT_SSLROOTCERT
from tests.conftest import ROOT

BUNDLE = ROOT / "certs" / "rds-ca-bundle.pem"
# Changing the bundle means re-running these checks on the new file, then updating this.
BUNDLE_SHA256 = "f09a85cc52d51424f9b9b5712e44c0533ad8b68a1b11395e5cea8fc6e844c1d1"
# Regions, and AWS's Beta and Preview endpoints (in the published bundle too).
RDS_CN = re.compile(
    r"Amazon RDS (?P<where>((Beta|Preview) )?[a-z]{2}(-[a-z]+)+-\d) "
    r"Root CA (?P<kind>RSA2048|RSA4096|ECC384) G1"
)
# key check, signature hash, per CA kind, as the documentation describes each CA.
KINDS = {
    "RSA2048": (lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 2048, hashes.SHA256),
    "RSA4096": (lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 4096, hashes.SHA384),
    "ECC384": (
        lambda k: isinstance(k, ec.EllipticCurvePublicKey) and k.curve.name == "secp384r1",
        hashes.SHA384,
    ),
}
AMAZON_ROOT_CA_1_SPKI_SHA256 = "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2"


def _certificates() -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(BUNDLE.read_bytes())


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _verify_self_signature(cert: x509.Certificate) -> None:
    key = cert.public_key()
    assert cert.signature_hash_algorithm is not None
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(
            cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
        )


def test_the_bundle_is_the_one_that_was_checked() -> None:
    assert hashlib.sha256(BUNDLE.read_bytes()).hexdigest() == BUNDLE_SHA256
    assert Path(DEFAULT_SSLROOTCERT) == BUNDLE  # the default DB_SSLROOTCERT is this file


def test_openssl_loads_every_certificate() -> None:
    context = ssl.create_default_context(cafile=str(BUNDLE))
    assert context.cert_store_stats()["x509_ca"] == len(_certificates()) == 103


def test_every_rds_certificate_is_an_aws_documented_root() -> None:
    now = dt.datetime.now(dt.UTC)
    seen: Counter[tuple[str, str]] = Counter()
    for cert in _certificates()[:-1]:
        cn = _cn(cert)
        match = RDS_CN.fullmatch(cn)
        assert match, cn
        assert cert.subject == cert.issuer, cn
        assert cert.subject.rfc4514_string() == (
            f"L=Seattle,CN={cn},ST=WA,OU=Amazon RDS,O=Amazon Web Services\\, Inc.,C=US"
        )
        key_ok, signature_hash = KINDS[match["kind"]]
        assert key_ok(cert.public_key()), cn
        assert isinstance(cert.signature_hash_algorithm, signature_hash), cn
        _verify_self_signature(cert)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca, cn
        assert cert.not_valid_before_utc < now < cert.not_valid_after_utc, cn
        # The G1 CAs replaced rds-ca-2019 (expired 2024) with decades of validity.
        assert cert.not_valid_after_utc > now + dt.timedelta(days=30 * 365), cn
        seen[(match["where"], match["kind"])] += 1
    assert set(seen.values()) == {1}  # no duplicates
    places = {where for where, _ in seen}
    assert {(where, kind) for where in places for kind in KINDS} == set(seen)  # all 3 each
    assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"} <= places
    assert len(places) == 34


def test_amazon_root_ca_1_for_rds_proxy_is_the_published_one() -> None:
    cert = _certificates()[-1]
    assert cert.subject.rfc4514_string() == "CN=Amazon Root CA 1,O=Amazon,C=US"
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert hashlib.sha256(spki).hexdigest() == AMAZON_ROOT_CA_1_SPKI_SHA256
    _verify_self_signature(cert)
    assert cert.not_valid_after_utc == dt.datetime(2038, 1, 17, tzinfo=dt.UTC)


@pytest.mark.parametrize("path", ["/usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt"])
def test_amazon_root_ca_1_matches_the_operating_systems_copy(path: str) -> None:
    system = Path(path)
    if not system.exists():
        pytest.skip("no ca-certificates package on this machine")
    assert x509.load_pem_x509_certificate(system.read_bytes()) == _certificates()[-1]


# The bundle cut per Region (scripts/rds_ca_regions.py, run when the image is built) and the
# file the settings pick from a host name (app/settings.py, regional_sslrootcert).


def _where(cert: x509.Certificate) -> str | None:
    """The Region a certificate's name gives (Beta and Preview roots count for theirs)."""
    found = RDS_CN.fullmatch(_cn(cert))
    return found["where"].split()[-1] if found else None


@pytest.fixture
def regional_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from app import settings
    from scripts import rds_ca_regions

    rds_ca_regions.main(BUNDLE, tmp_path)
    monkeypatch.setattr(settings, "REGIONAL_SSLROOTCERTS", tmp_path)
    return tmp_path


def test_each_regional_file_holds_its_regions_roots_and_those_of_no_region(
    regional_dir: Path,
) -> None:
    bundle = _certificates()
    regions = {_where(c) for c in bundle} - {None}
    assert len(regions) == 32
    assert sorted(p.stem for p in regional_dir.iterdir()) == sorted(regions)
    for region in regions:
        held = x509.load_pem_x509_certificates((regional_dir / f"{region}.pem").read_bytes())
        assert held == [c for c in bundle if _where(c) in (region, None)], region
        # Its three roots, Amazon Root CA 1 (RDS Proxy), and AWS's Beta and Preview roots.
        assert len(held) == {"us-east-1": 7, "us-east-2": 7}.get(region, 4)
        assert "Amazon Root CA 1" in [_cn(c) for c in held]


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("portfolio.cluster-c7tj4example.eu-west-1.rds.amazonaws.com", "eu-west-1"),
        ("portfolio.cluster-ro-c7tj4example.ap-southeast-2.rds.amazonaws.com", "ap-southeast-2"),
        ("portfolio-proxy.proxy-c7tj4example.us-east-1.rds.amazonaws.com", "us-east-1"),
        ("portfolio-instance-1.c7tj4example.il-central-1.rds.amazonaws.com.", "il-central-1"),
        ("Portfolio.Cluster-C7TJ4EXAMPLE.US-WEST-2.RDS.AMAZONAWS.COM", "us-west-2"),
        # A Region the bundle does not cover, a China endpoint, any other host: the bundle.
        ("portfolio.cluster-x.us-gov-west-1.rds.amazonaws.com", None),
        ("portfolio.cluster-x.cn-north-1.rds.amazonaws.com.cn", None),
        ("db.example.com", None),
        ("localhost", None),
        (None, None),
    ],
)
def test_the_host_name_picks_its_regions_file(
    regional_dir: Path, host: str | None, region: str | None
) -> None:
    from app.settings import regional_sslrootcert

    expected = str(regional_dir / f"{region}.pem") if region else None
    assert regional_sslrootcert(host) == expected


def test_the_settings_verify_against_the_databases_region_unless_told_otherwise(
    regional_dir: Path,
) -> None:
    from app.settings import Settings

    host = "portfolio.cluster-c7tj4example.eu-west-1.rds.amazonaws.com"
    regional = str(regional_dir / "eu-west-1.pem")
    iam = {"db_iam_auth": True, "db_host": host, "db_name": "app", "db_user": "app"}
    iam["aws_region"] = "eu-west-1"
    assert Settings(**iam).sslrootcert == regional
    url = f"postgresql+psycopg2://app:pw@{host}:5432/app"
    assert Settings(database_url=url).sslrootcert == regional
    # Whatever is said explicitly wins: DB_SSLROOTCERT (even the bundle), the URL's own.
    assert Settings(**iam, db_sslrootcert=DEFAULT_SSLROOTCERT).sslrootcert == DEFAULT_SSLROOTCERT
    assert Settings(**iam, db_sslrootcert="system").sslrootcert == "system"
    own = Settings(database_url=f"{url}?sslrootcert=/etc/ca.pem").sslrootcert
    assert own == "/etc/ca.pem"
    # A host that names no Region, or a Region without a file: the whole bundle.
    assert Settings(**{**iam, "db_host": "db.example.com"}).sslrootcert == DEFAULT_SSLROOTCERT
    (regional_dir / "eu-west-1.pem").unlink()
    assert Settings(**iam).sslrootcert == DEFAULT_SSLROOTCERT
