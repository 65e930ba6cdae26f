"""What enterprises type in: credit codes, mobile numbers, names, and how they are masked."""

from __future__ import annotations

import pytest

from desk.errors import InvalidInput
from desk.validators import (
    check_upload,
    clean_name,
    mask_name,
    mask_phone,
    normalize_mobile,
    normalize_uscc,
    uscc_check_char,
)

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
KNOWN_VALID = "91350100M000100Y43"

# 17 characters of real-looking codes (登记管理部门 + 机构类别 + 行政区划 + 主体标识码).
PREFIXES = [
    "91120116MA05XXXXX",  # 天津滨海新区, 企业
    "91120116MA06B1E0P",
    "12100000400000012",  # 事业单位
    "52110000500000012",  # 社会组织
    "91310000MA1FL0000",
    "9144030070846113X",  # check char computed below, position 17 is X
    "0000000000000000A",
]


def _valid(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def test_known_valid_code() -> None:
    assert uscc_check_char(KNOWN_VALID[:17]) == KNOWN_VALID[17]
    assert normalize_uscc(KNOWN_VALID) == KNOWN_VALID


def test_check_char_by_hand() -> None:
    # All zeros: total 0 -> (31 - 0) % 31 = 0 -> "0".
    assert uscc_check_char("0" * 17) == "0"
    # A single 1 in position 1 (weight 1): 31 - 1 = 30 -> "Y".
    assert uscc_check_char("1" + "0" * 16) == "Y"
    # A single 1 in position 2 (weight 3): 31 - 3 = 28 -> "W".
    assert uscc_check_char("01" + "0" * 15) == "W"


@pytest.mark.parametrize("first17", PREFIXES)
def test_generated_codes_validate(first17: str) -> None:
    code = _valid(first17)
    assert len(code) == 18
    assert code[17] in ALPHABET
    assert normalize_uscc(code) == code


@pytest.mark.parametrize("first17", PREFIXES)
def test_every_single_substitution_is_detected(first17: str) -> None:
    code = _valid(first17)
    for pos in range(18):
        for ch in ALPHABET:
            if ch == code[pos]:
                continue
            bad = code[:pos] + ch + code[pos + 1 :]
            with pytest.raises(InvalidInput, match="校验位"):
                normalize_uscc(bad)


@pytest.mark.parametrize(
    "raw",
    [
        KNOWN_VALID.lower(),
        f"  {KNOWN_VALID}  ",
        "9135 0100 M000 100Y 43",
        "913501-00M000-100Y43",
        "91350100m000100y43\n",
        # full-width digits and letters (upper and lower case), ideographic spaces
        "９１３５０１００Ｍ０００１００Ｙ４３",
        "９１３５０１００ｍ０００１００ｙ４３",
        "9135\u30000100M000100Y43",
    ],
)
def test_input_is_normalised(raw: str) -> None:
    assert normalize_uscc(raw) == KNOWN_VALID


@pytest.mark.parametrize("length", [0, 1, 15, 17, 19, 20])
def test_wrong_length(length: int) -> None:
    raw = (KNOWN_VALID * 2)[:length]
    with pytest.raises(InvalidInput) as info:
        normalize_uscc(raw)
    assert "18位" in info.value.message
    assert f"{length}位" in info.value.message


@pytest.mark.parametrize("bad", ["I", "O", "S", "V", "Z", "i", "o", "*", "中"])
def test_bad_characters(bad: str) -> None:
    raw = KNOWN_VALID[:10] + bad + KNOWN_VALID[11:]
    with pytest.raises(InvalidInput) as info:
        normalize_uscc(raw)
    msg = info.value.message
    assert "无效字符" in msg
    assert bad.upper() in msg


def test_wrong_check_digit() -> None:
    wrong = KNOWN_VALID[:17] + ("4" if KNOWN_VALID[17] != "4" else "5")
    with pytest.raises(InvalidInput, match="校验位不正确"):
        normalize_uscc(wrong)


# ---------------------------------------------------------------- mobile numbers


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+8613812345678",
        "+86 138 1234 5678",
        "008613812345678",
        "0086 138-1234-5678",
        "8613812345678",
        "138 1234 5678",
        "138-1234-5678",
        "(138)1234-5678",
        "（138）12345678",
        "１３８１２３４５６７８",
        "＋８６１３８１２３４５６７８",
        "\u3000138 1234 5678\u3000",
        " 13812345678\n",
    ],
)
def test_mobile_normalised(raw: str) -> None:
    assert normalize_mobile(raw) == "13812345678"


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_mobile_prefixes_13_to_19(prefix: str) -> None:
    number = prefix + "012345678"
    assert normalize_mobile(number) == number


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12812345678",  # 12x is not a mobile prefix
        "12012345678",
        "+8612812345678",
        "10012345678",
        "23812345678",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "+86 1381234567",
        "86138123456",  # 86 + 9 digits: not stripped, not a mobile
        "022-25201111",  # a landline
        "1381234567a",
        "一三八一二三四五六七八",
    ],
)
def test_mobile_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_mobile(raw)
    assert "手机号码格式不正确" in info.value.message


