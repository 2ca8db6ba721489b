import os
import stat
import subprocess
from pathlib import Path

import pytest

from archiver.errors import ConfigError
from archiver.evidence.keys import (
    load_or_create_key,
    public_fingerprint,
    public_key_path,
    verify_signature,
)


def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "archive-key.pem"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_key(path)
    assert again.fingerprint == key.fingerprint  # never regenerated
    assert public_fingerprint(public_key_path(path).read_bytes()) == key.fingerprint
    assert "PRIVATE" not in repr(key) and "BEGIN" not in repr(key)


def test_signature_verifies_with_openssl(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k.pem")
    data = tmp_path / "manifest.json"
    data.write_bytes(b'{"a": 1}\n')
    sig = tmp_path / "manifest.sig"
    sig.write_bytes(key.sign(data.read_bytes()))
    out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(public_key_path(
        tmp_path / "k.pem")), "-signature", str(sig), str(data)], capture_output=True, text=True)
    assert out.returncode == 0 and "Verified OK" in out.stdout
    assert verify_signature(key.public_pem, data.read_bytes(), sig.read_bytes())
    assert not verify_signature(key.public_pem, b'{"a": 2}\n', sig.read_bytes())


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_key(path)


def test_garbage_key_file(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text("nonsense")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="not an unencrypted PEM"):
        load_or_create_key(path)


def test_a_crash_while_creating_leaves_no_half_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "archive-key.pem"
    path.parent.mkdir()
    (path.parent / f".{path.name}.99999.tmp").write_bytes(b"-----BEGIN PRIV")  # a dead run's
    key = load_or_create_key(path)
    assert key.fingerprint.startswith("sha256:")
    assert load_or_create_key(path).fingerprint == key.fingerprint


def test_concurrent_creation_agrees_on_one_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "k.pem"
    with ThreadPoolExecutor(8) as pool:
        prints = {k.fingerprint for k in pool.map(lambda _: load_or_create_key(path), range(8))}
    assert len(prints) == 1
