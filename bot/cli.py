"""The ``desk`` command: ``init``, ``run``, ``route``, ``user add`` and more."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from .settings import load_settings


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("tortoise").setLevel(logging.WARNING)


async def _init() -> None:
    from . import db

    settings = load_settings()
    await db.connect(settings.database_url)
    try:
        counts = await db.prepare(settings.database_url)
        from admin.auth import has_admin

        admin_exists = await has_admin()
    finally:
        await db.close()
    print(
        f"数据库已就绪 / database ready ({settings.database_url.split('://')[0]}): "
        f"{counts['created']} departments created, {counts['kept']} kept"
    )
    if not admin_exists:
        from admin.auth import FIRST_ADMIN_HINT

        print(FIRST_ADMIN_HINT)


def _skip_httpx_cli() -> None:
    """Keep httpx's command-line client (click, rich, pygments) out of the worker.

    ``import httpx`` (PTB's HTTP client) imports ``httpx._main`` whenever click is installed,
    which pulls in click, rich and pygments: ~5 MB RSS and ~40 ms of every start-up for a CLI
    the worker never runs. A ``None`` entry in ``sys.modules`` makes that import fail, and
    httpx then defines its fallback ``main`` instead; nothing else changes.
    """
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _run() -> None:
    _skip_httpx_cli()  # before anything imports httpx
    from aiohttp import web

    from .app import create_app

    settings = load_settings()
    _logging(settings.log_level)
    app = create_app(settings)
    print(f"teda-desk on http://{settings.http_host}:{settings.http_port}  (health: /healthz)")
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)


def route_lines(lines: Any, out: Any, router: Any = None) -> int:
    """Route JSON lines (``{"text": …, "id": …}``) to JSON lines; returns the error count."""
    if router is None:
        from nlp import Router

        router = Router.from_default()
    errors = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('each line needs a "text" string')
        except ValueError as exc:
            errors += 1
            out.write(
                json.dumps({"id": None, "error": f"bad input line: {exc}"}, ensure_ascii=False)
                + "\n"
            )
            out.flush()
            continue
        d = router.route(item["text"])
        out.write(
            json.dumps(
                {
                    "id": item.get("id"),
                    "department": d.department,
                    "confidence": round(d.confidence, 4),
                    "type": d.type,
                    "urgent": d.urgent,
                    "auto": d.auto,
                    "candidates": [[c, round(s, 4)] for c, s in d.candidates],
                    "matched_terms": list(d.matched_terms),
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        out.flush()
    return errors


def _live_router() -> Any:
    """The router with the database's rules and model, or the shipped default without one."""
    from pathlib import Path

    from . import db

    settings = load_settings()
    url = settings.database_url
    if url.startswith("sqlite://") and not Path(url.removeprefix("sqlite://")).exists():
        return None

    async def load() -> Any:
        from desk import routing

        await db.connect(url)
        try:
            router, _ = await routing.build_router()
            return router
        finally:
            await db.close()

    try:
        return asyncio.run(load())
    except Exception as exc:  # no schema yet, database down: route with the defaults
        logging.getLogger(__name__).warning("using the default router: %s", exc)
        return None


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise SystemExit(f"{path}:{n}: not JSON: {exc}") from None
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("text"), str)
                or not isinstance(row.get("department"), str)
            ):
                raise SystemExit(f'{path}:{n}: needs "text" and "department"')
            rows.append(row)
    if not rows:
        raise SystemExit(f"{path}: no labelled lines")
    return rows


async def _with_db(fn: Any) -> Any:
    from . import db

    settings = load_settings()
    await db.connect(settings.database_url)
    try:
        await db.prepare(settings.database_url)
        return await fn()
    finally:
        await db.close()


