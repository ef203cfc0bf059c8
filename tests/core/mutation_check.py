"""Proof that each security check has a test that fails when the check is removed.

For each check, a copy of the core is made in a temporary directory with that one check deleted
(or made to always pass), and tests/core/test_security_checks.py runs against the copy; the named
test must fail. The working tree is never modified. Run from the repository root:

    .venv/bin/python -m tests.core.mutation_check

It prints one line per mutant and exits non-zero if a mutant survives, or if a snippet it edits
no longer appears exactly once (the code changed: update the snippet).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]


class Mutant(NamedTuple):
    """One check removed: in ``module``, ``old`` becomes ``new``; ``test`` must then fail."""

    name: str
    module: str
    old: str
    new: str
    test: str


MUTANTS = [
    Mutant(
        "event signature",
        "pipeline.py",
        "    secret = matching_secret(signature, timestamp, nonce, body, keys)\n",
        "    secret = keys[0] if keys else None\n",
        "test_check_event_signature_rejects_a_body_swapped_under_valid_headers",
    ),
    Mutant(
        "event signature required",
        "pipeline.py",
        '    if settings.encrypt_keys and signed.scheme != "event":\n'
        '        raise AuthenticationError("signature headers missing")\n',
        "",
        "test_check_event_signature_required_when_an_encrypt_key_is_configured",
    ),
    Mutant(
        "legacy card signature",
        "pipeline.py",
        "tokens, legacy_card=True)\n",
        "tokens, legacy_card=True) or tokens[0]\n",
        "test_check_legacy_card_signature_rejects_a_wrong_token_signature",
    ),
    Mutant(
        "legacy card signature required",
        "pipeline.py",
        '        if settings.verification_tokens and signed.scheme != "card":\n'
        '            raise AuthenticationError("signature headers missing")\n',
        "",
        "test_check_legacy_card_signature_required_when_a_token_is_configured",
    ),
    Mutant(
        "verification token",
        "pipeline.py",
        "    tokens = settings.verification_tokens\n    if not tokens",
        "    tokens = settings.verification_tokens\n    return\n    if not tokens",
        "test_check_verification_token_rejects_a_wrong_token",
    ),
    Mutant(
        "timestamp window",
        "pipeline.py",
        "    if not abs(time.time() - sent) <= tolerance:\n",
        "    if False:\n",
        "test_check_timestamp_window_rejects_a_replayed_request",
    ),
    Mutant(
        "padding",
        "crypto.py",
        "        if expected is None or not _compare_digest(padded[-pad:], expected):\n",
        "        if False:\n",
        "test_check_padding_rejects_a_pad_length_whose_bytes_do_not_all_match",
    ),
    Mutant(
        "padding bytes",
        "crypto.py",
        "        if expected is None or not _compare_digest(padded[-pad:], expected):\n",
        "        if expected is None:\n",
        "test_check_padding_rejects_a_pad_length_whose_bytes_do_not_all_match",
    ),
    Mutant(
        "uniform decryption errors",
        "pipeline.py",
        "        except BadRequest:\n            continue\n",
        "        except DecryptionError:\n            continue\n",
        "test_check_padding_answers_are_uniform_so_there_is_no_padding_oracle",
    ),
    Mutant(
        "size limit",
        "pipeline.py",
        "    if len(request.body) > settings.max_body_bytes:\n        raise PayloadTooLarge()\n",
        "",
        "test_check_size_limit_rejects_an_oversized_valid_request",
    ),
    Mutant(
        "method",
        "pipeline.py",
        '    if request.method != "POST":\n        raise MethodNotAllowed()\n',
        "",
        "test_check_method_rejects_a_valid_request_sent_with_get",
    ),
    Mutant(
        "signature scheme",
        "pipeline.py",
        '    if signed.scheme == "card":\n'
        '        raise AuthenticationError("event signed with the wrong scheme")\n',
        "",
        "test_check_scheme_rejects_an_event_signed_like_a_legacy_card",
    ),
]


def _failed_tests(copy: Path) -> set[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "tests/core/test_security_checks.py",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        line.split("::")[1].split()[0]
        for line in result.stdout.splitlines()
        if line.startswith("FAILED ") and "::" in line
    }


def main() -> int:
    """Run every mutant; 0 when each one is caught by its test."""
    survivors = 0
    with tempfile.TemporaryDirectory(prefix="lark-mutants-") as tmp:
        copy = Path(tmp)
        shutil.copytree(ROOT / "lark_events_core", copy / "lark_events_core")
        shutil.copytree(ROOT / "tests", copy / "tests")
        shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
        where = subprocess.run(
            [sys.executable, "-c", "import lark_events_core; print(lark_events_core.__file__)"],
            cwd=copy,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not where.startswith(str(copy)):
            print(f"the copy is not the code under test ({where}); run from the repository root")
            return 1
        if _failed_tests(copy):
            print("the security tests fail without any mutation; fix them first")
            return 1
        for mutant in MUTANTS:
            path = copy / "lark_events_core" / mutant.module
            source = path.read_text()
            if source.count(mutant.old) != 1:
                print(f"{mutant.name:32s} snippet not found exactly once: update it")
                survivors += 1
                continue
            path.write_text(source.replace(mutant.old, mutant.new))
            try:
                failed = _failed_tests(copy)
            finally:
                path.write_text(source)
            caught = mutant.test in failed
            survivors += not caught
            print(f"{mutant.name:32s} {'caught' if caught else 'SURVIVED'} by {mutant.test}")
    print("every mutant caught" if not survivors else f"{survivors} mutant(s) not caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main())
