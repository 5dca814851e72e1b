"""`python -m reader_agent` as a staff member runs it: decode files, run against a server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reader_agent.transports import CardRead, replay_record
from tests.reader_agent.conftest import DEVICE_ID, DEVICE_SECRET
from tests.reader_agent.fixtures import PHOTO, foreign_block, hmt_block, resident_block

REPO = Path(__file__).resolve().parents[2]
KEYS = [
    "card_type", "name", "name_en", "sex", "ethnicity", "birth_date", "address",
    "id_number", "authority", "valid_from", "valid_to", "nationality", "pass_number", "issue_count",
]


def agent_cli(*args, timeout=30):
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}  # a console that cannot show Chinese
    return subprocess.run(
        [sys.executable, "-m", "reader_agent", *map(str, args)],
        cwd=REPO, capture_output=True, timeout=timeout, env=env,
    )


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (resident_block(valid_to="长期"), {"card_type": "resident_id", "name": "王小明", "valid_to": "长期", "ethnicity": "汉族"}),
        (hmt_block(), {"card_type": "hmt_residence_permit", "pass_number": "H12345678", "issue_count": 1}),
        (foreign_block(), {"card_type": "foreign_permanent_residence", "name_en": "SMITH, JOHN ANDREW", "nationality": "USA"}),
    ],
    ids=["resident", "hmt-J", "foreign-I"],
)
def test_decode_prints_the_fields_as_json_with_exactly_the_listed_keys(tmp_path, block, expected):
    path = tmp_path / "block.bin"
    path.write_bytes(block)

    result = agent_cli("decode", path)

    assert result.returncode == 0, result.stderr.decode()
    fields = json.loads(result.stdout.decode("utf-8"))
    assert list(fields) == KEYS
    assert fields.items() >= expected.items()
    assert result.stderr == b""


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (resident_block()[:100], "text block must be 256 bytes, got 100"),
        (b"", "text block must be 256 bytes, got 0"),
        (resident_block(birth="19900231"), "birth_date is an impossible date: 19900231"),
        (hmt_block(card_type="Z"), "unknown card type 'Z' at byte 248"),
    ],
)
def test_decode_of_a_malformed_block_exits_2_with_chinese_and_english_error(tmp_path, content, reason):
    path = tmp_path / "block.bin"
    path.write_bytes(content)

    result = agent_cli("decode", path)

    assert result.returncode == 2
    assert result.stdout == b""
    stderr = result.stderr.decode("ascii")
    assert "\\u9519\\u8bef" in stderr  # 错误, escaped on a console that cannot show it
    assert f"error: malformed text block: {reason}" in stderr


def test_decode_of_a_missing_file_exits_2(tmp_path):
    result = agent_cli("decode", tmp_path / "absent.bin")

    assert result.returncode == 2
    assert "error: cannot read" in result.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["decode"], "the following arguments are required: file"),
        (["run", "--server", "http://127.0.0.1:9", "--device", "d", "--secret-file", "s", "--replay", "r", "--interval", "0.1"],
         "must be at least 0.3 seconds"),
        (["run", "--server", "http://127.0.0.1:9", "--device", "d", "--secret-file", "s"],
         "one of the arguments --serial --pcsc --replay is required"),
        (["run", "--server", "http://127.0.0.1:9", "--device", "d", "--secret-file", "s", "--serial", "x", "--replay", "r"],
         "not allowed with argument"),
    ],
)
def test_bad_command_lines_exit_2(args, message):
    result = agent_cli(*args)

    assert result.returncode == 2
    assert message in result.stderr.decode()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "device.secret"
    path.write_text(DEVICE_SECRET + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("server", "replay_content", "message"),
    [
        ("http://kyc.example.com", None, "refusing to send ID-card data over plain HTTP"),
        ("http://127.0.0.1:9", '{"text": "%%%"}\n', "text is not base64"),
    ],
)
def test_run_with_unusable_settings_exits_2(tmp_path, secret_file, server, replay_content, message):
    replay = tmp_path / "demo.jsonl"
    replay.write_text(replay_content or "", encoding="utf-8")

    result = agent_cli("run", "--server", server, "--device", DEVICE_ID, "--secret-file", secret_file, "--replay", replay)

    assert result.returncode == 2
    assert message in result.stderr.decode()


def test_run_replays_a_card_and_the_server_accepts_the_signed_post(tmp_path, secret_file, reads_server):
    replay = tmp_path / "demo.jsonl"
    read = CardRead(text=resident_block(), photo=PHOTO, chip_serial="0011223344556677")
    replay.write_text(json.dumps(replay_record(read, delay=0.0, hold=60.0)) + "\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "reader_agent", "run", "--server", reads_server.url, "--device", DEVICE_ID,
         "--secret-file", str(secret_file), "--replay", str(replay), "--interval", "0.3"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        [accepted] = reads_server.wait_for_accepted(1)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)

    assert accepted["payload"]["fields"]["name"] == "王小明"
    assert accepted["payload"]["chip_serial"] == "0011223344556677"
    assert reads_server.refused == []
    assert "posted read of **************1233" in stderr.decode()
    assert process.returncode == 0  # SIGTERM ends the loop cleanly
    assert "stopped" in stderr.decode()
