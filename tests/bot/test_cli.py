"""The ``desk`` command as a user runs it (subprocesses on a temporary SQLite database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DESK = [sys.executable, "-m", "bot.cli"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("cli")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    environ["DESK_DATABASE_URL"] = f"sqlite://{folder / 'desk.sqlite3'}"
    out = run(["init"], environ)
    assert "19 departments created" in out
    assert "0 departments created" in run(["init"], environ)  # idempotent
    return environ


def run(args: list[str], env: dict[str, str], stdin: str = "", ok: bool = True) -> str:
    proc = subprocess.run(
        [*DESK, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc.stdout + (proc.stderr if not ok else "")


def test_route_streams_json_lines(env: dict[str, str]) -> None:
    lines = [
        {"id": "a-1", "text": "出口退税申报后退税款一直没到账，能帮忙查一下吗"},
        {"id": 7, "text": "园区污水处理厂晚上偷排，河里全是泡沫"},
        {"text": "化工厂储罐泄漏了，现场有刺鼻气味，工人已经撤离"},
    ]
    out = run(["route"], env, "\n".join(json.dumps(x, ensure_ascii=False) for x in lines))
    results = [json.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in results] == ["a-1", 7, None]
    assert results[0]["department"] == "TAX"
    assert results[1]["department"] == "ENV" and results[1]["type"] == "举报"
    assert results[2]["urgent"] is True
    for r in results:
        assert 0 <= r["confidence"] <= 1 and isinstance(r["auto"], bool)
        assert r["type"] in {"咨询", "求助", "投诉", "举报", "建议", "表扬"}


def test_route_reports_bad_lines_and_goes_on(env: dict[str, str]) -> None:
    out = run(["route"], env, 'not json\n{"id": 2, "text": "营业执照地址变更怎么办"}\n', ok=False)
    assert "bad input line" in out
    assert '"id": 2' in out and '"department": "MSA"' in out


def test_nlp_eval_prints_figures(env: dict[str, str], tmp_path: Path) -> None:
    fixture = tmp_path / "small.jsonl"
    rows = [
        {
            "text": "增值税专用发票开错了怎么红冲",
            "department": "TAX",
            "alt": [],
            "type": "咨询",
            "urgent": False,
        },
        {
            "text": "工地夜里施工噪声太大睡不着",
            "department": "ENV",
            "alt": ["CNT"],
            "type": "投诉",
            "urgent": False,
        },
    ]
    fixture.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    out = run(["nlp", "eval", str(fixture)], env)
    assert "top-1" in out.lower() or "top1" in out.lower()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "缺少部门"}\n', "utf-8")
    assert "department" in run(["nlp", "eval", str(bad)], env, ok=False)


def test_rules_export_and_calendar(env: dict[str, str]) -> None:
    assert "departments:" in run(["nlp", "rules", "export"], env)
    month = run(["calendar", "show", "2026-10"], env)
    assert "国庆节" in month and "调休" in month
    assert "YYYY-MM" in run(["calendar", "show", "October"], env, ok=False)


def test_calendar_override_and_sla_scan(env: dict[str, str]) -> None:
    out = run(["calendar", "set", "2026-12-07", "off", "台风停工"], env)
    assert "2026-12-07: 休息 台风停工" in out
    assert "7休" in run(["calendar", "show", "2026-12"], env)
    assert "override removed" in run(["calendar", "set", "2026-12-07", "clear"], env)
    assert "7休" not in run(["calendar", "show", "2026-12"], env)
    # Both changes are in the audit log, made by the shell.
    import sqlite3

    path = env["DESK_DATABASE_URL"].removeprefix("sqlite://")
    with sqlite3.connect(path) as conn:
        logged = conn.execute(
            "SELECT actor, action, target FROM audit_entry WHERE action LIKE 'calendar.%' "
            "ORDER BY id"
        ).fetchall()
    assert logged[-2:] == [
        ("shell", "calendar.set", "2026-12-07"),
        ("shell", "calendar.clear", "2026-12-07"),
    ]
    scan = run(["sla", "scan", "--dry-run", "--now", "2027-01-04T09:30+08:00"], env)
    assert "would do 0 step(s)" in scan  # no tickets in this database
    assert "offset" in run(["sla", "scan", "--now", "2027-01-04T09:30"], env, ok=False)


def test_guide_export_import_and_stats(env: dict[str, str], tmp_path: Path) -> None:
    """The service guide from the shell: export, edit, import back (audited), a bad file
    refused with a Chinese message and nothing changed, and the answer-first figures."""
    exported = tmp_path / "guide.yaml"
    assert "办事指南已导出" in run(["guide", "export", str(exported)], env)
    text = exported.read_text(encoding="utf-8")
    assert "sci-hightech-certification" in text
    edited = tmp_path / "edited.yaml"
    edited.write_text(text.replace("高新技术企业认定申请书", "高企认定申请书（新版）"), "utf-8")
    out = run(["guide", "import", str(edited)], env)
    assert "更新 1" in out and "新增 0" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("code,department,name\nx-1,NOPE,某事项\n", encoding="utf-8")
    out = run(["guide", "import", str(bad)], env, ok=False)
    assert "NOPE" in out and "不存在" in out
    assert "更新 0" in run(["guide", "import", str(edited)], env)  # the bad file changed nothing
    out = run(["guide", "stats", "--days", "7"], env)
    assert "近7天：新诉求 0 条" in out