def _nlp(args: argparse.Namespace) -> None:
    import nlp
    from desk import routing

    if args.nlp_command == "eval":
        rows = _read_jsonl(args.file)

        async def run_eval() -> str:
            router, key = await routing.build_router()
            return f"router: {key}\n" + nlp.evaluate(router, rows).format()

        print(asyncio.run(_with_db(run_eval)))
    elif args.nlp_command == "retrain":
        eval_rows = _read_jsonl(args.eval) if args.eval else None

        async def run_retrain() -> routing.RetrainReport:
            return await routing.retrain(eval_rows=eval_rows)

        report = asyncio.run(_with_db(run_retrain))
        print(
            f"trained model {report.version} on {report.examples} examples "
            f"({report.corrections} corrections from triage, transfers and returns); "
            "running processes pick it up within seconds"
        )
        if report.before_text:
            print("\n== before ==\n" + report.before_text)
            print("\n== after ==\n" + report.after_text)
    elif args.nlp_command == "rules":
        import yaml

        if args.action == "export":

            async def export() -> dict[str, Any]:
                return await routing.rules_document()

            print(
                yaml.safe_dump(asyncio.run(_with_db(export)), allow_unicode=True, sort_keys=False)
            )
        else:
            with open(args.file, encoding="utf-8") as fh:
                document = yaml.safe_load(fh)
            if not isinstance(document, dict):
                raise SystemExit(f"{args.file}: a rules document must be a mapping")

            async def replace() -> dict[str, int]:

                from desk import audit
                from desk.db import atomic

                async with atomic():  # the rules and their audit entry, together
                    counts = await routing.replace_rules(document, by="cli")
                    await audit.log(
                        audit.shell(),
                        "rule.import",
                        target=str(args.file)[:128],
                        data=counts,
                    )
                return counts

            try:
                counts = asyncio.run(_with_db(replace))
            except Exception as exc:  # DeskError carries the list of problems
                raise SystemExit(str(exc)) from None
            print(f"rules updated: {counts['changed']} changed, {counts['removed']} removed")


def _sla(args: argparse.Namespace) -> None:
    import datetime as dt

    from desk import escalation
    from desk.worktime import load_calendar

    from .app import desk_config

    now = None
    if args.now:
        try:
            now = dt.datetime.fromisoformat(args.now)
        except ValueError:
            raise SystemExit(f"--now: not an ISO 8601 time: {args.now!r}") from None
        if now.tzinfo is None:
            raise SystemExit("--now needs an offset, e.g. 2027-01-04T09:30+08:00")
    settings = load_settings()

    async def scan() -> list[escalation.Action]:
        cfg = desk_config(settings)
        cfg.calendar = await load_calendar()
        return await escalation.scan(cfg, now=now, dry_run=args.dry_run)

    actions = asyncio.run(_with_db(scan))
    verb = "would do" if args.dry_run else "did"
    print(f"SLA scan at {(now.isoformat() if now else 'now')}: {verb} {len(actions)} step(s)")
    for action in actions:
        print(f"  {action}")
    if actions and not args.dry_run:
        print("messages are queued in the outbox; the running `desk run` delivers them")


def _calendar(args: argparse.Namespace) -> None:
    import datetime as dt

    from desk import worktime

    if args.calendar_command == "set":
        try:
            day = dt.date.fromisoformat(args.day)
        except ValueError:
            raise SystemExit(f"desk calendar set: expected YYYY-MM-DD, got {args.day!r}") from None

        async def change() -> str:
            from desk import audit

            now = dt.datetime.now(dt.UTC)
            if args.kind == "clear":
                removed = await worktime.clear_day(day)
                if removed:
                    await audit.log(audit.shell(now), "calendar.clear", target=f"{day}")
                return f"{day} override removed" if removed else f"{day} had no override"
            await worktime.set_day(day, workday=args.kind == "work", name=args.name, by="cli")
            await audit.log(
                audit.shell(now),
                "calendar.set",
                target=f"{day}",
                data={"workday": args.kind == "work", "name": args.name or ""},
            )
            cal = await worktime.load_calendar()
            info = cal.day_info(day)
            return f"{day}: {'上班' if info.workday else '休息'} {info.name}".rstrip()

        print(asyncio.run(_with_db(change)))
        print("running processes pick up the change within seconds")
        return
    try:
        year, month = worktime.parse_month(args.month)
    except ValueError as exc:
        raise SystemExit(f"desk calendar show: {exc}") from None

    async def show() -> str:
        cal = await worktime.load_calendar()
        return worktime.format_month(cal, year, month)

    print(asyncio.run(_with_db(show)))


