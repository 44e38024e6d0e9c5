# ruff: noqa: E501  (one JSON record per line reads best unwrapped)
"""Writes the bad-input corpus next to this file: `python tests/tasks/extract/bad_inputs/generate.py`.

Each file is one kind of malformed input; tests/tasks/extract/test_bad_inputs.py asserts its exact
outcome. The files are committed; this script documents how the binary ones were made.
"""

import gzip
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
HEADER = "event_id,customer_id,event_type,occurred_at"


def csv(name: str, *rows: str, header: str = HEADER) -> None:
    (HERE / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def main() -> None:
    csv(
        "missing_column.csv",
        "mc1,login,2026-03-30T10:00:00Z",
        header="event_id,event_type,occurred_at",
    )
    csv(
        "extra_columns.csv",
        "ex1,c1,login,2026-03-30T10:00:00Z,pro,web",
        "ex2,c2,login,2026-03-30T11:00:00Z,,app",
        header=HEADER + ",plan,channel",
    )
    (HERE / "wrong_types.ndjson").write_text(
        '{"event_id": 17, "customer_id": 42, "event_type": "login", "occurred_at": "2026-03-30T10:00:00Z"}\n'
        '{"event_id": "wt2", "customer_id": "c1", "event_type": "login", "occurred_at": 1774864800}\n'
        '{"event_id": "wt3", "customer_id": "c1", "event_type": "nps_response", "occurred_at": "2026-03-30T10:00:00Z", "value": "high"}\n'
        '{"event_id": "wt4", "customer_id": "c1", "event_type": true, "occurred_at": "2026-03-30T10:00:00Z", "value": 9}\n'
    )
    (HERE / "empty.csv").write_text("")
    csv("header_only.csv")
    (HERE / "bom.csv").write_bytes(
        b"\xef\xbb\xbf" + (HEADER + "\nbom1,c1,login,2026-03-30T10:00:00Z\n").encode()
    )
    csv(
        "mixed_time_zones.csv",
        "tz1,c1,login,2026-03-30T10:00:00+02:00",
        "tz2,c1,login,2026-03-30T10:00:00Z",
        "tz3,c1,login,2026-03-30T10:00:00-05:30",
        "tz4,c1,login,2026-03-30T10:00:00+0200",
    )
    csv("naive_timestamps.csv", "nv1,c1,login,2026-03-30T10:00:00", "nv2,c1,login,2026-03-30 10:00")
    csv(
        "far_future.csv",
        "ff1,c1,login,2099-01-01T00:00:00Z",
        "ff2,c1,login,2026-04-02T05:59:00Z",
        "ff3,c1,login,2026-04-02T06:01:00Z",
    )
    csv(
        "far_past.csv",
        "fp1,c1,login,1900-01-01T00:00:00Z",
        "fp2,c1,login,1970-01-01",
        "fp3,c1,login,2020-01-01",
    )
    csv(
        "nan_inf.csv",
        "ni1,c1,nps_response,2026-03-30T10:00:00Z,NaN",
        "ni2,c1,nps_response,2026-03-30T10:00:00Z,inf",
        "ni3,c1,nps_response,2026-03-30T10:00:00Z,-Infinity",
        "ni4,c1,nps_response,2026-03-30T10:00:00Z,9",
        header=HEADER + ",value",
    )
    csv(
        "duplicate_ids.csv",
        "du1,c1,login,2026-03-30T10:00:00Z",
        "du1,c2,invite_sent,2026-03-29T10:00:00Z",
        "du1,c1,login,2026-03-30T10:00:00Z",
    )
    csv(
        "gigantic_strings.csv",
        f"gs1,{'x' * 100_000},login,2026-03-30T10:00:00Z,",
        f"gs2,c1,login,2026-03-30T10:00:00Z,{'note ' * 20_000}",
        header=HEADER + ",note",
    )
    (HERE / "non_utf8.csv").write_bytes(
        (HEADER + "\nnu1,c1,login,2026-03-30T10:00:00Z\n").encode()
        + b"nu2,caf\xe9,login,2026-03-30T10:00:00Z\n"
    )
    (HERE / "truncated.csv.gz").write_bytes(
        gzip.compress((HEADER + "\ntg1,c1,login,2026-03-30T10:00:00Z\n" * 50).encode(), mtime=0)[
            :60
        ]
    )
    csv(
        "quotes_newlines.csv",
        'qn1,c1,login,2026-03-30T10:00:00Z,"said ""hi"", then left"',
        'qn2,c1,login,2026-03-30T10:00:00Z,"line one\nline two"',
        'qn3,"c,2",login,2026-03-30T10:00:00Z,',
        header=HEADER + ",comment",
    )
    (HERE / "broken_line.ndjson").write_text(
        '{"event_id": "bl1", "customer_id": "c1", "event_type": "login", "occurred_at": "2026-03-30T10:00:00Z"}\n'
        '{"event_id": "bl2", "customer_id": "c1", "event_type": "login", "occurred_at": \n'
        '{"event_id": "bl3", "customer_id": "c1", "event_type": "login", "occurred_at": "2026-03-30T10:00:00Z"}\n'
    )
    pl.DataFrame(
        {
            "event_id": [1, 2],
            "customer_id": [7, 8],
            "event_type": ["login", "login"],
            "occurred_at": [date(2026, 3, 30), date(2026, 3, 31)],
            "score_hint": [0.5, None],
        }
    ).write_parquet(HERE / "other_schema.parquet")
    pl.DataFrame(
        {
            "event_id": ["ps1"],
            "customer_id": ["c1"],
            "event_type": ["login"],
            "ts": [datetime(2026, 3, 30)],
        }
    ).write_parquet(HERE / "missing_time.parquet")
    (HERE / "corrupt.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 10)
    csv(
        "sql_strings.csv",
        "sq1,'; DROP TABLE events; --,login,2026-03-30T10:00:00Z",
        "sq2,c1' OR '1'='1,login,2026-03-30T10:00:00Z",
    )
    csv(
        "path_like_ids.csv",
        "pa1,../../etc/passwd,login,2026-03-30T10:00:00Z",
        "pa2,C:\\Windows\\win.ini,login,2026-03-30T10:00:00Z",
    )
    csv(
        "control_characters.csv",
        "cc1,c\x071,login,2026-03-30T10:00:00Z",
        "cc2,c1,login\x1b[31m,2026-03-30T10:00:00Z",
    )
    csv(
        "blank_ids.csv",
        "bi1,   ,login,2026-03-30T10:00:00Z",
        "  ,c1,login,2026-03-30T10:00:00Z",
        "bi3,c1,\t,2026-03-30T10:00:00Z",
    )
    csv(
        "impossible_dates.csv",
        "id1,c1,login,2026-02-30T10:00:00Z",
        "id2,c1,login,2026-13-01",
        "id3,c1,login,yesterday",
        "id4,c1,login,30/03/2026",
    )
    csv(
        "survey_out_of_range.csv",
        "so1,c1,nps_response,2026-03-30T10:00:00Z,11,",
        "so2,c1,nps_response,2026-03-30T10:00:00Z,-1,",
        "so3,c1,csat_response,2026-03-30T10:00:00Z,0,",
        "so4,c1,csat_response,2026-03-30T10:00:00Z,5,",
        "so5,c1,page_view,2026-03-30T10:00:00Z,,150",
        "so6,c1,nps_response,2026-03-30T10:00:00Z,10,",
        header=HEADER + ",value,scroll_pct",
    )
    csv(
        "unknown_event_types.csv",
        "ue1,c1,teleported,2026-03-30T10:00:00Z",
        "ue2,c1,login,2026-03-30T10:00:00Z",
    )
    csv(
        "ragged_rows.csv",
        "rr1,c1,login,2026-03-30T10:00:00Z",
        "rr2,c1,login,2026-03-30T10:00:00Z,extra",
    )
    csv("short_rows.csv", "sr1,c1,login", "sr2,c1,login,2026-03-30T10:00:00Z")
    (HERE / "nested_property.ndjson").write_text(
        '{"event_id": "np1", "customer_id": "c1", "event_type": "login", "occurred_at": "2026-03-30T10:00:00Z", "context": {"device": "ios", "tags": [1, 2]}}\n'
    )
    (HERE / "nested_id.ndjson").write_text(
        '{"event_id": "ni1", "customer_id": "c1", "event_type": "login", "occurred_at": "2026-03-30T10:00:00Z"}\n'
        '{"event_id": "ni2", "customer_id": {"id": "c1"}, "event_type": "login", "occurred_at": "2026-03-30T10:00:00Z"}\n'
    )
    (HERE / "not_objects.ndjson").write_text('{"event_id": "no1"}\n[1, 2, 3]\n')
    (HERE / "nan_literal.ndjson").write_text(
        '{"event_id": "nl1", "customer_id": "c1", "event_type": "nps_response", "occurred_at": "2026-03-30T10:00:00Z", "value": NaN}\n'
    )
    (HERE / "events.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    csv(
        "repeated_header.csv",
        "rh1,c1,login,2026-03-30T10:00:00Z",
        HEADER,
        "rh2,c1,login,2026-03-30T10:00:00Z",
    )
    csv(
        "numbers_as_text.csv",
        "nt1,007,nps_response,2026-03-30T10:00:00Z, 7 ",
        'nt2,008,nps_response,2026-03-30T10:00:00Z,"7,5"',
        "nt3,009,nps_response,2026-03-30T10:00:00Z,1e1",
        header=HEADER + ",value",
    )

    more_kinds()


def ndjson(name: str, *records: str) -> None:
    (HERE / name).write_text("".join(f"{record}\n" for record in records), encoding="utf-8")


def event(
    event_id: str,
    customer_id: str = '"c1"',
    event_type: str = '"login"',
    at: str = '"2026-03-30T10:00:00Z"',
    extra: str = "",
) -> str:
    """One NDJSON record; every argument is JSON text."""
    return (
        f'{{"event_id": {event_id}, "customer_id": {customer_id}, "event_type": {event_type}, '
        f'"occurred_at": {at}{extra}}}'
    )


def parquet(name: str, **columns: pl.Series | list) -> None:
    base: dict[str, pl.Series | list] = {
        "event_id": [f"{name[:2]}{i}" for i in range(len(next(iter(columns.values()), [1])))],
        "customer_id": ["c1"] * len(next(iter(columns.values()), [1])),
        "event_type": ["login"] * len(next(iter(columns.values()), [1])),
        "occurred_at": [datetime(2026, 3, 30, 10)] * len(next(iter(columns.values()), [1])),
    }
    pl.DataFrame(base | columns).write_parquet(HERE / name)


def more_kinds() -> None:
    """Issue 26's hostile inputs and their neighbours (kinds 37 onwards)."""
    ndjson(
        "numeric_ids.ndjson",
        event("9007199254740993", "1.5"),
        event("9007199254740992", "1.50"),
        event("1e3", "1E3"),
        event("-0", "123456789012345678901234567890"),
        event("0", "-9223372036854775809"),
    )
    ndjson("numbers_and_text_ids.ndjson", event("7"), event("7.0"), event('"7"'))
    csv(
        "year_zero.csv",
        "yz1,c1,login,0000-01-01T00:00:00Z",
        "yz2,c1,login,-0001-06-01",
        "yz3,c1,login,+10000-01-01T00:00:00Z",
        "yz4,c1,login,2026-03-30T10:00:00Z",
    )
    parquet(
        "year_zero.parquet",
        occurred_at=pl.Series(["0000-01-01", "2026-03-30"]).str.to_datetime("%Y-%m-%d"),
    )
    csv(
        "huge_amounts.csv",
        "ha1,c1,purchase,2026-03-30T10:00:00Z,1e30",
        "ha2,c1,purchase,2026-03-30T10:00:00Z,1e308",
        "ha3,c1,purchase,2026-03-30T10:00:00Z,-1e308",
        "ha4,c1,purchase,2026-03-30T10:00:00Z,1e400",
        "ha5,c1,purchase,2026-03-30T10:00:00Z,12.50",
        header=HEADER + ",amount",
    )
    parquet("huge_amounts.parquet", amount=[1e30, float("nan"), float("-inf"), 9.99])
    ndjson(
        "huge_amounts.ndjson",
        event('"hn1"', extra=', "amount": 1e308'),
        event('"hn2"', extra=', "amount": 1e-400'),
        event('"hn3"', extra=', "amount": 1.50'),
    )
    csv(
        "whitespace_ids.csv",
        'ws1,"  ",login,2026-03-30T10:00:00Z',
        '" \t ",c1,login,2026-03-30T10:00:00Z',
        "ws3,c1,\u00a0\u3000,2026-03-30T10:00:00Z",
        "ws4, c1 ,login,2026-03-30T10:00:00Z",
    )
    csv(
        "tabs_newlines_returns.csv",
        'tn1,c1,"log\tin",2026-03-30T10:00:00Z',
        'tn2,"c\n1",login,2026-03-30T10:00:00Z',
        'tn3,c1,"login\r",2026-03-30T10:00:00Z',
        '"tn\r\n4",c1,login,2026-03-30T10:00:00Z',
    )
    csv(
        "c1_controls.csv",
        "c11,c\u00851,login,2026-03-30T10:00:00Z",
        "c12,c1,\u009blogin,2026-03-30T10:00:00Z",
        "c13,c1\u2028,login,2026-03-30T10:00:00Z",
    )
    ndjson(
        "escaped_controls.ndjson",
        event('"ec1"', '"c\\u0000"'),
        event('"ec2"', event_type='"login\\r"'),
        event('"ec3"', event_type='"log\\u2029in"'),
        event('"ec\\t4"'),
    )
    (HERE / "null_bytes.csv").write_bytes(
        (
            HEADER
            + ",note\nnb1,c\x001,login,2026-03-30T10:00:00Z,\nnb2,c1,login,2026-03-30T10:00:00Z,a\x00b\n"
        ).encode()
    )
    (HERE / "semicolons.csv").write_text(HEADER.replace(",", ";") + "\nse1;c1;login;2026-03-30\n")
    (HERE / "tabs.csv").write_text(HEADER.replace(",", "\t") + "\nta1\tc1\tlogin\t2026-03-30\n")
    (HERE / "cr_only.csv").write_bytes(
        (
            HEADER + "\rcr1,c1,login,2026-03-30T10:00:00Z\rcr2,c1,login,2026-03-30T10:00:00Z\r"
        ).encode()
    )
    (HERE / "crlf.csv").write_bytes(
        (
            HEADER
            + "\r\ncl1,c1,login,2026-03-30T10:00:00Z\r\ncl2,c1,login,2026-03-30T10:00:00Z\r\n"
        ).encode()
    )
    (HERE / "bom.ndjson").write_bytes(b"\xef\xbb\xbf" + (event('"bn1"') + "\n").encode())
    (HERE / "utf16.csv").write_bytes((HEADER + "\nu161,c1,login,2026-03-30\n").encode("utf-16"))
    csv(
        "duplicate_headers.csv",
        "dh1,c1,login,2026-03-30T10:00:00Z,dh2",
        header=HEADER + ",event_id",
    )
    (HERE / "duplicate_keys.ndjson").write_text(
        '{"event_id": "dk1", "event_id": "dk2", "customer_id": "c1", "event_type": "login", '
        '"occurred_at": "2026-03-30T10:00:00Z"}\n'
    )
    csv(
        "confusables.csv",
        "uc1,c1,l\u043egin,2026-03-30T10:00:00Z",  # Cyrillic o
        "uc2,\uff43\uff11,login,2026-03-30T10:00:00Z",  # full-width c1
        "uc3,c\u200b1,login,2026-03-30T10:00:00Z",  # zero-width space
        "uc4,c1,\u202enigol,2026-03-30T10:00:00Z",  # right-to-left override
        "uc5,c1,login,2026-03-30T10:00:00Z",
    )
    csv(
        "markup_and_formulas.csv",
        "mf1,=1+1,[/bold],2026-03-30T10:00:00Z",
        "mf2,@SUM(A1),<script>alert(1)</script>,2026-03-30T10:00:00Z",
        "mf3,+cmd|' /C calc'!A0,{{7*7}},2026-03-30T10:00:00Z",
    )
    ndjson(
        "nested_deeply.ndjson",
        event('"nd1"', extra=', "context": ' + "[" * 5000 + "]" * 5000),
    )
    ndjson("nested_event_type.ndjson", event('"ne1"', event_type='["login"]'))
    ndjson(
        "bool_and_null_fields.ndjson",
        event("true", "false"),
        event('"bf2"', "null"),
        event('"bf3"', extra=', "value": true'),
        event('"bf4"', extra=', "value": 1'),
    )
    ndjson(
        "not_ndjson.json",
        "[" + event('"ja1"') + ", " + event('"ja2"') + "]",
    )
    (HERE / "pretty_printed.json").write_text('{\n  "event_id": "pp1",\n  "customer_id": "c1"\n}\n')
    ndjson("trailing_comma.ndjson", '{"event_id": "tc1", "customer_id": "c1",}')
    ndjson("single_quotes.ndjson", "{'event_id': 'sq1'}")
    ndjson("lone_surrogate.ndjson", event('"ls1"', '"\\ud800"'))
    ndjson("empty_lines_only.ndjson", "", "   ", "")
    csv("blank_lines.csv", "", "bl1,c1,login,2026-03-30T10:00:00Z", "")
    csv(
        "unterminated_quote.csv",
        'uq1,"c1,login,2026-03-30T10:00:00Z',
        "uq2,c1,login,2026-03-30T10:00:00Z",
    )
    (HERE / "sep_line.csv").write_text("sep=,\n" + HEADER + "\nsl1,c1,login,2026-03-30\n")
    csv("upper_case_header.csv", "uh1,c1,login,2026-03-30", header=HEADER.upper())
    csv(
        "odd_timestamps.csv",
        "ot1,c1,login,2026-03-30T23:59:60Z",  # leap second
        "ot2,c1,login,1774864800000",  # epoch milliseconds
        "ot3,c1,login,26-03-30",
        "ot4,c1,login,2026-03-30T10:00:00+25:00",
        "ot5,c1,login,2026-W14-1",
        "ot6,c1,login,2026-03-30T10:00:00.123456789Z",
    )
    parquet("categorical_type.parquet", event_type=pl.Series(["login"], dtype=pl.Categorical))
    parquet("binary_id.parquet", customer_id=pl.Series([b"c1"], dtype=pl.Binary))
    parquet("unsigned_ids.parquet", event_id=pl.Series([2**64 - 1], dtype=pl.UInt64))
    parquet(
        "nested_columns.parquet", context=[{"device": "ios"}], tags=[[1, 2]], blob=[b"\xff\x00"]
    )
    offset_time_zone()
    # the job's own column names in the input: they would collide or be overwritten
    csv("reserved_columns.csv", "rc1,c1,login,2026-03-30T10:00:00Z,x", header=f"{HEADER},reason")
    ndjson("reserved_columns.ndjson", event('"rc1"', extra=', "_row": 7, "source_file": "x"'))
    (HERE / "bomb.csv.gz").write_bytes(
        gzip.compress(
            (HEADER + "\n" + "bo1,c1,login,2026-03-30T10:00:00Z\n" * 70_000).encode(), mtime=0
        )
    )
    (HERE / "not_gzip.csv.gz").write_text(HEADER + "\nng1,c1,login,2026-03-30\n")
    (HERE / "two_members.csv.gz").write_bytes(
        gzip.compress((HEADER + "\ntm1,c1,login,2026-03-30T10:00:00Z\n").encode(), mtime=0)
        + gzip.compress(b"tm2,c1,login,2026-03-30T10:00:00Z\n", mtime=0)
    )
    (HERE / "ndjson_gzip.ndjson.gz").write_bytes(
        gzip.compress((event("123456789012345678") + "\n").encode(), mtime=0)
    )


def offset_time_zone() -> None:
    """Timestamps in a fixed-offset zone, as pandas writes them: Arrow allows the zone, Polars
    cannot name it (it panicked reading the file)."""
    at = pa.array([1774864800000, 1774868400000], pa.timestamp("ms", "+05:30"))  # 10:00, 11:00Z
    columns = {"event_id": ["oz1", "oz2"], "customer_id": ["c1", "c2"], "event_type": ["login"] * 2}
    table = pa.table({**columns, "occurred_at": at, "received_at": at})
    pq.write_table(table, HERE / "offset_time_zone.parquet")


if __name__ == "__main__":
    main()