def test_mobile_full_width_dashes() -> None:
    assert normalize_mobile("１３８－１２３４－５６７８") == "13812345678"


# ---------------------------------------------------------------- names


def test_clean_name_collapses_whitespace() -> None:
    raw = "  天津泰达   科技\t有限公司 \n"
    assert clean_name(raw, what="企业名称") == "天津泰达 科技 有限公司"


def test_clean_name_rejects_commands() -> None:
    with pytest.raises(InvalidInput, match="不要以 / 开头") as info:
        clean_name("/start", what="企业名称")
    assert "企业名称" in info.value.message


@pytest.mark.parametrize("raw", ["", "   ", "张"])
def test_clean_name_too_short(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        clean_name(raw, what="联系人姓名", min_len=2, max_len=32)
    assert info.value.message == "联系人姓名长度应在2到32个字之间。"


def test_clean_name_bounds_are_inclusive() -> None:
    assert clean_name("张三", what="联系人姓名", min_len=2, max_len=4) == "张三"
    assert clean_name("欧阳娜娜", what="联系人姓名", min_len=2, max_len=4) == "欧阳娜娜"
    with pytest.raises(InvalidInput):
        clean_name("欧阳娜娜娜", what="联系人姓名", min_len=2, max_len=4)


def test_clean_name_default_max() -> None:
    assert clean_name("企" * 64, what="企业名称") == "企" * 64
    with pytest.raises(InvalidInput):
        clean_name("企" * 65, what="企业名称")


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("1381234", "138****1234"),
        ("123456", "****"),
        ("", "****"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_mask_phone_hides_the_middle() -> None:
    masked = mask_phone("13812345678")
    assert "1234" not in masked.replace("5678", "")
    assert len(masked) == 11


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("张三丰", "张**"), ("欧阳娜娜", "欧***"), ("李", "李*"), ("", "")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_uscc_full_width_dashes() -> None:
    assert normalize_uscc("９１３５０１００－Ｍ０００１００－Ｙ４３") == KNOWN_VALID


@pytest.mark.parametrize(
    "file",
    [
        {"kind": "photo", "size": 3_000_000},
        {"kind": "document", "name": "营业执照.PDF", "mime": "application/pdf", "size": 10},
        {"kind": "document", "name": "发票.ofd", "mime": "application/octet-stream"},
        {"kind": "document", "name": "报表.xlsx", "size": 20 * 1024 * 1024},
        {"kind": "document", "name": "材料.zip"},
        {"kind": "document", "name": None, "mime": "image/jpeg"},
        {
            "kind": "document",
            "mime": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        },
    ],
)
def test_uploads_enterprises_send_are_taken(file: dict[str, object]) -> None:
    check_upload(file)


@pytest.mark.parametrize(
    ("file", "words"),
    [
        ({"kind": "document", "name": "setup.exe"}, "（.exe）"),
        ({"kind": "document", "name": "run.BAT", "mime": "application/pdf"}, "（.bat）"),
        ({"kind": "document", "name": "x.apk"}, "不支持的文件类型"),
        ({"kind": "document", "name": "noext", "mime": "application/x-msdownload"}, "不支持"),
        ({"kind": "document", "name": None, "mime": None}, "不支持的文件类型"),
        ({"kind": "document", "name": "a.pdf", "size": 20 * 1024 * 1024 + 1}, "文件过大"),
        ({"kind": "photo", "size": 30 * 1024 * 1024}, "不超过 20 MB"),
    ],
)
def test_other_uploads_are_refused_with_a_reason(file: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_upload(file)
    assert words in err.value.message
