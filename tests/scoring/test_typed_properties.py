"""Optional event properties: typed from text, null when absent or unparseable."""

import polars as pl
import pytest
from pydantic import ValidationError

from scoring.config import MetricsConfig, ScoringConfig
from scoring.events import typed_properties
from scoring.schema import OPTIONAL_EVENT_COLUMNS


def test_text_properties_become_typed_and_missing_ones_null() -> None:
    raw = pl.LazyFrame(
        {
            "event_id": ["1", "2", "3"],
            "value": [" 4.5 ", "not-a-number", ""],
            "page": ["/home", "  ", None],
            "scroll_pct": [10, None, 30],  # already numbers (NDJSON / Parquet)
            "note": ["kept", "as", "is"],
        }
    )
    typed = typed_properties(raw).collect()
    assert {c.name: typed.schema[c.name] for c in OPTIONAL_EVENT_COLUMNS} == {
        c.name: c.dtype for c in OPTIONAL_EVENT_COLUMNS
    }
    assert typed["value"].to_list() == [4.5, None, None]
    assert typed["page"].to_list() == ["/home", None, None]
    assert typed["scroll_pct"].to_list() == [10.0, None, 30.0]
    assert typed["amount"].to_list() == [None, None, None]
    assert typed["note"].to_list() == ["kept", "as", "is"]


def test_only_mistyped_leaves_typed_columns_as_they_are() -> None:
    raw = pl.LazyFrame(
        {
            "value": ["4", " 5 "],  # text (an old event store): still typed
            "page": [" /home ", "/a"],  # already text: left as validation stripped it
            "scroll_pct": [10.0, None],
        }
    )
    typed = typed_properties(raw, only_mistyped=True).collect()
    assert typed["value"].to_list() == [4.0, 5.0]
    assert typed["page"].to_list() == [" /home ", "/a"]
    assert typed["scroll_pct"].to_list() == [10.0, None]
    assert typed["amount"].to_list() == [None, None]  # missing columns are still added
    assert typed_properties(raw).collect()["page"].to_list() == ["/home", "/a"]


def test_metrics_section_is_optional_and_validated() -> None:
    assert ScoringConfig.model_validate({"weights": {"login": 1}}).metric_settings == (
        MetricsConfig()
    )
    configured = ScoringConfig.model_validate(
        {"metrics": {"effort_scale": 5, "segments": ["plan"], "health": {"ticket_penalty": 5}}}
    )
    assert configured.metric_settings.effort_scale == 5
    assert configured.metric_settings.health.ticket_penalty == 5
    with pytest.raises(ValidationError, match="effort_scale"):
        ScoringConfig.model_validate({"metrics": {"effort_scale": 6}})
    with pytest.raises(ValidationError, match="csat_satisfied_min"):
        MetricsConfig(csat_satisfied_min=6)
    with pytest.raises(ValidationError, match=r"health\.segment"):
        ScoringConfig.model_validate(
            {"metrics": {"health": {"segment_weights": {"pro": {"engagement": 1}}}}}
        )
    with pytest.raises(ValidationError, match="Extra inputs"):
        MetricsConfig.model_validate({"nps": "x"})
