"""The metric panel around the score (SCORING_SPEC.md section 2), one module per concept.

Every module turns events into additive per-customer counts (sums that can be added up over
any group of customers) and offers the expressions that turn such counts into the metric.
A segment's metric is the same expression over the summed counts of its customers, so it
equals the metric of all its customers' events taken together.
"""
