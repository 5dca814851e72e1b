"""Command line: `decode FILE` prints a saved text block as JSON; `run` polls a reader and posts reads."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import stat
import sys
import threading
from pathlib import Path

from reader_agent.agent import DEFAULT_INTERVAL, MIN_INTERVAL, Agent, Poster
from reader_agent.decode import MalformedBlock, decode_text_block
from reader_agent.transports import (
    PcscTransport,
    ReplayFileError,
    ReplayTransport,
    SerialSamTransport,
)

EXIT_USAGE = 2

log = logging.getLogger("reader_agent")


def _interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if seconds < MIN_INTERVAL:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_INTERVAL} seconds")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reader_agent", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    decode = commands.add_parser("decode", help="print the fields of a saved 256-byte text block as JSON")
    decode.add_argument("file", type=Path)

    run = commands.add_parser("run", help="poll a card reader and post each new card to the server")
    run.add_argument("--server", required=True, help="server base URL, e.g. https://kyc.example.com")
    run.add_argument("--device", required=True, help="device id given at pairing")
    run.add_argument("--secret-file", required=True, type=Path, help="file holding the device secret")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--serial", metavar="PORT", help="SAM reader on a serial port (/dev/ttyUSB0, COM3)")
    source.add_argument(
        "--pcsc", metavar="READER", nargs="?", const="",
        help="PC/SC reader whose name contains READER (default: the first reader)",
    )
    source.add_argument("--replay", metavar="FILE", type=Path, help="replay recorded reads (demos)")
    run.add_argument("--baud", type=int, default=115200, help="serial baud rate (default 115200)")
    run.add_argument("--no-sam", action="store_true", help="PC/SC reader without SAM: chip serial only")
    run.add_argument("--loop", action="store_true", help="with --replay: start over at the end")
    run.add_argument(
        "--interval", type=_interval, default=DEFAULT_INTERVAL,
        help=f"seconds between polls (at least {MIN_INTERVAL}, default {DEFAULT_INTERVAL})",
    )
    run.add_argument("--allow-insecure-http", action="store_true", help="allow http:// to another host")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _fail(chinese: str, english: str) -> int:
    print(f"错误：{chinese}\nerror: {english}", file=sys.stderr)
    return EXIT_USAGE


def decode_command(args) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        return _fail(f"无法读取文件 {args.file}", f"cannot read {args.file}: {exc.strerror or exc}")
    try:
        fields = decode_text_block(data)
    except MalformedBlock as exc:
        return _fail("身份证文字信息格式错误，无法解析", f"malformed text block: {exc.message}")
    print(json.dumps(fields, ensure_ascii=False, indent=2))
    return 0


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="utf-8").strip()
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users; chmod 600 it", path)
    return secret


def _transport(args):
    if args.serial:
        return SerialSamTransport(args.serial, args.baud)
    if args.pcsc is not None:
        return PcscTransport(args.pcsc or None, sam=not args.no_sam)
    return ReplayTransport(args.replay, loop=args.loop)


def run_command(args) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        secret = _read_secret(args.secret_file)
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"无法读取设备密钥文件 {args.secret_file}", f"cannot read secret file: {exc}")
    try:
        poster = Poster(args.server, args.device, secret, allow_insecure_http=args.allow_insecure_http)
        transport = _transport(args)
    except ReplayFileError as exc:
        return _fail("演示回放文件无效", str(exc))
    except ValueError as exc:
        return _fail("参数无效", str(exc))
    agent = Agent(transport, poster, interval=args.interval)
    # A service manager stops us with SIGTERM: finish the poll and close the reader.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    log.info("polling every %.1f s, posting to %s as %s", args.interval, poster.url, args.device)
    try:
        agent.run(should_stop=stop.is_set)
    except KeyboardInterrupt:
        pass
    finally:
        transport.close()
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    # JSON goes to files and pipes as UTF-8 whatever the console's code page;
    # messages must not crash on a console that cannot show Chinese.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
        sys.stderr.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    if args.command == "decode":
        return decode_command(args)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
