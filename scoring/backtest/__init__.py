"""Backtest: does the score predict churn, and which configuration would predict it better?

One module per concept (pure Polars, no I/O):

- observations: who is observed on which date and whether they churned (silence or outside
  labels, customers' observation ends);
- split: the purged time split (train / gap / test) and the inner split of the training dates;
- features: point-in-time features of many settings (window, half-life) from daily counts;
- figures: ROC AUC, ROC points, churn and lift per tier;
- calibration: the candidates, the choice that never suggests worse, scaling and rounding;
- tiers: suggested tier boundaries; evidence: follow-up rules' precision, lift and coverage;
- diagnostics: the warnings; outcome: every table of a backtest.
"""

from scoring.backtest.observations import OBSERVATION_DATE, observation_dates

__all__ = ["OBSERVATION_DATE", "observation_dates"]
