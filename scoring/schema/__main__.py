"""`python -m scoring.schema` prints the schema tables of the docs (readme_tables)."""

from scoring.schema import readme_tables

print(readme_tables())