def _read_password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise SystemExit("desk user add: no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise SystemExit("desk user add: no terminal to prompt on; use --password-stdin")
    import getpass

    first = getpass.getpass("密码 / password: ")
    if getpass.getpass("再次输入 / repeat: ") != first:
        raise SystemExit("desk user add: the two passwords differ")
    return first


def _user(args: argparse.Namespace) -> None:

    from admin.auth import create_user
    from desk.errors import DeskError

    password = _read_password(args.password_stdin)

    async def add() -> str:
        from desk import audit

        user = await create_user(args.name, password, role=args.role, department_code=args.dept)
        await audit.log(
            audit.shell(),
            "user.create",
            target=user.username,
            data={"role": user.role, "department": user.department_code},
        )
        dept = f", department {user.department_code}" if user.department_code else ""
        return f"admin-web user {user.username} created (role {user.role}{dept})"

    try:
        print(asyncio.run(_with_db(add)))
    except DeskError as exc:
        raise SystemExit(f"desk user add: {exc.message}") from None


def _guide(args: argparse.Namespace) -> None:
    """``desk guide import|export FILE`` (YAML or CSV, by extension), ``desk guide stats``."""
    import datetime as dt

    from desk import audit, guide
    from desk.db import atomic
    from desk.errors import DeskError

    async def run() -> str:
        if args.guide_command == "stats":
            until = dt.datetime.now(dt.UTC)
            s = await guide.answer_stats(since=until - dt.timedelta(days=args.days), until=until)
            return (
                f"近{args.days}天：新诉求 {s.questions} 条，其中办事指南先行答复 {s.answered} 条"
                f"（已解决 {s.solved}，仍需人工 {s.human}，未表态 {s.no_reply}）；"
                f"未生成工单 {s.without_ticket} 条，占 {s.answered_share:.1%}；"
                f"其中{guide.LATER_DAYS}天内仍提交了工单 {s.later_ticket} 条"
                f"（{s.later_share:.1%}）"
            )
        if args.guide_command == "export":
            count = await guide.export_file(path=args.file)
            return f"办事指南已导出 {count} 个事项到 {args.file}"
        async with atomic():  # the items and their audit entry, together
            counts = await guide.import_file(path=args.file)
            await audit.log(
                audit.shell(),
                "guide.import",
                target=str(args.file)[:128],
                data=counts,
            )
        return (
            f"办事指南已导入：新增 {counts['created']}，更新 {counts['updated']}，"
            f"未变 {counts['unchanged']}"
        )

    try:
        print(asyncio.run(_with_db(run)))
    except DeskError as exc:
        raise SystemExit(f"desk guide {args.guide_command}: {exc.message}") from None


def _broadcast(args: argparse.Namespace) -> None:
    """``desk broadcast TOPIC TITLE (--text TEXT | --file FILE)``: queue one broadcast."""
    from pathlib import Path

    from desk import audit, broadcast
    from desk.errors import DeskError

    try:
        text = args.text if args.text is not None else Path(args.file).read_text("utf-8")
    except OSError as exc:
        raise SystemExit(f"desk broadcast: 无法读取 {args.file}：{exc.strerror}") from None

    async def run() -> str:
        sent = await broadcast.send(
            topic=args.topic, title=args.title, text=text, editor=audit.shell()
        )
        return (
            f"已排队：【{broadcast.TOPICS[sent.topic]}】{sent.title}，{sent.recipients} 位联系人"
            "（工单消息优先，按发送限额陆续送达）"
        )

    try:
        print(asyncio.run(_with_db(run)))
    except DeskError as exc:
        raise SystemExit(f"desk broadcast: {exc.message}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="desk", description="teda-desk 企业服务热线工单系统")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or migrate the schema and load default departments")
    sub.add_parser("run", help="run web, Telegram bot, sender and scheduler in one process")
    sub.add_parser("route", help="route JSON lines from stdin (text, id) to JSON lines")
    nlp_parser = sub.add_parser("nlp", help="routing: evaluate, retrain, edit rules")
    nlp_sub = nlp_parser.add_subparsers(dest="nlp_command", required=True)
    p_eval = nlp_sub.add_parser("eval", help="figures for a labelled JSONL (routing_dev format)")
    p_eval.add_argument("file")
    p_re = nlp_sub.add_parser("retrain", help="train from defaults + corrections; activate")
    p_re.add_argument("--eval", help="labelled JSONL to report before/after figures on")
    p_rules = nlp_sub.add_parser("rules", help="export or import the routing rules (YAML)")
    p_rules.add_argument("action", choices=["export", "import"])
    p_rules.add_argument("file", nargs="?", help="YAML file to import")
    cal_parser = sub.add_parser("calendar", help="the working-day calendar")
    cal_sub = cal_parser.add_subparsers(dest="calendar_command", required=True)
    p_show = cal_sub.add_parser("show", help="print a month, e.g. desk calendar show 2026-10")
    p_show.add_argument("month", help="YYYY-MM")
    p_set = cal_sub.add_parser(
        "set", help="override a day: desk calendar set 2027-02-06 work 春节调休"
    )
    p_set.add_argument("day", help="YYYY-MM-DD")
    p_set.add_argument("kind", choices=["work", "off", "clear"])
    p_set.add_argument("name", nargs="?", default="", help="e.g. 春节 or 春节调休")
    sla_parser = sub.add_parser("sla", help="deadlines and escalation")
    sla_sub = sla_parser.add_subparsers(dest="sla_command", required=True)
    p_scan = sla_sub.add_parser("scan", help="run one reminder/escalation pass now")
    p_scan.add_argument("--now", help="ISO 8601 with offset, e.g. 2027-01-04T09:30+08:00")
    p_scan.add_argument("--dry-run", action="store_true", help="print, change nothing")
    user_parser = sub.add_parser("user", help="accounts of the admin web")
    user_sub = user_parser.add_subparsers(dest="user_command", required=True)
    p_user = user_sub.add_parser("add", help="create an account: desk user add NAME --role R")
    p_user.add_argument("name", help="login name (letters, digits, _ . @ -)")
    p_user.add_argument("--role", required=True, choices=["admin", "office", "manager", "staff"])
    p_user.add_argument("--dept", help="department code (required for staff), e.g. TAX")
    p_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    guide_parser = sub.add_parser(
        "guide", help="the service guide (办事指南): import, export, stats"
    )
    guide_sub = guide_parser.add_subparsers(dest="guide_command", required=True)
    for name, text in (("import", "add or update items from"), ("export", "write all items to")):
        guide_sub.add_parser(name, help=f"{text} a YAML or CSV file").add_argument("file")
    guide_sub.add_parser(
        "stats", help="questions answered from the guide without a ticket, and what followed"
    ).add_argument("--days", type=int, default=30, help="the last N days (default 30)")
    p_cast = sub.add_parser(
        "broadcast", help="send a policy interpretation, event or notice to subscribed contacts"
    )
    p_cast.add_argument("topic", choices=["policy", "event", "notice"])
    p_cast.add_argument("title")
    body = p_cast.add_mutually_exclusive_group(required=True)
    body.add_argument("--text", help="the message")
    body.add_argument("--file", help="a UTF-8 text file with the message")
    args = parser.parse_args(argv)
    if args.command == "init":
        _logging("WARNING")
        asyncio.run(_init())
    elif args.command == "run":
        _run()
    elif args.command == "nlp":
        _logging("WARNING")
        if args.nlp_command == "rules" and args.action == "import" and not args.file:
            parser.error("desk nlp rules import needs a FILE")
        _nlp(args)
    elif args.command == "sla":
        _logging("WARNING")
        _sla(args)
    elif args.command == "calendar":
        _logging("WARNING")
        _calendar(args)
    elif args.command == "user":
        _logging("WARNING")
        _user(args)
    elif args.command == "guide":
        _logging("WARNING")
        _guide(args)
    elif args.command == "broadcast":
        _logging("WARNING")
        _broadcast(args)
    elif args.command == "route":
        _logging("WARNING")
        errors = route_lines(sys.stdin, sys.stdout, _live_router())
        if errors:
            print(f"{errors} bad input line(s)", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
