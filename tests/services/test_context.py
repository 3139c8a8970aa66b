"""The build context: ignore rules of gcloud, Docker and git, credential refusal, size limit, reproducible archive."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from deployer.errors import BadInput, ExitCode
from deployer.services.context import (
    ContextSummary,
    check_context,
    find_credential_files,
    human_size,
    select_context,
    write_archive,
)

SERVICE_ACCOUNT_KEY = (
    '{"type": "service_account", "project_id": "p", "private_key_id": "abc", '
    '"private_key": "-----BEGIN PRIVATE KEY-----\\nSECRETSECRET\\n-----END PRIVATE KEY-----\\n", '
    '"client_email": "x@p.iam.gserviceaccount.com"}'
)
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETSECRET\n-----END OPENSSH PRIVATE KEY-----\n"
PGP_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nSECRETSECRET\n-----END PGP PRIVATE KEY BLOCK-----\n"


def make(root: Path, tree: dict[str, str | bytes]) -> Path:
    for name, content in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def paths(root: Path, dockerfile: str = "Dockerfile") -> list[str]:
    return [file.path for file in select_context(root, root / dockerfile).files]


def archive_bytes(root: Path, summary: ContextSummary | None = None) -> bytes:
    out = io.BytesIO()
    write_archive(root, summary or select_context(root, root / "Dockerfile"), out)
    return out.getvalue()


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getmembers()


TREE: dict[str, str | bytes] = {
    "Dockerfile": "FROM scratch\n",
    "app.py": "print(1)\n",
    "app.pyc": "x",
    "foo": "top foo",
    "a/foo": "nested foo",
    "a/b.pyc": "x",
    "docs/readme.md": "docs",
    "docs/guide.md": "guide",
    "data/keep.txt": "keep",
    "data/big.bin": "big",
}


# --- .gcloudignore ---------------------------------------------------------------------------------------------------


def test_gcloudignore_uses_gitignore_semantics(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".gcloudignore": "# comment\nfoo\n*.pyc\ndocs/\n"})
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert summary.ignore_file == ".gcloudignore"
    # Unanchored patterns match at any depth, unlike Docker's.
    assert [f.path for f in summary.files] == [".gcloudignore", "Dockerfile", "app.py", "data/big.bin", "data/keep.txt"]


def test_gcloudignore_cannot_reinclude_inside_an_excluded_directory(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".gcloudignore": "data/\n!data/keep.txt\n"})
    assert "data/keep.txt" not in paths(tmp_path)
    # Excluding the directory's contents (not the directory) leaves room for the exception.
    make(tmp_path, {".gcloudignore": "data/*\n!data/keep.txt\n"})
    chosen = paths(tmp_path)
    assert "data/keep.txt" in chosen
    assert "data/big.bin" not in chosen


def test_gcloudignore_negation_last_match_wins(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".gcloudignore": "*.md\n!guide.md\n"})
    chosen = paths(tmp_path)
    assert "docs/guide.md" in chosen
    assert "docs/readme.md" not in chosen


def test_gcloudignore_include_directive(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            **TREE,
            ".gcloudignore": ".gcloudignore\n#!include:.gitignore\n",
            ".gitignore": "*.pyc\n#!include:ignore/extra\n",
            "ignore/extra": "docs/\nignore/\n",
        },
    )
    chosen = paths(tmp_path)
    assert chosen == [".gitignore", "Dockerfile", "a/foo", "app.py", "data/big.bin", "data/keep.txt", "foo"]


def test_gcloudignore_missing_include_names_file_and_line(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".gcloudignore": "*.pyc\n#!include:nope.txt\n"})
    with pytest.raises(BadInput) as caught:
        select_context(tmp_path, tmp_path / "Dockerfile")
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.message.startswith(".gcloudignore line 2: #!include:nope.txt")
    assert "nope.txt" in caught.value.message


def test_gcloudignore_include_loop_is_refused(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".gcloudignore": "#!include:a.ignore\n", "a.ignore": "#!include:.gcloudignore\n"})
    with pytest.raises(BadInput, match="includes itself"):
        select_context(tmp_path, tmp_path / "Dockerfile")


def test_gcloudignore_wins_over_dockerignore(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".gcloudignore": "data/\n", ".dockerignore": "docs\n"})
    chosen = paths(tmp_path)
    assert "docs/guide.md" in chosen
    assert "data/keep.txt" not in chosen


# --- .dockerignore ---------------------------------------------------------------------------------------------------


def test_dockerignore_patterns_are_anchored(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".dockerignore": "foo\n*.pyc\n"})
    chosen = paths(tmp_path)
    assert "foo" not in chosen
    assert "a/foo" in chosen  # gitignore would exclude it; Docker anchors to the root
    assert "app.pyc" not in chosen
    assert "a/b.pyc" in chosen


def test_dockerignore_double_star_spans_directories(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".dockerignore": "**/*.pyc\n**/foo\ndocs/**\n", "x/y/z.pyc": "x"})
    chosen = paths(tmp_path)
    assert chosen == [".dockerignore", "Dockerfile", "app.py", "data/big.bin", "data/keep.txt"]


def test_dockerignore_reincludes_inside_an_excluded_directory(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".dockerignore": "data\n!data/keep.txt\n"})
    chosen = paths(tmp_path)
    assert "data/keep.txt" in chosen
    assert "data/big.bin" not in chosen


def test_dockerignore_reincludes_deep_and_by_wildcard(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, "data/sub/keep.txt": "k", "data/sub/drop.txt": "d"})
    (tmp_path / ".dockerignore").write_text("data\n!data/sub/keep.txt\n")
    assert [p for p in paths(tmp_path) if p.startswith("data/")] == ["data/sub/keep.txt"]
    (tmp_path / ".dockerignore").write_text("data\n!**/keep.txt\n")
    assert [p for p in paths(tmp_path) if p.startswith("data/")] == ["data/keep.txt", "data/sub/keep.txt"]


def test_dockerignore_last_match_wins(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".dockerignore": "docs\n!docs/guide.md\ndocs/guide.md\n"})
    assert not [p for p in paths(tmp_path) if p.startswith("docs/")]
    make(tmp_path, {".dockerignore": "*.md\n!docs\n"})
    assert [p for p in paths(tmp_path) if p.startswith("docs/")] == ["docs/guide.md", "docs/readme.md"]


def test_dockerignore_cleans_patterns(tmp_path: Path) -> None:
    dockerignore = "# a comment\n\n/foo\n./app.py\ndocs//../data/\n   \n #notacomment\n"
    make(tmp_path, {**TREE, ".dockerignore": dockerignore, "#notacomment": "x"})
    chosen = paths(tmp_path)
    assert chosen == [".dockerignore", "Dockerfile", "a/b.pyc", "a/foo", "app.pyc", "docs/guide.md", "docs/readme.md"]


def test_dockerignore_wildcards_and_classes(tmp_path: Path) -> None:
    make(
        tmp_path,
        {"Dockerfile": "x", "log1.txt": "", "log22.txt": "", "logA.txt": "", "a.b": "", "axb": "", ".dockerignore": ""},
    )
    (tmp_path / ".dockerignore").write_text("log?.txt\n[l]og[0-9][0-9].txt\na.b\n")
    assert paths(tmp_path) == [".dockerignore", "Dockerfile", "axb"]


def test_dockerignore_bare_bang_is_an_error(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".dockerignore": "docs\n!\n"})
    with pytest.raises(BadInput, match=r"^\.dockerignore line 2"):
        select_context(tmp_path, tmp_path / "Dockerfile")


def test_dockerfile_and_dockerignore_always_sent(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            **TREE,
            "build/Dockerfile.prod": "FROM x\n",
            "build/other": "x",
            ".dockerignore": "Dockerfile\n.dockerignore\nbuild\n",
        },
    )
    chosen = paths(tmp_path, "build/Dockerfile.prod")
    assert chosen[0] == ".dockerignore"
    assert "build/Dockerfile.prod" in chosen
    assert "build/other" not in chosen
    assert "Dockerfile" not in chosen  # not the one being built, so the pattern applies to it


def test_dockerfile_always_sent_under_gitignore_rules(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, "docker/Dockerfile": "FROM x\n", ".gcloudignore": "docker/\n"})
    assert "docker/Dockerfile" in paths(tmp_path, "docker/Dockerfile")


def test_large_excluded_folder_stays_out_of_the_archive(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": "FROM scratch\n", "main.py": "print(1)\n", ".dockerignore": "data\n"})
    (tmp_path / "data").mkdir()
    with (tmp_path / "data" / "huge.bin").open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert summary.total_bytes < 1000
    data = archive_bytes(tmp_path, summary)
    assert len(data) < 4096
    assert [m.name for m in members(data)] == [".dockerignore", "Dockerfile", "main.py"]


# --- .gitignore and the defaults -------------------------------------------------------------------------------------

DEFAULTS_TREE: dict[str, str | bytes] = {
    "Dockerfile": "FROM x\n",
    "src/app.py": "x",
    "src/__pycache__/app.cpython-311.pyc": "x",
    "src/old.pyc": "x",
    ".git/HEAD": "ref",
    ".venv/bin/python": "x",
    "venv/lib/x.py": "x",
    "web/node_modules/left-pad/index.js": "x",
    ".mypy_cache/x": "x",
    ".pytest_cache/x": "x",
    "pkg/.git/config": "x",
}


def test_defaults_without_any_ignore_file(tmp_path: Path) -> None:
    make(tmp_path, DEFAULTS_TREE)
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert summary.ignore_file == "defaults"
    assert [f.path for f in summary.files] == ["Dockerfile", "src/app.py"]


def test_gitignore_adds_to_the_defaults(tmp_path: Path) -> None:
    make(tmp_path, {**DEFAULTS_TREE, ".gitignore": "*.log\n!venv\n", "out.log": "x", "src/deep/x.log": "x"})
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert summary.ignore_file == ".gitignore"
    assert [f.path for f in summary.files] == [".gitignore", "Dockerfile", "src/app.py", "venv/lib/x.py"]


def test_dockerignore_replaces_the_defaults(tmp_path: Path) -> None:
    make(tmp_path, {**DEFAULTS_TREE, ".dockerignore": ".git\n"})
    chosen = paths(tmp_path)
    assert ".git/HEAD" not in chosen
    assert "pkg/.git/config" in chosen
    assert "web/node_modules/left-pad/index.js" in chosen


# --- walking ---------------------------------------------------------------------------------------------------------


def test_symlinks_are_kept_as_links_and_not_followed(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": "FROM x\n", "real/file.txt": "hello"})
    os.symlink("real", tmp_path / "linkdir")
    os.symlink("real/file.txt", tmp_path / "linkfile")
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    by_path = {f.path: f for f in summary.files}
    assert sorted(by_path) == ["Dockerfile", "linkdir", "linkfile", "real/file.txt"]
    assert by_path["linkdir"].is_symlink
    assert by_path["linkdir"].link_target == "real"
    assert by_path["linkdir"].size == 0
    assert by_path["real/file.txt"].size == 5
    tar_members = {m.name: m for m in members(archive_bytes(tmp_path, summary))}
    assert tar_members["linkdir"].issym()
    assert tar_members["linkdir"].linkname == "real"
    assert tar_members["linkfile"].linkname == "real/file.txt"


def test_largest_dirs(tmp_path: Path) -> None:
    make(
        tmp_path,
        {"Dockerfile": "x" * 10, "big/a": "x" * 300, "big/sub/b": "x" * 200, "mid/c": "x" * 100, "small/d": "x"},
    )
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert summary.largest_dirs == (("big", 500), ("mid", 100), (".", 10), ("small", 1))
    assert summary.total_bytes == 611


def test_dockerfile_outside_the_context_is_refused(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": "FROM x\n", "ctx/app.py": "x"})
    with pytest.raises(BadInput, match="outside the build context"):
        select_context(tmp_path / "ctx", tmp_path / "Dockerfile")


def test_missing_dockerfile_is_refused(tmp_path: Path) -> None:
    make(tmp_path, {"app.py": "x"})
    with pytest.raises(BadInput, match="does not exist"):
        select_context(tmp_path, tmp_path / "Dockerfile")


# --- credentials -----------------------------------------------------------------------------------------------------


def test_credentials_of_each_kind_are_found(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": "FROM x\n",
            "keys/sa.json": SERVICE_ACCOUNT_KEY,
            "config.json": '{"type": "service_account", "project_id": "p"}',  # no private key: not a key
            ".env": "# settings\nDEBUG=\nAPI_TOKEN=SECRETSECRET\n",
            ".env.production": "export DB_PASSWORD='SECRETSECRET'\n",
            ".env.example": "API_TOKEN=changeme\n",
            "empty/.env": 'A=\nB=""\nC= # nothing\n',
            "deploy/id_ed25519": PRIVATE_KEY,
            "certs/server.key": "-----BEGIN RSA PRIVATE KEY-----\nSECRETSECRET\n",
            "certs/server.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n",
        },
    )
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert find_credential_files(tmp_path, summary.files) == [
        (".env", "a .env file with values"),
        (".env.production", "a .env file with values"),
        ("certs/server.key", "a private key"),
        ("deploy/id_ed25519", "a private key"),
        ("keys/sa.json", "a service account key"),
    ]


def test_a_key_anywhere_in_a_large_file_is_found(tmp_path: Path) -> None:
    # Deep in a file, straddling the scanner's 1 MiB read chunks, and after 1 MiB of data.
    straddling = "x" * (1024 * 1024 - 10) + PRIVATE_KEY
    make(
        tmp_path,
        {
            "Dockerfile": "x",
            "late.txt": "x" * 5000 + PRIVATE_KEY,
            "big.txt": PRIVATE_KEY + "x" * 1024 * 1024,
            "straddle.csv": straddling,
            "deep.bin": b"\0" * (3 * 1024 * 1024) + PGP_KEY.encode(),
            "ok.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----BEGIN PUBLIC KEY-----\n",
        },
    )
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert find_credential_files(tmp_path, summary.files) == [
        ("big.txt", "a private key"),
        ("deep.bin", "a private key"),
        ("late.txt", "a private key"),
        ("straddle.csv", "a private key"),
    ]


def test_credentials_by_name_and_kind_are_found(tmp_path: Path) -> None:
    big_key = SERVICE_ACCOUNT_KEY[:-1] + ', "padding": "' + "p" * (1024 * 1024) + '"}'
    make(
        tmp_path,
        {
            "Dockerfile": "x",
            "gcloud/adc": '{"client_id": "c", "client_secret": "SECRETSECRET", "refresh_token": "r", '
            '"type": "authorized_user"}',
            "wif.conf": '{"type": "external_account", "audience": "//iam.googleapis.com/x"}',
            "keys/sa.key": SERVICE_ACCOUNT_KEY,
            "keys/big.json": big_key,
            "certs/legacy.p12": b"\x30\x82\x01\x00",
            ".netrc": "machine example.com login me password SECRETSECRET\n",
            ".npmrc": "//registry.npmjs.org/:_authToken=SECRETSECRET\n",
            "web/.npmrc": "registry=https://registry.npmjs.org/\n",
            "home/.aws/credentials": "[default]\naws_access_key_id = AKIA\naws_secret_access_key = SECRETSECRET\n",
            ".envrc": "export API_KEY=SECRETSECRET\n",
            "prod.env": "DB_PASSWORD=SECRETSECRET\n",
            "example.env": "DB_PASSWORD=changeme\n",
            "empty.env": "DB_PASSWORD=\n",
            "ssh/id_rsa": "not even a PEM header\n",
            "ssh/id_rsa.pub": "ssh-rsa AAAA me@host\n",
        },
    )
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert find_credential_files(tmp_path, summary.files) == [
        (".envrc", "an .envrc with values"),
        (".netrc", "a .netrc (logins and passwords)"),
        (".npmrc", "an .npmrc with a registry token"),
        ("certs/legacy.p12", "a PKCS#12 key (.p12/.pfx)"),
        ("gcloud/adc", "gcloud user credentials (authorized_user)"),
        ("home/.aws/credentials", "AWS credentials"),
        ("keys/big.json", "a service account key"),
        ("keys/sa.key", "a service account key"),
        ("prod.env", "a .env file with values"),
        ("ssh/id_rsa", "an SSH private key"),
        ("wif.conf", "a workload identity federation credential (external_account)"),
    ]


def test_scan_results_are_cached_and_a_change_is_seen(tmp_path: Path, isolated_env: Path) -> None:
    from deployer.services.context import scan_context
    from deployer.services.filescan import cache_dir

    root = make(tmp_path / "ctx", {"Dockerfile": "x", "a.txt": "c" * len(PRIVATE_KEY)})
    old = 1_000_000_000
    for name in ("Dockerfile", "a.txt"):
        os.utime(root / name, (old, old))
    summary = select_context(root, root / "Dockerfile")
    first = scan_context(root, summary.files)
    assert cache_dir() == isolated_env / ".cache" / "deployer"
    assert list((cache_dir() / "files").glob("*.json"))
    assert scan_context(root, summary.files) == first
    # Same size and mtime, but a new inode (an editor's save-by-rename): read again, and the key is found.
    replacement = root / "a.txt.new"
    replacement.write_text(PRIVATE_KEY)
    os.utime(replacement, (old, old))
    os.replace(replacement, root / "a.txt")
    again = scan_context(root, select_context(root, root / "Dockerfile").files)
    assert again["a.txt"].credential == "a private key"
    assert again["a.txt"].sha256 != first["a.txt"].sha256


def test_xdg_cache_home_is_respected(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deployer.services.filescan import cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "deployer"


def test_credentials_refused_without_their_content(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": "x", "sa.json": SERVICE_ACCOUNT_KEY, ".env": "TOKEN=SECRETSECRET\n"})
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    with pytest.raises(BadInput) as caught:
        check_context(summary, context_dir=tmp_path, max_bytes=10**9, allow_large=False, allowed_credentials=())
    error = caught.value
    assert error.exit_code == ExitCode.BAD_INPUT
    assert error.message.splitlines()[1:] == ["  .env: a .env file with values", "  sa.json: a service account key"]
    assert "SECRET" not in str(error)
    assert error.hint is not None
    assert "--allow-credential-file" in error.hint
    assert "build.allow_credential_files" in error.hint


def test_allowed_credentials_pass(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": "x", "test/fixture.json": SERVICE_ACCOUNT_KEY, ".env": "A=1\n"})
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    with pytest.raises(BadInput) as caught:
        check_context(summary, context_dir=tmp_path, max_bytes=10**9, allow_large=False, allowed_credentials=["./.env"])
    assert "test/fixture.json" in caught.value.message
    assert ".env:" not in caught.value.message
    check_context(
        summary,
        context_dir=tmp_path,
        max_bytes=10**9,
        allow_large=False,
        allowed_credentials=["./.env", "test/fixture.json"],
    )


def test_ignored_credentials_are_not_a_problem(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": "x", "sa.json": SERVICE_ACCOUNT_KEY, ".dockerignore": "sa.json\n"})
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    check_context(summary, context_dir=tmp_path, max_bytes=10**9, allow_large=False, allowed_credentials=())


# --- size limit ------------------------------------------------------------------------------------------------------


def test_size_limit_names_the_largest_folders(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": "x", "src/app.py": "x" * 2000})
    (tmp_path / "data").mkdir()
    with (tmp_path / "data" / "blob").open("wb") as handle:
        handle.truncate(3_000_000)
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    with pytest.raises(BadInput) as caught:
        check_context(summary, context_dir=tmp_path, max_bytes=1_000_000, allow_large=False, allowed_credentials=())
    error = caught.value
    assert error.message == (
        "the build context is 3.0 MB in 3 files, over the 1.0 MB limit; "
        "largest folders: data (3.0 MB), src (2.0 KB), . (1 B)"
    )
    assert error.hint is not None
    assert "--max-context-mb" in error.hint
    assert "--allow-large-context" in error.hint
    assert ".dockerignore" in error.hint
    check_context(summary, context_dir=tmp_path, max_bytes=1_000_000, allow_large=True, allowed_credentials=())
    check_context(summary, context_dir=tmp_path, max_bytes=4_000_000, allow_large=False, allowed_credentials=())


# --- the archive -----------------------------------------------------------------------------------------------------


def _tree_with_times(root: Path, mtime: int, mode: int) -> Path:
    make(
        root,
        {"Dockerfile": "FROM x\n", "src/app.py": "print(1)\n", "src/pkg/mod.py": "x = 1\n", "run.sh": "#!/bin/sh\n"},
    )
    os.chmod(root / "run.sh", 0o700)
    for path in root.rglob("*"):
        if path.is_file() and path.name != "run.sh":
            os.chmod(path, mode)
        os.utime(path, (mtime, mtime))
    return root


def test_archive_is_reproducible(tmp_path: Path) -> None:
    first = _tree_with_times(tmp_path / "one", 1_000_000, 0o644)
    second = _tree_with_times(tmp_path / "two", 2_000_000_000, 0o600)
    data_one, data_again, data_two = archive_bytes(first), archive_bytes(first), archive_bytes(second)
    assert data_one == data_again == data_two
    (second / "src" / "app.py").write_text("print(2)\n")
    assert archive_bytes(second) != data_one


def test_archive_info_matches_the_bytes_written(tmp_path: Path) -> None:
    root = _tree_with_times(tmp_path, 1_000_000, 0o644)
    out = io.BytesIO()
    info = write_archive(root, select_context(root, root / "Dockerfile"), out)
    data = out.getvalue()
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size == len(data)
    assert info.file_count == 4


def test_archive_members_are_normalized_and_sorted(tmp_path: Path) -> None:
    root = _tree_with_times(tmp_path, 1_000_000, 0o664)
    data = archive_bytes(root)
    # gzip header: no file name flag, mtime zero.
    assert data[3] & 0x08 == 0
    assert data[4:8] == b"\0\0\0\0"
    assert gzip.decompress(data)
    found = members(data)
    assert [(m.name, m.type, m.mode) for m in found] == [
        ("Dockerfile", tarfile.REGTYPE, 0o644),
        ("run.sh", tarfile.REGTYPE, 0o755),
        ("src", tarfile.DIRTYPE, 0o755),
        ("src/app.py", tarfile.REGTYPE, 0o644),
        ("src/pkg", tarfile.DIRTYPE, 0o755),
        ("src/pkg/mod.py", tarfile.REGTYPE, 0o644),
    ]
    for member in found:
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        extracted = tar.extractfile("src/pkg/mod.py")
        assert extracted is not None
        assert extracted.read() == b"x = 1\n"


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 12, 999, 1000, 1234, 9_960, 340_000, 999_600, 1_200_000, 612_300_000)] == [
        "0 B",
        "12 B",
        "999 B",
        "1.0 KB",
        "1.2 KB",
        "10 KB",
        "340 KB",
        "1.0 MB",
        "1.2 MB",
        "612 MB",
    ]
    assert human_size(5 * 10**9) == "5.0 GB"


# --- the content tag and the streamed archive ------------------------------------------------------------------------


def _tag(root: Path) -> str:
    from deployer.services.archive import content_tag
    from deployer.services.context import scan_context

    summary = select_context(root, root / "Dockerfile")
    facts = scan_context(root, summary.files, use_cache=False)
    return content_tag(summary.files, {path: fact.sha256 for path, fact in facts.items()}, "Dockerfile")


def test_content_tag_names_paths_modes_and_contents_not_times(tmp_path: Path) -> None:
    first = _tree_with_times(tmp_path / "one", 1_000_000, 0o644)
    second = _tree_with_times(tmp_path / "two", 2_000_000_000, 0o600)
    assert _tag(first) == _tag(second)
    assert _tag(first).startswith("src-")
    assert len(_tag(first)) == 4 + 24
    os.chmod(second / "src" / "app.py", 0o755)
    executable = _tag(second)
    assert executable != _tag(first)
    os.chmod(second / "src" / "app.py", 0o644)
    (second / "src" / "app.py").write_text("print(2)\n")
    assert _tag(second) not in (_tag(first), executable)
    (second / "src" / "app.py").rename(second / "src" / "main.py")
    (second / "src" / "main.py").write_text("print(1)\n")
    assert _tag(second) != _tag(first)


def test_content_tag_does_not_depend_on_compression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zlib

    from deployer.services import archive

    root = _tree_with_times(tmp_path, 1_000_000, 0o644)
    before = _tag(root), archive_bytes(root)
    monkeypatch.setattr(archive, "_compress", lambda data, level, wbits: zlib.compress(data, 9, wbits))
    after = _tag(root), archive_bytes(root)
    assert after[0] == before[0]
    assert after[1] != before[1]


def test_streamed_archive_has_every_byte_in_many_members(tmp_path: Path) -> None:
    from deployer.services.archive import ArchiveStream

    csv = "".join(f"{i},{i * 7 % 13},name-{i % 97}\n" for i in range(400_000)).encode()
    weights = os.urandom(6 * 1024 * 1024)
    make(tmp_path, {"Dockerfile": "FROM x\n", "data/table.csv": csv, "model.ckpt": weights})
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    out = io.BytesIO()
    with ArchiveStream(tmp_path, summary.files, threads=2) as stream:
        while chunk := stream.read(300_000):
            out.write(chunk)
        info = stream.info()
    data = out.getvalue()
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    # The random checkpoint is stored, not compressed; the CSV is compressed.
    assert info.stored_bytes == len(weights)
    assert len(data) < len(weights) + len(csv) // 2
    assert data.count(b"\x1f\x8b\x08") > 2  # several gzip members
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        table, model = tar.extractfile("data/table.csv"), tar.extractfile("model.ckpt")
        assert table is not None
        assert model is not None
        assert table.read() == csv
        assert model.read() == weights
    # Python's own tarfile, uncompressed, gives the same tar stream byte for byte.
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members(data):
            source = tmp_path / member.name
            tar.addfile(member, source.open("rb") if member.isfile() else None)
    assert gzip.decompress(data) == plain.getvalue()


def test_a_streamed_archive_cannot_seek_back(tmp_path: Path) -> None:
    from deployer.services.archive import ArchiveStream

    make(tmp_path, {"Dockerfile": "FROM x\n"})
    with ArchiveStream(tmp_path, select_context(tmp_path, tmp_path / "Dockerfile").files) as stream:
        stream.read(10)
        assert stream.seek(10) == 10
        with pytest.raises(OSError, match="cannot seek"):
            stream.seek(0)
