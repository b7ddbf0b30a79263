"""Shared fixtures for the integration suite: paths to the built programs and test data."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("NES_BIN", ROOT / "build" / "bin"))
TESTDATA = pathlib.Path(os.environ.get("NES_TESTDATA", ROOT.parent / "shared" / "testdata"))


def cpu_flags() -> set:
    """The flags of the first CPU in /proc/cpuinfo (aes, pclmulqdq, sha_ni...)."""
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


@pytest.fixture(scope="session")
def bin_dir() -> pathlib.Path:
    return BIN


@pytest.fixture(scope="session")
def testdata() -> pathlib.Path:
    return TESTDATA


@pytest.fixture(scope="session")
def root_dir() -> pathlib.Path:
    return ROOT


@pytest.fixture
def moto():
    """A fresh moto server (KMS, Secrets Manager, S3) behind a gate on free loopback ports: see
    awspeer.py (peer.env() for our programs, peer.client() for boto3, down()/up()/stop())."""
    from awspeer import MotoPeer  # pylint: disable=import-outside-toplevel
    peer = MotoPeer().start()
    try:
        yield peer
    finally:
        peer.close()
