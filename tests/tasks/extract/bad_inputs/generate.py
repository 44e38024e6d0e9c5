# ruff: noqa: E501  (one JSON record per line reads best unwrapped)
"""Writes the bad-input corpus next to this file: `python tests/tasks/extract/bad_inputs/generate.py`.

Each file is one kind of malformed input; tests/tasks/extract/test_bad_inputs.py asserts its exact
outcome. The files are committed; this script documents how the binary ones were made.
"""

import gzip
from datetime import date, datetime
from pathlib import Path

import polars as pl

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


if __name__ == "__main__":
    main()
